from __future__ import annotations

from typing import Any

import pytest

from accord.api.errors import APIError
from accord.api.validation import validate


def _error(route: str, body: Any) -> APIError:
    with pytest.raises(APIError) as caught:
        validate(route, body)
    assert caught.value.status == 400
    return caught.value


def test_valid_bodies_pass() -> None:
    validate(
        "chat",
        {
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": 0.2,
        },
    )
    validate("completions", {"model": "m", "prompt": ["a", "b"]})
    validate("embeddings", {"model": "m", "input": "x", "encoding_format": "base64"})
    validate("responses", {"model": "m", "input": [{"role": "user", "content": "x"}]})


@pytest.mark.parametrize(
    ("route", "body", "param"),
    [
        ("chat", {"model": "m"}, "messages"),
        ("chat", {"messages": [{"role": "user", "content": "x"}]}, "model"),
        ("chat", {"model": "m", "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ("chat", {"model": "m", "messages": [{"role": "user"}], "stream": "yes"}, "stream"),
        ("chat", {"model": "m", "messages": [{"role": "user"}], "temperature": 3}, "temperature"),
        ("chat", {"model": "m", "messages": [{"role": "user"}], "max_tokens": 0}, "max_tokens"),
        ("chat", {"model": "m", "messages": [{"role": "user"}], "stream_options": {}}, "stream_options"),
        ("chat", {"model": "m", "messages": [{"role": "user"}], "frobnicate": 1}, "frobnicate"),
        ("completions", {"model": "m", "prompt": [1, 2, 3]}, "prompt"),
        ("embeddings", {"model": "m", "input": "x", "encoding_format": "int8"}, "encoding_format"),
        ("responses", {"model": "m", "input": ""}, "input"),
    ],
)
def test_invalid_bodies_name_the_param(route: str, body: dict[str, Any], param: str) -> None:
    assert _error(route, body).param == param


def test_non_object_body() -> None:
    assert _error("chat", ["not", "an", "object"]).param is None


def _chat(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": list(messages), **extra}


ASSISTANT_CALL = {
    "role": "assistant",
    "content": None,
    "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
}
USER = {"role": "user", "content": "x"}


def test_tool_calls_and_every_inspected_message_field_pass_when_well_formed() -> None:
    validate(
        "chat",
        _chat(
            {"role": "system", "content": "s", "name": "ops"},
            USER,
            ASSISTANT_CALL,
            {"role": "tool", "tool_call_id": "c1", "content": "result"},
            {"role": "assistant", "content": "a", "refusal": None, "reasoning_content": "r"},
            {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}},
            {
                "role": "user",
                "content": [{"type": "text", "text": "t"}, {"type": "file", "file": {"file_data": "d"}}],
            },
            tools=[{"type": "function", "function": {"name": "f"}}],
            response_format={"type": "json_object"},
            prediction={"type": "content", "content": "predicted"},
        ),
    )
    validate("completions", {"model": "m", "prompt": "p", "suffix": "s"})
    validate(
        "responses",
        {"model": "m", "instructions": "i", "input": [{"type": "message", "role": "user", "content": "x"}]},
    )


@pytest.mark.parametrize(
    ("body", "param"),
    [
        # what the acceptance tester sent: each was a 500 (AttributeError in the normaliser)
        (_chat({"role": "assistant", "tool_calls": "x"}, USER), "messages[0].tool_calls"),
        (_chat({"role": "assistant", "tool_calls": [5]}, USER), "messages[0].tool_calls[0]"),
        (
            _chat({"role": "assistant", "tool_calls": [{"function": "x"}]}, USER),
            "messages[0].tool_calls[0].id",
        ),
        (
            _chat({"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": "x"}]}),
            "messages[0].tool_calls[0].function",
        ),
        (
            _chat({"role": "assistant", "tool_calls": [{"id": 1, "type": "function", "function": {}}]}),
            "messages[0].tool_calls[0].id",
        ),
        (
            _chat({"role": "assistant", "tool_calls": [{"id": "c", "type": "custom", "function": {}}]}),
            "messages[0].tool_calls[0].type",
        ),
        (
            _chat(
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f"}}],
                }
            ),
            "messages[0].tool_calls[0].function.arguments",
        ),
        (
            _chat(
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "c", "type": "function", "function": {"name": 5, "arguments": "{}"}}
                    ],
                }
            ),
            "messages[0].tool_calls[0].function.name",
        ),
        (_chat(USER, {"role": "tool", "content": "r"}), "messages[1].tool_call_id"),
        (_chat(USER, {"role": "tool", "tool_call_id": 7, "content": "r"}), "messages[1].tool_call_id"),
        (_chat({"role": ["user"], "content": "x"}), "messages[0].role"),
        (_chat({"role": "user", "content": 5}), "messages[0].content"),
        (_chat({"role": "user", "content": [5]}), "messages[0].content[0]"),
        (
            _chat({"role": "user", "content": [{"type": "text", "text": {"t": "x"}}]}),
            "messages[0].content[0].text",
        ),
        (_chat({"role": "user", "content": [{"type": "file", "file": "x"}]}), "messages[0].content[0].file"),
        (
            _chat({"role": "user", "content": [{"type": "file", "file": {"file_data": 1}}]}),
            "messages[0].content[0].file.file_data",
        ),
        (_chat({"role": "user", "content": "x", "name": 5}), "messages[0].name"),
        (_chat({"role": "assistant", "content": "x", "refusal": ["r"]}), "messages[0].refusal"),
        (
            _chat({"role": "assistant", "content": "x", "reasoning_content": {}}),
            "messages[0].reasoning_content",
        ),
        (_chat({"role": "assistant", "function_call": "f"}), "messages[0].function_call"),
        (
            _chat({"role": "assistant", "function_call": {"name": "f", "arguments": {}}}),
            "messages[0].function_call.arguments",
        ),
        (_chat(USER, tools=["x"]), "tools[0]"),
        (_chat(USER, functions={"name": "f"}), "functions"),
        (_chat(USER, response_format="json"), "response_format"),
        (_chat(USER, prediction={"type": "content", "content": 5}), "prediction.content"),
        ({"model": 5, "messages": [USER]}, "model"),
    ],
)
def test_malformed_messages_are_400_naming_the_field(body: dict[str, Any], param: str) -> None:
    error = _error("chat", body)
    assert error.param == param, error.message
    assert error.code == "invalid_request_error"


def test_a_model_that_is_not_a_string_is_named_as_such() -> None:
    error = _error("chat", {"model": 5, "messages": [USER]})
    assert error.message == "model must be a string."
    assert _error("chat", {"model": "", "messages": [USER]}).message == "You must provide a model parameter."


@pytest.mark.parametrize(
    ("route", "body", "param"),
    [
        ("completions", {"model": "m", "prompt": "p", "suffix": 3}, "suffix"),
        ("responses", {"model": "m", "input": "x", "instructions": ["i"]}, "instructions"),
        ("responses", {"model": "m", "input": [{"role": ["user"], "content": "x"}]}, "input[0].role"),
        ("responses", {"model": "m", "input": [{"content": 5}]}, "input[0].content"),
        (
            "responses",
            {"model": "m", "input": [{"content": [{"type": "input_text", "text": {}}]}]},
            "input[0].content[0].text",
        ),
        ("responses", {"model": "m", "input": [{"type": {}, "content": "x"}]}, "input[0].type"),
        ("responses", {"model": "m", "input": [{"content": "x", "output": 1}]}, "input[0].output"),
    ],
)
def test_other_routes_check_the_inspected_fields(route: str, body: dict[str, Any], param: str) -> None:
    assert _error(route, body).param == param
