"""The official openai client against a live gateway: what real clients depend on."""

from __future__ import annotations

import base64

import httpx
import numpy as np
import openai
import pytest
from openai import OpenAI

from tests.conftest import LiveGateway

pytestmark = pytest.mark.slow

ADMIN_TEXT = "Draft a two-line note confirming Tuesday's fuel delivery to the Lyon depot."


def client(gateway: LiveGateway, key: str = "user") -> OpenAI:
    return OpenAI(base_url=gateway.base_url, api_key=gateway.keys.get(key, key), max_retries=0, timeout=60)


def test_models_lists_only_what_the_caller_may_use(live_gateway: LiveGateway) -> None:
    usa = {model.id for model in client(live_gateway).models.list()}
    deu = {model.id for model in client(live_gateway, "deu_user").models.list()}
    assert "smollm2-135m-instruct" in usa and "use-multilingual-v3" in usa
    assert "deu-only" not in usa and "deu-only" in deu


def test_chat_on_the_local_model_non_stream_and_stream(live_gateway: LiveGateway) -> None:
    api = client(live_gateway)
    completion = api.chat.completions.create(
        model="smollm2-135m-instruct", messages=[{"role": "user", "content": ADMIN_TEXT}], max_tokens=12
    )
    assert completion.choices[0].message.content
    assert completion.usage is not None and completion.usage.completion_tokens > 0
    stream = api.chat.completions.create(
        model="smollm2-135m-instruct",
        messages=[{"role": "user", "content": ADMIN_TEXT}],
        max_tokens=12,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text.strip()
    assert chunks[-1].usage is not None and not chunks[-1].choices


def test_embeddings_with_the_clients_default_base64(live_gateway: LiveGateway) -> None:
    api = client(live_gateway)
    result = api.embeddings.create(
        model="use-multilingual-v3", input=["fuel delivery", "Treibstofflieferung"]
    )
    vectors = [np.asarray(item.embedding) for item in result.data]
    assert all(vector.shape == (512,) for vector in vectors)
    assert float(vectors[0] @ vectors[1]) > 0.5
    raw = httpx.post(
        f"{live_gateway.base_url}/embeddings",
        headers={"authorization": f"Bearer {live_gateway.keys['user']}"},
        json={"model": "use-multilingual-v3", "input": "fuel", "encoding_format": "base64"},
    ).json()
    decoded = np.frombuffer(base64.b64decode(raw["data"][0]["embedding"]), dtype="<f4")
    assert decoded.shape == (512,)


def test_error_classes_the_sdk_raises(live_gateway: LiveGateway) -> None:
    messages = [{"role": "user", "content": ADMIN_TEXT}]
    with pytest.raises(openai.AuthenticationError):
        client(live_gateway, "acc_keydeadbeef00000000_nope").models.list()
    with pytest.raises(openai.PermissionDeniedError) as denied:
        client(live_gateway).chat.completions.create(model="deu-only", messages=messages)  # type: ignore[arg-type]
    assert denied.value.code == "model_not_permitted"
    with pytest.raises(openai.NotFoundError):
        client(live_gateway).chat.completions.create(model="no-such-model", messages=messages)  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError) as bad:
        client(live_gateway).chat.completions.create(
            model="no-tools",
            messages=messages,  # type: ignore[arg-type]
            tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        )
    assert bad.value.param == "tools"


def test_tool_call_streaming_passes_through_intact(live_gateway: LiveGateway) -> None:
    stream = client(live_gateway).chat.completions.create(
        model="fake-tools",
        messages=[{"role": "user", "content": "Look up the depot stock."}],
        tools=[{"type": "function", "function": {"name": "lookup_stock", "parameters": {"type": "object"}}}],
        stream=True,
    )
    calls: dict[int, dict[str, str]] = {}
    for chunk in stream:
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or []:
                entry = calls.setdefault(call.index, {"name": "", "arguments": ""})
                if call.function and call.function.name:
                    entry["name"] += call.function.name
                if call.function and call.function.arguments:
                    entry["arguments"] += call.function.arguments
    assert calls, "no tool call came through"
    import json

    for entry in calls.values():
        assert entry["name"]
        json.loads(entry["arguments"])


