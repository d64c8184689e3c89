"""Build the canonical text view of a request or a response, per route.

Everything a model reads (or writes) must appear here, or a check could be dodged by putting text
in a field the inspectors never saw: message contents and parts, names, tool definitions, tool
calls and their results, prompts, embedding inputs, Responses-API items and instructions.

Request validation (`accord.api.validation`) guarantees the shapes walked here, but this module
never relies on it: a value of an unexpected type is not skipped silently and never raises; every
string inside it (object keys included) is still scanned, under the path where it was found.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from accord.inspect.text import Segment, TextView


def request_view(route: str, body: dict[str, Any]) -> TextView:
    if not isinstance(body, dict):
        return TextView(tuple(_loose("body", body)))
    if route == "chat":
        return TextView(tuple(_chat_request(body)))
    if route == "completions":
        segments = [*_strings("prompt", body.get("prompt")), *_strings("suffix", body.get("suffix"))]
        return TextView(tuple(segments))
    if route == "embeddings":
        return TextView(tuple(_strings("input", body.get("input"))))
    if route == "responses":
        return TextView(tuple(_responses_request(body)))
    raise ValueError(f"unknown route {route}")


def response_view(route: str, payload: dict[str, Any]) -> TextView:
    if not isinstance(payload, dict):
        return TextView(tuple(_loose("response", payload)))
    segments: list[Segment] = []
    choices = payload.get("choices")
    if choices is not None and not isinstance(choices, list):
        return TextView(tuple(_loose("choices", choices)))
    for position, choice in enumerate(choices or []):
        if not isinstance(choice, dict):
            segments.extend(_loose(f"choices[{position}]", choice))
            continue
        index = choice.get("index", position)
        if route == "completions":
            segments.extend(_strings(f"choices[{index}].text", choice.get("text")))
            continue
        message = choice.get("message") or choice.get("delta") or {}
        segments.extend(_message(f"choices[{index}].message", message))
    return TextView(tuple(segments))


def chunk_text(route: str, chunk: dict[str, Any]) -> str:
    """The text a stream chunk adds, in order: content, refusals and tool-call arguments."""
    if not isinstance(chunk, dict):
        return _loose_text(chunk)
    parts: list[str] = []
    choices = chunk.get("choices")
    if choices is not None and not isinstance(choices, list):
        return _loose_text(choices)
    for choice in choices or []:
        if not isinstance(choice, dict):
            parts.append(_loose_text(choice))
            continue
        if route == "completions":
            parts.append(_loose_text(choice.get("text")))
            continue
        delta = choice.get("delta") or {}
        if not isinstance(delta, dict):
            parts.append(_loose_text(delta))
            continue
        for key in ("content", "refusal", "reasoning_content"):
            parts.append(_loose_text(delta.get(key)))
        tool_calls = delta.get("tool_calls") or []
        if not isinstance(tool_calls, list):
            parts.append(_loose_text(tool_calls))
            continue
        for call in tool_calls:
            function = call.get("function") if isinstance(call, dict) else call
            if not isinstance(function, dict):
                parts.append(_loose_text(function))
                continue
            for key in ("name", "arguments"):
                parts.append(_loose_text(function.get(key)))
    return "".join(parts)


def _chat_request(body: dict[str, Any]) -> Iterator[Segment]:
    messages = body.get("messages")
    if isinstance(messages, list):
        for i, message in enumerate(messages):
            yield from _message(f"messages[{i}]", message)
    else:
        yield from _loose("messages", messages)
    for name in ("tools", "functions"):
        yield from _definitions(name, body.get(name))
    response_format = body.get("response_format")
    if isinstance(response_format, dict):
        if response_format.get("json_schema"):
            yield Segment("response_format", orjson.dumps(response_format).decode())
    else:
        yield from _loose("response_format", response_format)
    prediction = body.get("prediction")  # predicted output: the model reads it as text
    if isinstance(prediction, dict):
        yield from _content("prediction.content", prediction.get("content"))
    else:
        yield from _loose("prediction", prediction)


def _definitions(name: str, value: Any) -> Iterator[Segment]:
    """Tool (or legacy function) definitions, each as its JSON text."""
    if not isinstance(value, list):
        yield from _loose(name, value)
        return
    for i, item in enumerate(value):
        if isinstance(item, dict):
            yield Segment(f"{name}[{i}]", orjson.dumps(item).decode())
        else:
            yield from _loose(f"{name}[{i}]", item)


def _message(path: str, message: Any) -> Iterator[Segment]:
    if not isinstance(message, dict):
        yield from _loose(path, message)
        return
    for key in ("name", "refusal", "reasoning_content"):
        value = message.get(key)
        if isinstance(value, str):
            if value:
                yield Segment(f"{path}.{key}", value)
        elif value is not None:
            yield from _loose(f"{path}.{key}", value)
    content = message.get("content")
    if isinstance(content, str):
        if content:
            yield Segment(f"{path}.content", content)
    else:
        yield from _content(f"{path}.content", content)
    tool_calls = message.get("tool_calls")
    if isinstance(tool_calls, list):
        for j, call in enumerate(tool_calls):
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                for key in ("name", "arguments"):
                    yield from _loose(f"{path}.tool_calls[{j}].function.{key}", function.get(key))
            else:
                yield from _loose(f"{path}.tool_calls[{j}]", call)
    elif tool_calls is not None:
        yield from _loose(f"{path}.tool_calls", tool_calls)
    function_call = message.get("function_call")
    if isinstance(function_call, dict):
        yield from _loose(f"{path}.function_call.arguments", function_call.get("arguments"))
    elif function_call is not None:
        yield from _loose(f"{path}.function_call", function_call)


def _content(path: str, content: Any) -> Iterator[Segment]:
    if not isinstance(content, list):
        yield from _loose(path, content)
        return
    for k, part in enumerate(content):
        if not isinstance(part, dict):
            yield from _loose(f"{path}[{k}]", part)
            continue
        for key in ("text", "refusal"):
            yield from _loose(f"{path}[{k}].{key}", part.get(key))
        file = part.get("file")
        if isinstance(file, dict):
            yield from _loose(f"{path}[{k}].file.file_data", file.get("file_data"))
        else:
            yield from _loose(f"{path}[{k}].file", file)


def _strings(path: str, value: Any) -> Iterator[Segment]:
    """A string or an array of strings (an empty string still counts as a segment of its own)."""
    if isinstance(value, str):
        yield Segment(path, value)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                yield Segment(f"{path}[{i}]", item)
            else:
                yield from _loose(f"{path}[{i}]", item)
    else:
        yield from _loose(path, value)


def _responses_request(body: dict[str, Any]) -> Iterator[Segment]:
    yield from _loose("instructions", body.get("instructions"))
    items = body.get("input")
    if isinstance(items, str):
        yield Segment("input", items)
        return
    if not isinstance(items, list):
        yield from _loose("input", items)
        return
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            yield from _loose(f"input[{i}]", item)
            continue
        yield from _content(f"input[{i}].content", item.get("content"))
        for key in ("output", "arguments"):
            yield from _loose(f"input[{i}].{key}", item.get(key))


def _loose(path: str, value: Any) -> Iterator[Segment]:
    """Every non-empty string in ``value``, whatever its shape: the value itself when it is one
    (the expected case), else the strings and object keys nested in it. Numbers, booleans and
    null hold no text. Iterative, so no nesting depth can make it fail."""
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        here, item = stack.pop()
        if isinstance(item, str):
            if item:
                yield Segment(here, item)
        elif isinstance(item, dict):
            children: list[tuple[str, Any]] = []
            for key, child in item.items():
                children.append((here, str(key)))  # an object key is text a model reads as well
                children.append((f"{here}.{key}", child))
            stack.extend(reversed(children))
        elif isinstance(item, list | tuple):
            stack.extend(reversed([(f"{here}[{i}]", child) for i, child in enumerate(item)]))


def _loose_text(value: Any) -> str:
    if isinstance(value, str):  # the expected case, on the streaming hot path
        return value
    if value is None:
        return ""
    return "".join(segment.text for segment in _loose("", value))
