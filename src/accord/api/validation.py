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
    if model is None or model == "":
        raise invalid("You must provide a model parameter.", param="model")
    if not isinstance(model, str):
        raise invalid("model must be a string.", param="model")
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
        _message(f"messages[{i}]", message)
    _objects(body, "tools")
    _objects(body, "functions")
    response_format = body.get("response_format")
    if response_format is not None and not isinstance(response_format, dict):
        raise invalid("response_format must be an object.", param="response_format")
    prediction = body.get("prediction")
    if prediction is not None:
        if not isinstance(prediction, dict):
            raise invalid("prediction must be an object.", param="prediction")
        _content("prediction.content", prediction.get("content"))


def _message(path: str, message: Any) -> None:
    """Every field the inspector reads (`accord.inspect.normalise`) has the type it expects."""
    if not isinstance(message, dict):
        raise invalid(f"{path} must be an object.", param=path)
    role = message.get("role")
    if not isinstance(role, str) or role not in MESSAGE_ROLES:
        raise invalid(f"{path}.role must be one of {sorted(MESSAGE_ROLES)}.", param=f"{path}.role")
    _content(f"{path}.content", message.get("content"))
    for key in ("name", "refusal", "reasoning_content"):
        _string_or_null(message.get(key), f"{path}.{key}")
    tool_calls = message.get("tool_calls")
    if tool_calls is not None:
        if not isinstance(tool_calls, list):
            raise invalid(f"{path}.tool_calls must be an array.", param=f"{path}.tool_calls")
        for j, call in enumerate(tool_calls):
            _tool_call(f"{path}.tool_calls[{j}]", call)
    function_call = message.get("function_call")
    if function_call is not None:
        _function(f"{path}.function_call", function_call)
    tool_call_id = message.get("tool_call_id")
    if role == "tool" and not isinstance(tool_call_id, str):
        raise invalid(f"{path}.tool_call_id must be a string.", param=f"{path}.tool_call_id")
    _string_or_null(tool_call_id, f"{path}.tool_call_id")


def _content(path: str, content: Any) -> None:
    """A string, null, or an array of parts: strings or objects whose text fields are strings."""
    if content is None or isinstance(content, str):
        return
    if not isinstance(content, list):
        raise invalid(f"{path} must be a string or an array.", param=path)
    for k, part in enumerate(content):
        if isinstance(part, str):
            continue
        if not isinstance(part, dict):
            raise invalid(f"{path}[{k}] must be an object.", param=f"{path}[{k}]")
        for key in ("type", "text", "refusal"):
            _string_or_null(part.get(key), f"{path}[{k}].{key}")
        file = part.get("file")
        if file is not None:
            if not isinstance(file, dict):
                raise invalid(f"{path}[{k}].file must be an object.", param=f"{path}[{k}].file")
            _string_or_null(file.get("file_data"), f"{path}[{k}].file.file_data")


def _tool_call(path: str, call: Any) -> None:
    if not isinstance(call, dict):
        raise invalid(f"{path} must be an object.", param=path)
    if not isinstance(call.get("id"), str):
        raise invalid(f"{path}.id must be a string.", param=f"{path}.id")
    if call.get("type") != "function":
        raise invalid(f"{path}.type must be 'function'.", param=f"{path}.type")
    _function(f"{path}.function", call.get("function"))


def _function(path: str, function: Any) -> None:
    if not isinstance(function, dict):
        raise invalid(f"{path} must be an object.", param=path)
    for key in ("name", "arguments"):
        if not isinstance(function.get(key), str):
            raise invalid(f"{path}.{key} must be a string.", param=f"{path}.{key}")


def _string_or_null(value: Any, param: str) -> None:
    if value is not None and not isinstance(value, str):
        raise invalid(f"{param} must be a string.", param=param)


def _objects(body: dict[str, Any], name: str) -> None:
    value = body.get(name)
    if value is None:
        return
    if not isinstance(value, list):
        raise invalid(f"{name} must be an array.", param=name)
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise invalid(f"{name}[{i}] must be an object.", param=f"{name}[{i}]")


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
    _string_or_null(body.get("suffix"), "suffix")


def _embeddings(body: dict[str, Any]) -> None:
    _strings_or_list(body, "input")
    encoding = body.get("encoding_format")
    if encoding is not None and encoding not in ("float", "base64"):
        raise invalid("encoding_format must be 'float' or 'base64'.", param="encoding_format")


def _responses(body: dict[str, Any]) -> None:
    _string_or_null(body.get("instructions"), "instructions")
    value = body.get("input")
    if isinstance(value, str) and value:
        return
    if not isinstance(value, list) or not value:
        raise invalid("'input' must be a string or a non-empty array of input items.", param="input")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise invalid("'input' must be a string or a non-empty array of input items.", param="input")
        for key in ("type", "role", "output", "arguments"):
            _string_or_null(item.get(key), f"input[{i}].{key}")
        _content(f"input[{i}].content", item.get("content"))


_ROUTE_CHECKS = {
    "chat": _chat,
    "completions": _completions,
    "embeddings": _embeddings,
    "responses": _responses,
}
