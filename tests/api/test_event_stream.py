"""The pipeline's streaming response: a client that leaves stops the relay and runs its clean-up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.types import Message

from accord.pipeline import EventStream


class Relay:
    """A body iterator that records how it ended, as the pipeline's relay records the ledger outcome."""

    def __init__(self, chunks: int, stall_after: int | None = None) -> None:
        self.chunks = chunks
        self.stall_after = stall_after
        self.ended: str | None = None

    async def frames(self) -> AsyncIterator[bytes]:
        outcome = "client_disconnected"
        try:
            for index in range(self.chunks):
                if index == self.stall_after:
                    await asyncio.sleep(30)  # an upstream that has gone quiet
                yield b"data: %d\n\n" % index
            outcome = "answered"
        finally:
            await asyncio.sleep(0)  # the clean-up may await (the ledger write does)
            self.ended = outcome


class Client:
    """An ASGI peer: receive() reports a disconnect when `leave` is set (or once the answer is whole)."""

    def __init__(self, leave_after_bodies: int | None) -> None:
        self.sent: list[Message] = []
        self.leave_after_bodies = leave_after_bodies
        self.changed = asyncio.Event()

    async def receive(self) -> Message:
        while True:
            bodies = sum(1 for m in self.sent if m["type"] == "http.response.body")
            complete = any(m["type"] == "http.response.body" and not m.get("more_body") for m in self.sent)
            if complete or (self.leave_after_bodies is not None and bodies >= self.leave_after_bodies):
                return {"type": "http.disconnect"}
            self.changed.clear()
            await self.changed.wait()

    async def send(self, message: Message) -> None:
        self.sent.append(message)
        self.changed.set()
        await asyncio.sleep(0)


async def test_a_whole_stream_is_sent_and_ends_answered() -> None:
    relay, client = Relay(chunks=5), Client(leave_after_bodies=None)
    await EventStream(relay.frames(), media_type="text/event-stream")(
        {"type": "http"}, client.receive, client.send
    )
    bodies = [m["body"] for m in client.sent if m["type"] == "http.response.body"]
    assert b"".join(bodies) == b"".join(b"data: %d\n\n" % i for i in range(5))
    assert client.sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert relay.ended == "answered"


async def test_a_client_that_leaves_mid_stream_cancels_the_relay_without_an_error() -> None:
    relay, client = Relay(chunks=5, stall_after=2), Client(leave_after_bodies=2)
    response = EventStream(relay.frames(), media_type="text/event-stream")
    await asyncio.wait_for(response({"type": "http"}, client.receive, client.send), timeout=5)
    assert relay.ended == "client_disconnected"
    assert not any(m["type"] == "http.response.body" and not m.get("more_body") for m in client.sent)


async def test_an_outside_cancellation_still_propagates() -> None:
    relay, client = Relay(chunks=5, stall_after=1), Client(leave_after_bodies=None)
    task = asyncio.create_task(
        EventStream(relay.frames(), media_type="text/event-stream")(
            {"type": "http"}, client.receive, client.send
        )
    )
    await asyncio.sleep(0.05)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    else:
        raise AssertionError("a server shutting down must see its cancellation through")
    assert relay.ended == "client_disconnected"
