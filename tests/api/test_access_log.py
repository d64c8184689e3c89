"""The access log: one JSON line per HTTP request, written once the answer is sent, without content.

The real app (`create_app`, wired from a deployment file on SQLite) runs in-process in front of the
fake upstream; every log line any logger writes is captured through the gateway's `JSONFormatter`.
"""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accord.api.middleware import RequestIdMiddleware
from accord.logs import JSONFormatter
from tests.inprocess import InProcessGateway, echo_deployment, inprocess_gateway

pytestmark = pytest.mark.asyncio(loop_scope="module")  # one gateway start for the whole module

PLAIN = "Draft a two-line note confirming Tuesday's fuel delivery to the Lyon depot."


class Lines:
    """Every log line, formatted as the gateway formats it."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(JSONFormatter())

    def text(self) -> str:
        return self.stream.getvalue()

    def access(self) -> list[dict[str, Any]]:
        entries = [orjson.loads(line) for line in self.text().splitlines()]
        return [entry for entry in entries if entry["logger"] == "accord.access"]

    def only(self, request_id: str) -> dict[str, Any]:
        found = [entry for entry in self.access() if entry["request_id"] == request_id]
        assert len(found) == 1, found
        return found[0]


@pytest.fixture
def lines() -> Iterator[Lines]:
    root = logging.getLogger()
    captured, level = Lines(), root.level
    root.addHandler(captured.handler)
    root.setLevel(logging.DEBUG)  # everything any logger says, not just the access log
    try:
        yield captured
    finally:
        root.removeHandler(captured.handler)
        root.setLevel(level)


class WatchEnd:
    """Wraps the app to count the access-log lines written by the time the last body part is sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.lines = Lines()
        self.at_last_body: list[int] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def watched(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                self.at_last_body.append(len(self.lines.access()))
            await send(message)

        await self.app(scope, receive, watched)


@dataclass
class Gateway:
    inner: InProcessGateway
    app: WatchEnd

    @property
    def client(self) -> httpx.AsyncClient:
        return self.inner.client

    @property
    def key(self) -> str:
        return self.inner.key

    @property
    def principal_id(self) -> str:
        return self.inner.principal_id

    def auth(self) -> dict[str, str]:
        return self.inner.auth()

    async def chat(self, model: str, text: str, **extra: Any) -> httpx.Response:
        return await self.inner.chat(model, text, **extra)


@asynccontextmanager
async def gateway(home: Path, *, access_log: bool = True) -> AsyncIterator[Gateway]:
    watched: list[WatchEnd] = []

    def wrap(app: ASGIApp) -> ASGIApp:
        watched.append(WatchEnd(app))
        return watched[0]

    async with inprocess_gateway(
        home, lambda url: echo_deployment(url, access_log=access_log), wrap
    ) as inner:
        yield Gateway(inner, watched[0])


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Gateway]:
    async with gateway(tmp_path_factory.mktemp("accord-home")) as gw:
        yield gw


@pytest.fixture
def gw(shared: Gateway, lines: Lines) -> Gateway:
    shared.app.lines = lines
    shared.app.at_last_body.clear()
    return shared


async def test_a_successful_request_logs_status_principal_model_and_duration(
    gw: Gateway, lines: Lines
) -> None:
    answer = await gw.chat("fake-chat", PLAIN)
    assert answer.status_code == 200, answer.text
    entry = lines.only(answer.headers["x-request-id"])
    assert entry["message"] == "request" and entry["level"] == "info"
    assert entry["method"] == "POST" and entry["path"] == "/v1/chat/completions"
    assert entry["status"] == 200
    assert entry["principal"] == gw.principal_id
    assert entry["model"] == "fake-chat"
    assert isinstance(entry["duration_ms"], float) and entry["duration_ms"] > 0
    assert entry["client"] == "10.1.2.3"
    assert "code" not in entry and "stream" not in entry


