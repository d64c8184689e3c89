from typing import Any

from accord.inspect.normalise import chunk_text, request_view, response_view


def test_chat_view_covers_every_text_field() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "system", "content": "sys"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "part"},
                    {"type": "image_url", "image_url": {"url": "x"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "lookup", "arguments": '{"q": 1}'}}
                ],
            },
            {"role": "tool", "tool_call_id": "c", "content": "tool result"},
        ],
        "tools": [{"type": "function", "function": {"name": "lookup", "description": "desc"}}],
    }
    view = request_view("chat", body)
    paths = [segment.path for segment in view.segments]
    assert paths == [
        "messages[0].content",
        "messages[1].content[0].text",
        "messages[2].tool_calls[0].function.name",
        "messages[2].tool_calls[0].function.arguments",
        "messages[3].content",
        "tools[0]",
    ]
    assert "desc" in view.joined
    offset = view.joined.index("tool result")
    assert view.locate(offset) == ("messages[3].content", 0)


def test_other_routes_and_responses() -> None:
    assert request_view("completions", {"prompt": ["a", "b"]}).joined == "a\n\nb"
    assert request_view("embeddings", {"input": "e"}).joined == "e"
    responses = request_view(
        "responses",
        {
            "instructions": "be brief",
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "hello"}]}],
        },
    )
    assert responses.joined == "be brief\n\nhello"
    out = response_view("chat", {"choices": [{"index": 0, "message": {"content": "answer"}}]})
    assert out.joined == "answer"
    chunk = {"choices": [{"delta": {"content": "a", "tool_calls": [{"function": {"arguments": '{"x"'}}]}}]}
    assert chunk_text("chat", chunk) == 'a{"x"'
    assert chunk_text("completions", {"choices": [{"text": "t"}]}) == "t"


def test_unexpected_shapes_never_raise_and_their_text_is_still_scanned() -> None:
    """Validation keeps these out of the pipeline; if a gap ever lets one through, the normaliser
    must neither crash (a 500) nor let the text inside pass unscanned."""
    bodies: list[dict[str, Any]] = [
        {"messages": [{"role": "assistant", "tool_calls": "HIDDEN"}, {"role": "user", "content": "x"}]},
        {"messages": [{"role": "assistant", "tool_calls": [5, "HIDDEN"]}]},
        {"messages": [{"role": "assistant", "tool_calls": [{"function": "HIDDEN"}]}]},
        {"messages": [{"role": "assistant", "tool_calls": [{"function": {"arguments": {"q": "HIDDEN"}}}]}]},
        {"messages": [{"role": "user", "content": {"text": "HIDDEN"}}]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": ["HIDDEN"]}]}]},
        {"messages": [{"role": "user", "content": [{"type": "file", "file": "HIDDEN"}]}]},
        {"messages": [{"role": "assistant", "function_call": "HIDDEN"}]},
        {"messages": [{"role": "user", "name": {"HIDDEN": 1}}]},
        {"messages": ["HIDDEN"]},
        {"messages": {"role": "user", "content": "HIDDEN"}},
        {"messages": [], "tools": ["HIDDEN"]},
        {"messages": [], "tools": "HIDDEN"},
        {"messages": [], "response_format": "HIDDEN"},
    ]
    for body in bodies:
        view = request_view("chat", body)
        assert "HIDDEN" in view.joined, body
    deep: object = "HIDDEN"
    for _ in range(5000):  # deeper than Python's recursion limit
        deep = [deep]
    assert "HIDDEN" in request_view("chat", {"messages": [{"role": "user", "content": {"x": deep}}]}).joined
    assert "HIDDEN" in request_view("responses", {"instructions": 5, "input": [7, "HIDDEN"]}).joined
    assert (
        "HIDDEN"
        in request_view("responses", {"input": [{"content": {"t": "HIDDEN"}, "output": ["HIDDEN"]}]}).joined
    )
    assert "HIDDEN" in request_view("completions", {"prompt": [1, {"x": "HIDDEN"}]}).joined
    assert "HIDDEN" in request_view("embeddings", {"input": {"x": "HIDDEN"}}).joined
    assert request_view("chat", {"messages": 5}).joined == ""
    assert request_view("chat", "HIDDEN").joined == "HIDDEN"  # type: ignore[arg-type]


def test_unexpected_response_shapes_never_raise() -> None:
    for payload in (
        {"choices": "HIDDEN"},
        {"choices": ["HIDDEN"]},
        {"choices": [{"message": "HIDDEN"}]},
        {"choices": [{"message": {"tool_calls": [None, {"function": ["HIDDEN"]}]}}]},
        {"choices": [{"message": {"content": {"x": "HIDDEN"}}}]},
        ["HIDDEN"],
    ):
        assert "HIDDEN" in response_view("chat", payload).joined, payload  # type: ignore[arg-type]
    assert response_view("chat", {"choices": None}).joined == ""
    for chunk in (
        {"choices": "HIDDEN"},
        {"choices": ["HIDDEN"]},
        {"choices": [{"delta": "HIDDEN"}]},
        {"choices": [{"delta": {"content": ["HIDDEN"]}}]},
        {"choices": [{"delta": {"tool_calls": "HIDDEN"}}]},
        {"choices": [{"delta": {"tool_calls": ["HIDDEN", {"index": 0}, {"function": "HIDDEN"}]}}]},
        ["HIDDEN"],
    ):
        assert "HIDDEN" in chunk_text("chat", chunk), chunk  # type: ignore[arg-type]
    assert "HIDDEN" in chunk_text("completions", {"choices": [{"text": {"t": "HIDDEN"}}]})
    assert chunk_text("chat", {"choices": [], "usage": {"total_tokens": 3}}) == ""


def test_legacy_functions_predictions_and_suffixes_are_scanned() -> None:
    view = request_view(
        "chat",
        {
            "messages": [{"role": "user", "content": "x"}],
            "functions": [{"name": "lookup", "description": "FUNCTION-DESC"}],
            "prediction": {"type": "content", "content": [{"type": "text", "text": "PREDICTED"}]},
        },
    )
    paths = [segment.path for segment in view.segments]
    assert paths == ["messages[0].content", "functions[0]", "prediction.content[0].text"]
    assert "FUNCTION-DESC" in view.joined and "PREDICTED" in view.joined
    completions = request_view("completions", {"prompt": "start", "suffix": "END-TEXT"})
    assert [segment.path for segment in completions.segments] == ["prompt", "suffix"]
