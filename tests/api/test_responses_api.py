import pytest

from accord.api import responses_api
from accord.api.errors import APIError


def test_request_translates_to_chat() -> None:
    chat = responses_api.to_chat(
        {"model": "m", "instructions": "brief", "input": "hi", "max_output_tokens": 5, "stream": True}
    )
    assert chat["messages"] == [{"role": "system", "content": "brief"}, {"role": "user", "content": "hi"}]
    assert chat["max_tokens"] == 5 and chat["stream_options"] == {"include_usage": True}


def test_unsupported_fields_are_refused_not_dropped() -> None:
    with pytest.raises(APIError) as caught:
        responses_api.to_chat({"model": "m", "input": "x", "tools": [{"type": "web_search"}]})
    assert caught.value.status == 400 and caught.value.param == "tools"


@pytest.mark.parametrize(("field", "value"), [("store", True), ("truncation", "auto")])
def test_state_accord_does_not_keep_is_refused(field: str, value: object) -> None:
    with pytest.raises(APIError) as caught:
        responses_api.to_chat({"model": "m", "input": "x", field: value})
    assert caught.value.status == 400 and caught.value.param == field
    assert caught.value.code == "unsupported_parameter"
    responses_api.to_chat({"model": "m", "input": "x", "store": False, "truncation": "disabled"})


def test_stream_events_are_numbered_and_complete() -> None:
    events = responses_api.ResponseEvents("resp_1", "msg_1", "m")
    emitted = [
        *events.opening(),
        events.delta("Hel"),
        events.delta("lo"),
        *events.closing({"prompt_tokens": 3, "completion_tokens": 2}),
    ]
    assert [event["sequence_number"] for event in emitted] == list(range(len(emitted)))
    assert emitted[0]["type"] == "response.created"
    final = emitted[-1]
    assert final["type"] == "response.completed"
    assert final["response"]["output_text"] == "Hello"
    assert final["response"]["usage"]["total_tokens"] == 5
