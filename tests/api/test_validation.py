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
