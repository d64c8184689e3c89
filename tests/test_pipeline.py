"""The one request path fails closed: when a detector, the policy engine or the ledger fails, the
request is refused with a clear error and nothing of the model's answer is released.

The real app runs in-process (`tests.inprocess`) so each part can be broken from the inside.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import pytest_asyncio

from accord.ledger.log import LedgerUnavailable
from tests.inprocess import InProcessGateway, echo_deployment, inprocess_gateway

pytestmark = pytest.mark.asyncio(loop_scope="module")

# fake-echo answers with the prompt itself, so "the answer was not released" is checkable.
ANSWER = "Pallets for depot four leave on Tuesday."


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def gateway(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[InProcessGateway]:
    async with inprocess_gateway(tmp_path_factory.mktemp("accord-home"), echo_deployment) as gw:
        yield gw


def events(body: bytes) -> list[Any]:
    """The `data:` payloads of a server-sent event stream, `[DONE]` as a string."""
    found: list[Any] = []
    for line in body.splitlines():
        if line.startswith(b"data: "):
            data = line.removeprefix(b"data: ")
            found.append("[DONE]" if data == b"[DONE]" else orjson.loads(data))
    return found


async def test_the_working_path_answers(gateway: InProcessGateway) -> None:
    """The control for the tests below: unbroken, the same request is answered with the echo."""
    answer = await gateway.chat("fake-chat", ANSWER)
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"] == ANSWER
    streamed = await gateway.chat("fake-chat", ANSWER, stream=True)
    assert ANSWER.split()[0] in streamed.text and events(streamed.content)[-1] == "[DONE]"


async def _ledger_down(record: object) -> None:
    raise LedgerUnavailable("the ledger's database is gone")


async def test_a_ledger_failure_withholds_the_answer(
    gateway: InProcessGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway.services.ledger, "append", _ledger_down)
    answer = await gateway.chat("fake-chat", ANSWER)
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "ledger_unavailable"
    assert "Pallets" not in answer.text

    # Streamed: the answer (shorter than the hold-back window) never leaves; the stream ends with
    # the error event instead of [DONE].
    streamed = await gateway.chat("fake-chat", ANSWER, stream=True)
    assert streamed.status_code == 200  # the stream had begun before the end of the answer was known
    assert "Pallets" not in streamed.text
    sent = events(streamed.content)
    assert "[DONE]" not in sent
    assert sent[-1]["error"]["code"] == "ledger_unavailable"


@pytest.mark.parametrize("part", ["intent detector", "marking scanner", "policy engine"])
async def test_a_failing_check_refuses_before_the_model_is_called(
    gateway: InProcessGateway, monkeypatch: pytest.MonkeyPatch, part: str
) -> None:
    def broken(*args: object, **kwargs: object) -> Any:
        raise RuntimeError(f"{part} crashed")

    inspector = gateway.services.inspector
    if part == "intent detector":
        monkeypatch.setattr(inspector.intent, "_fast", broken)
    elif part == "marking scanner":
        monkeypatch.setattr(inspector.scanner, "scan", broken)
    else:
        monkeypatch.setattr(inspector.policy.current, "decide", broken)
    gateway.upstream.reset()
    for stream in (False, True):
        answer = await gateway.chat("fake-chat", ANSWER, stream=stream)
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "inspection_unavailable"
    assert gateway.upstream.requests() == [], "the model was called although a check failed"


async def test_a_faulty_upstream_answer_is_an_error_not_a_short_success(gateway: InProcessGateway) -> None:
    cut = await gateway.chat("fake-truncated", ANSWER, stream=True)
    sent = events(cut.content)
    assert "[DONE]" not in sent and sent[-1]["error"]["code"] == "upstream_error"
    page = await gateway.chat("fake-html", ANSWER)
    assert page.status_code == 502 and page.json()["error"]["code"] == "upstream_error"


async def test_a_tool_call_on_the_responses_route_is_an_error_in_both_modes(
    gateway: InProcessGateway,
) -> None:
    """Tools are refused on /v1/responses, so an upstream tool call must not become text (stream)
    or an empty completed answer (non-stream)."""
    body = {"model": "fake-tools", "input": "Weather in Brussels?"}
    answer = await gateway.client.post("/v1/responses", json=body, headers=gateway.auth())
    assert answer.status_code == 502 and answer.json()["error"]["code"] == "upstream_error"
    streamed = await gateway.client.post(
        "/v1/responses", json={**body, "stream": True}, headers=gateway.auth()
    )
    assert "get_weather" not in streamed.text and "Brussels" not in streamed.text
    sent = events(streamed.content)
    assert sent[-1]["type"] == "error" and not any(
        isinstance(event, dict) and event.get("type") == "response.completed" for event in sent
    )
