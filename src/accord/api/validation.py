"""Shape checks on OpenAI request bodies, answering 400 with the offending `param` like OpenAI does."""

from __future__ import annotations

from typing import Any

from accord.api.errors import APIError
from accord.backends.base import CHAT_FIELDS, COMPLETION_FIELDS, EMBEDDING_FIELDS

RESPONSES_FIELDS = frozenset(
    {
        "model",
        "input",
        "instructions",
        "stream",
        "max_output_tokens",
        "temperature",
        "top_p",
        "user",
        "metadata",
        "store",
        "text",
        "truncation",
        "parallel_tool_calls",
        "previous_response_id",
        "tools",
        "tool_choice",
        "reasoning",
        "include",
        "service_tier",
        "background",
        "prompt_cache_key",
        "safety_identifier",
    }
)
KNOWN_FIELDS = {
    "chat": CHAT_FIELDS,
    "completions": COMPLETION_FIELDS,
    "embeddings": EMBEDDING_FIELDS,
    "responses": RESPONSES_FIELDS,
}
MESSAGE_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def invalid(message: str, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(400, message, param=param, code=code or "invalid_request_error")


def validate(route: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    unknown = sorted(set(body) - KNOWN_FIELDS[route])
    if unknown:
        raise invalid(f"Unrecognized request argument supplied: {unknown[0]}", param=unknown[0])
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid("You must provide a model parameter.", param="model")
    _optional(body, "stream", bool)
    _optional(body, "user", str)
    for name in ("max_tokens", "max_completion_tokens", "max_output_tokens", "n", "seed"):
        _optional(body, name, int)
    for name in ("max_tokens", "max_completion_tokens", "max_output_tokens", "n"):
        if isinstance(body.get(name), int) and body[name] < 1:
            raise invalid(f"{name} must be at least 1.", param=name)
    for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise invalid(f"{name} must be a number.", param=name)
    temperature = body.get("temperature")
    if isinstance(temperature, int | float) and not 0 <= temperature <= 2:
        raise invalid("temperature must be between 0 and 2.", param="temperature")
    stream_options = body.get("stream_options")
    if stream_options is not None:
        if not isinstance(stream_options, dict):
            raise invalid("stream_options must be an object.", param="stream_options")
        if not body.get("stream"):
            raise invalid("stream_options is only allowed when stream is true.", param="stream_options")
    _ROUTE_CHECKS[route](body)
    return body


def _optional(body: dict[str, Any], name: str, kind: type) -> None:
    value = body.get(name)
    if value is None:
        return
    if kind is int and isinstance(value, bool):
        raise invalid(f"{name} must be an integer.", param=name)
    if not isinstance(value, kind):
        raise invalid(f"{name} must be of type {kind.__name__}.", param=name)


def _chat(body: dict[str, Any]) -> None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid("messages must be a non-empty array.", param="messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise invalid(f"messages[{i}] must be an object.", param=f"messages[{i}]")
        if message.get("role") not in MESSAGE_ROLES:
            raise invalid(
                f"messages[{i}].role must be one of {sorted(MESSAGE_ROLES)}.", param=f"messages[{i}].role"
            )
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise invalid(f"messages[{i}].content must be a string or an array.", f"messages[{i}].content")
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise invalid("tools must be an array.", param="tools")


def _strings_or_list(body: dict[str, Any], name: str) -> None:
    value = body.get(name)
    if isinstance(value, str):
        return
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return
    if isinstance(value, list) and value and all(isinstance(item, int | list) for item in value):
        raise invalid(f"Token arrays in '{name}' are not supported by Accord; send text.", param=name)
    raise invalid(f"'{name}' must be a string or a non-empty array of strings.", param=name)


def _completions(body: dict[str, Any]) -> None:
    _strings_or_list(body, "prompt")


def _embeddings(body: dict[str, Any]) -> None:
    _strings_or_list(body, "input")
    encoding = body.get("encoding_format")
    if encoding is not None and encoding not in ("float", "base64"):
        raise invalid("encoding_format must be 'float' or 'base64'.", param="encoding_format")


def _responses(body: dict[str, Any]) -> None:
    value = body.get("input")
    if isinstance(value, str) and value:
        return
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        return
    raise invalid("'input' must be a string or a non-empty array of input items.", param="input")


_ROUTE_CHECKS = {
    "chat": _chat,
    "completions": _completions,
    "embeddings": _embeddings,
    "responses": _responses,
}
