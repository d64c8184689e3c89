"""Malformed requests through the real app: every one is a 400 naming the field, never a 500."""

from __future__ import annotations

from pathlib import Path

from tests.inprocess import echo_deployment, inprocess_gateway

USER = {"role": "user", "content": "x"}
MALFORMED = [
    # the acceptance tester's bodies: each was `500 internal_error` (AttributeError in the normaliser)
    ([{"role": "assistant", "tool_calls": "x"}, USER], "messages[0].tool_calls"),
    ([{"role": "assistant", "tool_calls": [5]}, USER], "messages[0].tool_calls[0]"),
    ([{"role": "assistant", "tool_calls": [{"function": "x"}]}, USER], "messages[0].tool_calls[0].id"),
    ([{"role": ["user"], "content": "x"}], "messages[0].role"),
    ([USER, {"role": "tool", "content": "r"}], "messages[1].tool_call_id"),
]


async def test_malformed_chat_bodies_answer_400_not_500(tmp_path: Path) -> None:
    async with inprocess_gateway(tmp_path / "home", echo_deployment) as gateway:
        for messages, param in MALFORMED:
            body = {"model": "fake-chat", "messages": messages}
            answer = await gateway.client.post("/v1/chat/completions", json=body, headers=gateway.auth())
            assert answer.status_code == 400, answer.text
            error = answer.json()["error"]
            assert error["param"] == param and error["type"] == "invalid_request_error", error
        answer = await gateway.client.post(
            "/v1/chat/completions", json={"model": 5, "messages": [USER]}, headers=gateway.auth()
        )
        assert answer.status_code == 400
        assert answer.json()["error"]["param"] == "model"
        assert answer.json()["error"]["message"] == "model must be a string."
        assert gateway.upstream.requests() == []
