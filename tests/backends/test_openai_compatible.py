"""The OpenAI-compatible backend on its pooled HTTP/1.1 client, against the fake upstream."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from accord.backends.base import BackendError, UpstreamRejected
from accord.backends.openai_compatible import OpenAICompatibleBackend, _HttpxTransport
from accord.deployment import ModelConfig
from accord.testing.fake_upstream import FakeUpstream

MESSAGES = [{"role": "user", "content": "Confirm the fuel delivery."}]


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream(api_key="upstream-secret", slow_seconds=2.0) as fake:
        yield fake


@pytest.fixture(autouse=True)
def no_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("UPSTREAM_KEY", "upstream-secret")


def backend(base_url: str, **overrides: Any) -> OpenAICompatibleBackend:
    settings: dict[str, Any] = {
        "name": "gateway-name",
        "backend": "openai_compatible",
        "base_url": base_url,
        "api_key_env": "UPSTREAM_KEY",
        "upstream_model": "fake-model",
        **overrides,
    }
    return OpenAICompatibleBackend(ModelConfig(**settings))


async def test_chat_renames_the_model_both_ways(upstream: FakeUpstream) -> None:
    upstream.reset()
    client = backend(upstream.base_url)
    answer = await client.chat({"model": "gateway-name", "messages": MESSAGES})
    await client.aclose()
    assert answer["model"] == "gateway-name"
    assert answer["choices"][0]["message"]["content"] == "This is a fake answer."
    assert [r["model"] for r in upstream.requests()] == ["fake-model"]


async def test_stream_yields_every_chunk_then_stops_at_done(upstream: FakeUpstream) -> None:
    client = backend(upstream.base_url)
    body = {"model": "x", "messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}}
    chunks = [chunk async for chunk in client.chat_stream(body)]
    await client.aclose()
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "This is a fake answer."
    assert chunks[-1]["usage"]["total_tokens"] == 10
    assert {c["model"] for c in chunks} == {"gateway-name"}


async def test_completion_streams_pass_through(upstream: FakeUpstream) -> None:
    client = backend(upstream.base_url)
    chunks = [c async for c in client.completions_stream({"model": "x", "prompt": "Say", "stream": True})]
    await client.aclose()
    assert "".join(c["choices"][0]["text"] for c in chunks) == "This is a fake answer."


@pytest.mark.parametrize(
    ("mode", "stream", "complaint"),
    [
        ("fake-truncated", True, "ended before [DONE]"),
        ("fake-truncated", False, "without a valid"),
        ("fake-badchunk", True, "undecodable stream event"),
        ("fake-not-streaming", True, "without a stream"),
        ("fake-html", False, "without a valid"),
        ("fake-html", True, "without a stream"),
    ],
)
async def test_a_faulty_answer_is_a_502_never_a_silent_success(
    upstream: FakeUpstream, mode: str, stream: bool, complaint: str
) -> None:
    """A stream cut short, an undecodable event, JSON for a stream, an HTML page: the caller must
    not receive them as a complete answer."""
    client = backend(upstream.base_url, upstream_model=mode)
    body = {"model": "x", "messages": MESSAGES, "stream": stream}
    with pytest.raises(BackendError) as failed:
        if stream:
            [chunk async for chunk in client.chat_stream(body)]
        else:
            await client.chat(body)
    await client.aclose()
    assert failed.value.status == 502 and complaint in failed.value.message


async def test_upstream_statuses_map_to_gateway_errors(upstream: FakeUpstream) -> None:
    failing = backend(upstream.base_url, upstream_model="fake-500")
    with pytest.raises(BackendError) as failed:
        await failing.chat({"model": "x", "messages": MESSAGES})
    assert failed.value.status == 502
    rejecting = backend(upstream.base_url, upstream_model="fake-400")
    with pytest.raises(UpstreamRejected) as rejected:
        await rejecting.chat({"model": "x", "messages": MESSAGES})
    assert rejected.value.status == 400
    assert "fake-400" in rejected.value.message
    with pytest.raises(UpstreamRejected):  # a stream's error status arrives before any chunk
        [c async for c in rejecting.chat_stream({"model": "x", "messages": MESSAGES, "stream": True})]
    await failing.aclose()
    await rejecting.aclose()


async def test_a_wrong_credential_is_the_gateways_problem(
    upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPSTREAM_KEY", "wrong")
    client = backend(upstream.base_url)
    with pytest.raises(BackendError) as refused:
        await client.chat({"model": "x", "messages": MESSAGES})
    await client.aclose()
    assert refused.value.status == 502
    assert "credential" in refused.value.message


async def test_a_silent_upstream_is_a_504_stream_or_not(upstream: FakeUpstream) -> None:
    client = backend(upstream.base_url, upstream_model="fake-slow", timeout_seconds=0.3)
    with pytest.raises(BackendError) as slow:
        await client.chat({"model": "x", "messages": MESSAGES})
    assert (slow.value.status, slow.value.code) == (504, "upstream_timeout")
    with pytest.raises(BackendError) as slow_stream:
        [c async for c in client.chat_stream({"model": "x", "messages": MESSAGES, "stream": True})]
    assert (slow_stream.value.status, slow_stream.value.code) == (504, "upstream_timeout")
    await client.aclose()


async def test_an_unreachable_upstream_is_a_502_after_the_retries() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        client = backend(f"http://127.0.0.1:{port}/v1", retries=2)
        with pytest.raises(BackendError) as unreachable:
            await client.chat({"model": "x", "messages": MESSAGES})
        await client.aclose()
    assert unreachable.value.status == 502
    assert "unreachable" in unreachable.value.message


async def test_a_proxy_named_by_the_environment_is_honoured(
    upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fake upstream answers absolute-form requests, so it can stand in for a forward proxy: the
    # model's host does not resolve, so the answer can only have come through the proxy.
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{upstream.port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = backend("http://model-host.invalid/v1")
    assert isinstance(client._transport, _HttpxTransport)
    answer = await client.chat({"model": "x", "messages": MESSAGES})
    chunks = [c async for c in client.chat_stream({"model": "x", "messages": MESSAGES, "stream": True})]
    await client.aclose()
    assert answer["model"] == "gateway-name"
    assert chunks and chunks[-1]["choices"][0]["finish_reason"] == "stop"
