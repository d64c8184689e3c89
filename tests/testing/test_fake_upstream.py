import base64
import struct
from collections.abc import Iterator
from typing import Any, cast

import httpx
import openai
import pytest

from accord.testing.fake_upstream import FakeUpstream


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream(slow_seconds=2.0) as running:
        yield running


def client(upstream: FakeUpstream, key: str = "k") -> openai.OpenAI:
    return openai.OpenAI(base_url=upstream.base_url, api_key=key, max_retries=0)


def test_chat_non_stream(upstream: FakeUpstream) -> None:
    reply = client(upstream).chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "Hi"}]
    )
    assert reply.choices[0].message.content == "This is a fake answer."
    assert reply.usage is not None and reply.usage.total_tokens == 10


def test_chat_stream_with_usage(upstream: FakeUpstream) -> None:
    stream = client(upstream).chat.completions.create(
        model="fake-model",
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "This is a fake answer."
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].usage is not None and chunks[-1].choices == []


def test_tool_call_stream(upstream: FakeUpstream) -> None:
    stream = client(upstream).chat.completions.create(
        model="fake-tools", messages=[{"role": "user", "content": "Weather?"}], stream=True
    )
    calls = [c.choices[0].delta.tool_calls for c in stream if c.choices and c.choices[0].delta.tool_calls]
    functions = [call[0].function for call in calls]
    assert all(function is not None for function in functions)
    assert calls[0][0].id == "call_fake_1" and cast(Any, functions[0]).name == "get_weather"
    arguments = "".join(cast(Any, function).arguments or "" for function in functions)
    assert arguments == '{"location": "Brussels"}'
    assert len(calls) > 2


def test_echo_and_marked(upstream: FakeUpstream) -> None:
    reply = client(upstream).chat.completions.create(
        model="fake-echo", messages=[{"role": "user", "content": "fuel on Tuesday"}]
    )
    assert reply.choices[0].message.content == "fuel on Tuesday"
    stream = client(upstream).chat.completions.create(
        model="fake-marked", messages=[{"role": "user", "content": "x"}], stream=True
    )
    parts = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    assert "NATO SEC" in parts and "RET\n" in parts
    assert "\nNATO SECRET\n" in "".join(parts)


def test_embeddings_float_and_base64(upstream: FakeUpstream) -> None:
    floats = client(upstream).embeddings.create(model="fake-model", input=["a", "b"], encoding_format="float")
    assert len(floats.data) == 2 and len(floats.data[0].embedding) == 8
    raw = httpx.post(
        upstream.base_url + "/embeddings",
        json={"model": "fake-model", "input": "a", "encoding_format": "base64"},
    ).json()
    decoded = struct.unpack("<8f", base64.b64decode(raw["data"][0]["embedding"]))
    assert decoded == pytest.approx(floats.data[0].embedding)
    # The SDK asks for base64 by default and decodes it itself.
    assert client(upstream).embeddings.create(model="fake-model", input="a").data[
        0
    ].embedding == pytest.approx(floats.data[0].embedding)


def test_completions_and_models(upstream: FakeUpstream) -> None:
    reply = client(upstream).completions.create(model="fake-model", prompt="Hi")
    assert reply.choices[0].text == "This is a fake answer."
    assert "fake-tools" in [m.id for m in client(upstream).models.list()]


def test_error_modes(upstream: FakeUpstream) -> None:
    with pytest.raises(openai.InternalServerError):
        client(upstream).chat.completions.create(
            model="fake-500", messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(openai.BadRequestError) as error:
        client(upstream).chat.completions.create(
            model="fake-400", messages=[{"role": "user", "content": "x"}]
        )
    assert cast(dict[str, Any], error.value.body)["message"] == "Invalid request from fake-400."


def test_slow_mode_exceeds_timeout(upstream: FakeUpstream) -> None:
    slow = openai.OpenAI(base_url=upstream.base_url, api_key="k", max_retries=0, timeout=0.5)
    with pytest.raises(openai.APITimeoutError):
        slow.chat.completions.create(model="fake-slow", messages=[{"role": "user", "content": "x"}])


def test_request_log_and_reset(upstream: FakeUpstream) -> None:
    upstream.reset()
    client(upstream).chat.completions.create(
        model="fake-echo", messages=[{"role": "user", "content": "logged"}]
    )
    logged = upstream.requests()
    assert [(r["path"], r["model"]) for r in logged] == [("/v1/chat/completions", "fake-echo")]
    assert logged[0]["body"]["messages"][0]["content"] == "logged"
    over_http = httpx.get(upstream.base_url.removesuffix("/v1") + "/_fake/requests").json()
    assert over_http[0]["model"] == "fake-echo"
    httpx.delete(upstream.base_url.removesuffix("/v1") + "/_fake/requests")
    assert upstream.requests() == []


def test_token_required_when_configured() -> None:
    with FakeUpstream(api_key="secret-token") as guarded:
        with pytest.raises(openai.AuthenticationError):
            client(guarded, "wrong").models.list()
        assert client(guarded, "secret-token").models.list().data