def test_upstream_failure_and_timeout_map_to_502_and_504(live_gateway: LiveGateway) -> None:
    messages = [{"role": "user", "content": ADMIN_TEXT}]
    with pytest.raises(openai.InternalServerError) as failed:
        client(live_gateway).chat.completions.create(model="fake-500", messages=messages)  # type: ignore[arg-type]
    assert failed.value.status_code == 502
    with pytest.raises(openai.InternalServerError) as slow:
        client(live_gateway).chat.completions.create(model="fake-slow", messages=messages)  # type: ignore[arg-type]
    assert slow.value.status_code == 504
    with pytest.raises(openai.InternalServerError) as slow_stream:
        client(live_gateway).chat.completions.create(model="fake-slow", messages=messages, stream=True)  # type: ignore[arg-type]
    assert slow_stream.value.status_code == 504


def test_completions_and_responses_routes(live_gateway: LiveGateway) -> None:
    api = client(live_gateway)
    completion = api.completions.create(model="fake-chat", prompt="Summarise: convoy departs 06:00.")
    assert completion.choices[0].text
    response = api.responses.create(model="fake-chat", input="Translate 'fuel' into French.")
    assert response.output_text
    events = list(api.responses.create(model="fake-chat", input="Translate 'fuel' into French.", stream=True))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    deltas = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert deltas == events[-1].response.output_text


def test_http_level_errors_and_request_ids(live_gateway: LiveGateway) -> None:
    auth = {"authorization": f"Bearer {live_gateway.keys['user']}"}
    url = f"{live_gateway.base_url}/chat/completions"
    malformed = httpx.post(url, headers=auth, content=b"{not json")
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "invalid_json"
    huge = httpx.post(
        url,
        headers=auth,
        json={"model": "fake-chat", "messages": [{"role": "user", "content": "x" * 300_000}]},
    )
    assert huge.status_code == 413 and huge.json()["error"]["type"] == "invalid_request_error"
    missing = httpx.get(f"{live_gateway.base_url}/nowhere", headers=auth)
    assert missing.status_code == 404 and set(missing.json()["error"]) >= {"message", "type", "param", "code"}
    for response in (malformed, huge, missing):
        assert response.headers["x-request-id"].startswith("req_")
    no_key = httpx.get(f"{live_gateway.base_url}/models")
    assert no_key.status_code == 401 and no_key.json()["error"]["type"] == "authentication_error"


def test_admin_api_scopes_tenant_admins_and_revocation_bites(live_gateway: LiveGateway) -> None:
    admin = {"authorization": f"Bearer {live_gateway.keys['deu_admin']}"}
    body = {
        "nation": "DEU",
        "organisation": "Bundesamt für Ausrüstung",
        "agency_kind": "civil",
        "roles": ["user"],
        "name": "new clerk",
    }
    created = httpx.post(f"{live_gateway.root}/admin/keys", headers=admin, json=body)
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert client(live_gateway, key).models.list().data
    other_nation = httpx.post(
        f"{live_gateway.root}/admin/keys", headers=admin, json={**body, "nation": "FRA"}
    )
    assert other_nation.status_code == 403
    revoked = httpx.delete(f"{live_gateway.root}/admin/keys/{created.json()['id']}", headers=admin)
    assert revoked.status_code == 200
    with pytest.raises(openai.AuthenticationError):
        client(live_gateway, key).models.list()
    user = {"authorization": f"Bearer {live_gateway.keys['user']}"}
    assert httpx.post(f"{live_gateway.root}/admin/keys", headers=user, json=body).status_code == 403


def test_logs_never_carry_prompts_or_keys(live_gateway: LiveGateway) -> None:
    client(live_gateway).chat.completions.create(
        model="fake-chat", messages=[{"role": "user", "content": "Canary 7f3a9: route the fuel convoy."}]
    )
    logs = live_gateway.logs()
    assert "Canary 7f3a9" not in logs
    for key in live_gateway.keys.values():
        assert key not in logs


def test_a_misconfigured_model_is_the_gateways_fault_not_the_callers(live_gateway: LiveGateway) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        client(live_gateway).chat.completions.create(
            model="misconfigured", messages=[{"role": "user", "content": ADMIN_TEXT}]
        )
    assert caught.value.status_code == 502
    assert caught.value.code == "backend_misconfigured"
    assert "ACCORD_TEST_VARIABLE_NEVER_SET" not in caught.value.message  # details go to the log only
