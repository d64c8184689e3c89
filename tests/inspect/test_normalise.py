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
