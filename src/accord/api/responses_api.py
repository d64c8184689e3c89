"""The Responses API (`POST /v1/responses`), text in and text out, served through chat backends.

Accord translates a Responses request into a chat request so that every backend and every check
serves it unchanged, then renders the Responses object or its typed stream events. Fields that need
server-side state or tools (`previous_response_id`, `tools`, `background`, ...) are refused with a
clear 400 rather than silently ignored.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

from accord.api.validation import invalid
from accord.backends.base import BackendError

UNSUPPORTED = ("tools", "tool_choice", "previous_response_id", "background", "reasoning", "include")
_ROLE_MAP = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


def to_chat(body: dict[str, Any]) -> dict[str, Any]:
    for name in UNSUPPORTED:
        if body.get(name):
            raise invalid(
                f"'{name}' is not supported on /v1/responses by Accord (text in/out only); "
                "use /v1/chat/completions for tools.",
                param=name,
                code="unsupported_parameter",
            )
    if body.get("store"):
        # Accord keeps no conversation state (it would hold content outside the quarantine rules).
        raise invalid(
            "'store' is not supported by Accord: responses are not kept. Send store: false.",
            param="store",
            code="unsupported_parameter",
        )
    if body.get("truncation") not in (None, "disabled"):
        raise invalid(
            "Only truncation 'disabled' is supported by Accord.",
            param="truncation",
            code="unsupported_parameter",
        )
    text_config = body.get("text")
    if isinstance(text_config, dict) and (text_config.get("format") or {}).get("type", "text") != "text":
        raise invalid("Only text output is supported on /v1/responses.", param="text.format")
    messages: list[dict[str, Any]] = []
    if isinstance(body.get("instructions"), str):
        messages.append({"role": "system", "content": body["instructions"]})
    items = body["input"]
    if isinstance(items, str):
        messages.append({"role": "user", "content": items})
    else:
        for i, item in enumerate(items):
            role = _ROLE_MAP.get(item.get("role", "user"))
            if item.get("type", "message") != "message" or role is None:
                raise invalid(f"input[{i}]: only message items are supported.", param=f"input[{i}]")
            messages.append({"role": role, "content": _text_of(item.get("content"), i)})
    chat: dict[str, Any] = {"model": body["model"], "messages": messages}
    for source, target in (
        ("max_output_tokens", "max_tokens"),
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("user", "user"),
    ):
        if body.get(source) is not None:
            chat[target] = body[source]
    if body.get("stream"):
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat


def _text_of(content: Any, index: int) -> str:
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for part in content or []:
        if isinstance(part, dict) and part.get("type") in ("input_text", "output_text", "text"):
            parts.append(str(part.get("text", "")))
        else:
            raise invalid(f"input[{index}]: only text content is supported.", param=f"input[{index}].content")
    return "".join(parts)


def new_ids() -> tuple[str, str]:
    return "resp_" + secrets.token_hex(24), "msg_" + secrets.token_hex(24)


def response_object(
    response_id: str,
    message_id: str,
    model: str,
    text: str,
    *,
    status: str = "completed",
    usage: dict[str, Any] | None = None,
    created_at: int | None = None,
) -> dict[str, Any]:
    output: list[dict[str, Any]] = []
    if status == "completed" or text:
        output.append(
            {
                "type": "message",
                "id": message_id,
                "status": status,
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        )
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at or int(time.time()),
        "status": status,
        "model": model,
        "output": output,
        "output_text": text,
        "usage": _usage(usage) if usage else None,
        "error": None,
        "incomplete_details": None,
    }


def _usage(usage: dict[str, Any]) -> dict[str, Any]:
    prompt = int(usage.get("prompt_tokens", 0))
    completion = int(usage.get("completion_tokens", 0))
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }


def _no_tool_calls(model: str, part: dict[str, Any]) -> None:
    if part.get("tool_calls") or part.get("function_call"):
        # Tools are refused on this route, so a tool call is the upstream going its own way: an
        # error in both modes, rather than arguments shown as text (stream) or an empty answer.
        raise BackendError(f"model {model}: answered with a tool call, which /v1/responses does not carry")


def from_chat(response_id: str, message_id: str, model: str, chat: dict[str, Any]) -> dict[str, Any]:
    choices = chat.get("choices") or [{}]
    message = choices[0].get("message") or {}
    _no_tool_calls(model, message)
    text = message.get("content") or message.get("refusal") or ""
    return response_object(response_id, message_id, model, text, usage=chat.get("usage"))


def chunk_output_text(model: str, chunk: dict[str, Any]) -> str:
    """The answer text a chat stream chunk adds (content and refusals; not reasoning)."""
    parts: list[str] = []
    for choice in chunk.get("choices") or []:
        delta = choice.get("delta") or {}
        _no_tool_calls(model, delta)
        for key in ("content", "refusal"):
            value = delta.get(key)
            if isinstance(value, str):
                parts.append(value)
    return "".join(parts)


class ResponseEvents:
    """Renders the typed stream events of one response, numbering them as OpenAI does."""

    def __init__(self, response_id: str, message_id: str, model: str) -> None:
        self.response_id = response_id
        self.message_id = message_id
        self.model = model
        self.created_at = int(time.time())
        self._sequence = 0
        self._text: list[str] = []

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return event

    def _item(self, status: str) -> dict[str, Any]:
        text = "".join(self._text)
        content = [{"type": "output_text", "text": text, "annotations": []}] if status == "completed" else []
        return {
            "type": "message",
            "id": self.message_id,
            "status": status,
            "role": "assistant",
            "content": content,
        }

    def opening(self) -> Iterator[dict[str, Any]]:
        shell = response_object(
            self.response_id,
            self.message_id,
            self.model,
            "",
            status="in_progress",
            created_at=self.created_at,
        )
        yield self._event("response.created", response=shell)
        yield self._event("response.in_progress", response=shell)
        yield self._event("response.output_item.added", output_index=0, item=self._item("in_progress"))
        yield self._event(
            "response.content_part.added",
            item_id=self.message_id,
            output_index=0,
            content_index=0,
            part={"type": "output_text", "text": "", "annotations": []},
        )

    def delta(self, text: str) -> dict[str, Any]:
        self._text.append(text)
        return self._event(
            "response.output_text.delta",
            item_id=self.message_id,
            output_index=0,
            content_index=0,
            delta=text,
            logprobs=[],
        )

    def closing(self, usage: dict[str, Any] | None) -> Iterator[dict[str, Any]]:
        text = "".join(self._text)
        yield self._event(
            "response.output_text.done",
            item_id=self.message_id,
            output_index=0,
            content_index=0,
            text=text,
            logprobs=[],
        )
        yield self._event(
            "response.content_part.done",
            item_id=self.message_id,
            output_index=0,
            content_index=0,
            part={"type": "output_text", "text": text, "annotations": []},
        )
        yield self._event("response.output_item.done", output_index=0, item=self._item("completed"))
        final = response_object(
            self.response_id, self.message_id, self.model, text, usage=usage, created_at=self.created_at
        )
        yield self._event("response.completed", response=final)

    def error(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """The typed `error` event, carrying the OpenAI error envelope (with `incident_id` and the like).

        The envelope is repeated under "error": the openai SDK raises on an `error` event only when
        the payload has a top-level "error" key.
        """
        return self._event(
            "error",
            code=envelope.get("code"),
            message=envelope.get("message"),
            param=envelope.get("param"),
            error=envelope,
        )
