"""Build the canonical text view of a request or a response, per route.

Everything a model reads (or writes) must appear here, or a check could be dodged by putting text
in a field the inspectors never saw: message contents and parts, names, tool definitions, tool
calls and their results, prompts, embedding inputs, Responses-API items and instructions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from accord.inspect.text import Segment, TextView


def request_view(route: str, body: dict[str, Any]) -> TextView:
    if route == "chat":
        return TextView(tuple(_chat_request(body)))
    if route == "completions":
        return TextView(tuple(_strings("prompt", body.get("prompt"))))
    if route == "embeddings":
        return TextView(tuple(_strings("input", body.get("input"))))
    if route == "responses":
        return TextView(tuple(_responses_request(body)))
    raise ValueError(f"unknown route {route}")


def response_view(route: str, payload: dict[str, Any]) -> TextView:
    segments: list[Segment] = []
    for choice in payload.get("choices") or []:
        index = choice.get("index", 0)
        if route == "completions":
            segments.extend(_strings(f"choices[{index}].text", choice.get("text")))
            continue
        message = choice.get("message") or choice.get("delta") or {}
        segments.extend(_message(f"choices[{index}].message", message))
    return TextView(tuple(segments))


def chunk_text(route: str, chunk: dict[str, Any]) -> str:
    """The text a stream chunk adds, in order: content, refusals and tool-call arguments."""
    parts: list[str] = []
    for choice in chunk.get("choices") or []:
        if route == "completions":
            text = choice.get("text")
            if isinstance(text, str):
                parts.append(text)
            continue
        delta = choice.get("delta") or {}
        for key in ("content", "refusal", "reasoning_content"):
            value = delta.get(key)
            if isinstance(value, str):
                parts.append(value)
        for call in delta.get("tool_calls") or []:
            function = call.get("function") or {}
            for key in ("name", "arguments"):
                value = function.get(key)
                if isinstance(value, str):
                    parts.append(value)
    return "".join(parts)


def _chat_request(body: dict[str, Any]) -> Iterator[Segment]:
    for i, message in enumerate(body.get("messages") or []):
        if isinstance(message, dict):
            yield from _message(f"messages[{i}]", message)
    for i, tool in enumerate(body.get("tools") or []):
        if isinstance(tool, dict):
            yield Segment(f"tools[{i}]", orjson.dumps(tool).decode())
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("json_schema"):
        yield Segment("response_format", orjson.dumps(response_format).decode())


def _message(path: str, message: dict[str, Any]) -> Iterator[Segment]:
    for key in ("name", "refusal", "reasoning_content"):
        value = message.get(key)
        if isinstance(value, str) and value:
            yield Segment(f"{path}.{key}", value)
    yield from _content(f"{path}.content", message.get("content"))
    for j, call in enumerate(message.get("tool_calls") or []):
        function = (call or {}).get("function") or {}
        for key in ("name", "arguments"):
            value = function.get(key)
            if isinstance(value, str) and value:
                yield Segment(f"{path}.tool_calls[{j}].function.{key}", value)
    function_call = message.get("function_call")
    if isinstance(function_call, dict) and isinstance(function_call.get("arguments"), str):
        yield Segment(f"{path}.function_call.arguments", function_call["arguments"])


def _content(path: str, content: Any) -> Iterator[Segment]:
    if isinstance(content, str):
        if content:
            yield Segment(path, content)
        return
    if not isinstance(content, list):
        return
    for k, part in enumerate(content):
        if isinstance(part, str):
            yield Segment(f"{path}[{k}]", part)
        elif isinstance(part, dict):
            for key in ("text", "refusal"):
                value = part.get(key)
                if isinstance(value, str) and value:
                    yield Segment(f"{path}[{k}].{key}", value)
            file = part.get("file")
            if isinstance(file, dict) and isinstance(file.get("file_data"), str):
                yield Segment(f"{path}[{k}].file.file_data", file["file_data"])


def _strings(path: str, value: Any) -> Iterator[Segment]:
    if isinstance(value, str):
        yield Segment(path, value)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                yield Segment(f"{path}[{i}]", item)


def _responses_request(body: dict[str, Any]) -> Iterator[Segment]:
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        yield Segment("instructions", instructions)
    items = body.get("input")
    if isinstance(items, str):
        yield Segment("input", items)
        return
    for i, item in enumerate(items or []):
        if not isinstance(item, dict):
            continue
        yield from _content(f"input[{i}].content", item.get("content"))
        for key in ("output", "arguments"):
            value = item.get(key)
            if isinstance(value, str) and value:
                yield Segment(f"input[{i}].{key}", value)