async def test_an_unknown_model_logs_404_and_its_code(gw: Gateway, lines: Lines) -> None:
    answer = await gw.client.post(
        "/v1/chat/completions?trace=1",
        json={"model": "no-such-model", "messages": [{"role": "user", "content": PLAIN}]},
        headers=gw.auth(),
    )
    unauthenticated = await gw.client.get("/v1/models")
    assert answer.status_code == 404
    entry = lines.only(answer.headers["x-request-id"])
    assert entry["status"] == 404 and entry["code"] == "model_not_found"
    assert entry["path"] == "/v1/chat/completions"  # no query string
    assert entry["principal"] == gw.principal_id
    assert "model" not in entry  # only a configured model's name is logged, never a caller's string
    refused = lines.only(unauthenticated.headers["x-request-id"])
    assert refused["status"] == 401 and refused["code"] == "invalid_api_key"
    assert "principal" not in refused
    forbidden = await gw.chat("fake-deu", PLAIN)
    assert forbidden.status_code == 403
    entry = lines.only(forbidden.headers["x-request-id"])
    assert entry["code"] == "model_not_permitted" and entry["model"] == "fake-deu"


async def test_logs_carry_neither_prompts_completions_nor_keys(gw: Gateway, lines: Lines) -> None:
    canary = "Zephyrquill4417"
    echoed = await gw.chat("fake-chat", f"{canary}: route the fuel convoy via the northern depot.")
    streamed = await gw.chat("fake-chat", f"Stream this {canary} back.", stream=True)
    unknown = await gw.chat(f"model-{canary}", PLAIN)
    spilled = await gw.chat("fake-chat", f"NATO SECRET\n{canary} convoy leaves at 06:00.")
    wrong_key = await gw.client.get("/v1/models", headers={"authorization": f"Bearer acc_{canary}"})
    assert canary in echoed.text and canary in streamed.text  # the echo model answers with the prompt
    assert unknown.status_code == 404 and wrong_key.status_code == 401
    assert spilled.status_code == 403
    assert spilled.json()["error"]["code"] == "classification_exceeds_ceiling"
    assert lines.only(spilled.headers["x-request-id"])["code"] == "classification_exceeds_ceiling"
    assert len(lines.access()) == 5
    text = lines.text()
    assert canary not in text
    assert gw.key not in text
    secret = gw.key.rsplit("_", 1)[-1]
    assert secret not in text


async def test_a_stream_is_logged_once_after_its_last_chunk(gw: Gateway, lines: Lines) -> None:
    answer = await gw.chat("fake-plain", PLAIN, stream=True)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert answer.text.endswith("data: [DONE]\n\n")
    assert gw.app.at_last_body == [0]  # nothing logged yet when the last part went out...
    entry = lines.only(answer.headers["x-request-id"])  # ...and exactly one line after it
    assert entry["status"] == 200 and entry["stream"] is True
    assert entry["model"] == "fake-plain" and entry["principal"] == gw.principal_id
    assert entry["duration_ms"] > 0


async def test_the_access_log_can_be_switched_off(tmp_path: Path, lines: Lines) -> None:
    async with gateway(tmp_path, access_log=False) as gw:
        gw.app.lines = lines
        answers = [
            await gw.chat("fake-chat", PLAIN),
            await gw.chat("fake-plain", PLAIN, stream=True),
            await gw.chat("no-such-model", PLAIN),
        ]
    assert [answer.status_code for answer in answers] == [200, 200, 404]
    assert all(answer.headers["x-request-id"].startswith("req_") for answer in answers)
    assert lines.access() == []


async def test_an_unhandled_error_logs_500_with_its_frames_but_not_its_message(lines: Lines) -> None:
    canary = "Bramblefog9032"

    async def boom(request: Request) -> Response:
        raise RuntimeError(f"failed on {canary}")

    app = Starlette(routes=[Route("/boom", boom)])
    app.add_middleware(RequestIdMiddleware)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://accord.test") as client:
        answer = await client.get("/boom")
    assert answer.status_code == 500 and answer.json()["error"]["code"] == "internal_error"
    entry = lines.only(answer.headers["x-request-id"])
    assert entry["status"] == 500 and entry["code"] == "internal_error" and entry["path"] == "/boom"
    (failure,) = [orjson.loads(line) for line in lines.text().splitlines() if "unhandled" in line]
    assert failure["error"] == "RuntimeError"
    assert failure["stack"][-1].startswith("tests/api/test_access_log.py:")
    assert failure["stack"][-1].endswith(" in boom")
    assert any(frame.startswith("starlette/") for frame in failure["stack"])
    assert canary not in lines.text()
