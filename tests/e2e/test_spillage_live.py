"""Issue 3 acceptance, end to end: spillage through the live gateway with the official `openai` client.

A marked prompt on any route and in any stream mode gets `403 classification_exceeds_ceiling` with
an incident id, and the fake upstream's request log proves no backend was called. Marked model
output is cut (streams end with an error event; nothing of the marking reaches the client). Only
security officers see incidents, the details carry locations but no text, the quarantined text opens
only with the officers' private key, no sentinel word of a marked prompt is in the gateway's log or
its database files, and `accord inspect` reports the same figures as the incidents.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import string
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam

from accord.incidents.quarantine import PRIVATE_KEY_FILE, generate_key_pair
from accord.testing.fake_upstream import MARKED_CHUNKS, FakeUpstream
from tests.conftest import LiveGateway

pytestmark = pytest.mark.slow

SPILLAGE = "classification_exceeds_ceiling"


def sentinel() -> str:
    """A word that appears nowhere else, so finding it anywhere means the prompt leaked there."""
    return "quokka" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(12))


def client(gateway: LiveGateway, key: str = "user") -> OpenAI:
    return OpenAI(base_url=gateway.base_url, api_key=gateway.keys[key], max_retries=0, timeout=60)


def upstream_of(gateway: LiveGateway) -> FakeUpstream:
    assert isinstance(gateway.upstream, FakeUpstream)
    return gateway.upstream


def nato_secret(word: str) -> str:
    return f"NATO SECRET\nOperation {word}: the convoy leaves Grafenwoehr at 06:00 with 14 tankers."


def refused(gateway: LiveGateway, call: Callable[[], object]) -> dict[str, Any]:
    """Run a client call that must be refused as spillage before any backend sees it; the error body."""
    upstream = upstream_of(gateway)
    upstream.reset()
    with pytest.raises(openai.PermissionDeniedError) as caught:
        result = call()
        if isinstance(result, Iterator):  # a stream that did not fail at once: drain it
            list(result)
    error = caught.value
    assert error.status_code == 403
    assert error.code == SPILLAGE
    assert isinstance(error.body, dict)
    assert str(error.body["incident_id"]).startswith("inc_")
    assert upstream.requests() == [], "a backend was called for a marked prompt"
    return error.body


def officer_headers(gateway: LiveGateway, key: str = "officer") -> dict[str, str]:
    return {"authorization": f"Bearer {gateway.keys[key]}"}


def incident(gateway: LiveGateway, incident_id: str) -> dict[str, Any]:
    """The incident as a security officer reads it over HTTP."""
    response = httpx.get(
        f"{gateway.root}/admin/incidents/{incident_id}", headers=officer_headers(gateway), timeout=30
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    shown: dict[str, Any] = response.json()
    return shown


def principal_id(gateway: LiveGateway, key: str) -> str:
    response = httpx.get(f"{gateway.root}/admin/whoami", headers=officer_headers(gateway, key), timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def accord(gateway: LiveGateway, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the `accord` command on the live gateway's home, as an officer or operator would."""
    return subprocess.run(
        [sys.executable, "-m", "accord", *args],
        env={**gateway.env(), "ACCORD_INCIDENT_KEY_PASSPHRASE": ""},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# -- every route and stream mode -----------------------------------------------------------------

Call = Callable[[OpenAI, str], object]


def _chat(api: OpenAI, text: str) -> object:
    return api.chat.completions.create(model="fake-chat", messages=[{"role": "user", "content": text}])


def _chat_stream(api: OpenAI, text: str) -> object:
    return api.chat.completions.create(
        model="fake-chat",
        messages=[{"role": "user", "content": text}],
        stream=True,
        stream_options={"include_usage": True},
    )


def _completions(api: OpenAI, text: str) -> object:
    return api.completions.create(model="fake-chat", prompt=text)


def _completions_stream(api: OpenAI, text: str) -> object:
    return api.completions.create(model="fake-chat", prompt=text, stream=True)


def _embeddings(api: OpenAI, text: str) -> object:
    return api.embeddings.create(model="fake-chat", input=["fuel schedule for Tuesday", text])


def _responses(api: OpenAI, text: str) -> object:
    return api.responses.create(model="fake-chat", input=text)


def _responses_stream(api: OpenAI, text: str) -> object:
    return api.responses.create(model="fake-chat", input=text, stream=True)


def _responses_instructions(api: OpenAI, text: str) -> object:
    return api.responses.create(model="fake-chat", instructions=text, input="Summarise the note.")


def _responses_parts(api: OpenAI, text: str) -> object:
    return api.responses.create(
        model="fake-chat", input=[{"role": "user", "content": [{"type": "input_text", "text": text}]}]
    )


# id: (call, route recorded on the incident, path of the marked segment, upstream path when allowed)
ROUTES: dict[str, tuple[Call, str, str, str]] = {
    "chat": (_chat, "chat", "messages[0].content", "/v1/chat/completions"),
    "chat-stream": (_chat_stream, "chat", "messages[0].content", "/v1/chat/completions"),
    "completions": (_completions, "completions", "prompt", "/v1/completions"),
    "completions-stream": (_completions_stream, "completions", "prompt", "/v1/completions"),
    "embeddings": (_embeddings, "embeddings", "input[1]", "/v1/embeddings"),
    "responses": (_responses, "responses", "input", "/v1/chat/completions"),
    "responses-stream": (_responses_stream, "responses", "input", "/v1/chat/completions"),
    "responses-instructions": (_responses_instructions, "responses", "instructions", "/v1/chat/completions"),
    "responses-content-parts": (
        _responses_parts,
        "responses",
        "input[0].content[0].text",
        "/v1/chat/completions",
    ),
}


def _consume(result: object) -> None:
    if isinstance(result, Iterator):
        list(result)


@pytest.mark.parametrize("name", list(ROUTES))
def test_a_marked_prompt_is_refused_on_every_route_and_mode(live_gateway: LiveGateway, name: str) -> None:
    call, route, path, upstream_path = ROUTES[name]
    api = client(live_gateway)
    word = sentinel()

    body = refused(live_gateway, lambda: call(api, nato_secret(word)))
    assert body["type"] == "permission_error"
    assert body["incident_id"] in body["message"]  # the user is told which incident to quote
    assert word not in json.dumps(body)

    shown = incident(live_gateway, body["incident_id"])
    assert (shown["route"], shown["model"], shown["direction"]) == (route, "fake-chat", "request")
    assert (shown["level"], shown["rank"], shown["scheme"], shown["marking"]) == (
        "NS",
        3,
        "NATO",
        "NATO SECRET",
    )
    assert [hit["path"] for hit in shown["hits"]] == [path]
    assert (shown["hits"][0]["start"], shown["hits"][0]["end"]) == (0, len("NATO SECRET"))

    # Control: the same call without the marking does reach the backend, so "no call" above is real.
    upstream = upstream_of(live_gateway)
    upstream.reset()
    _consume(call(api, f"Operation {word}: the convoy leaves Grafenwoehr at 06:00 with 14 tankers."))
    assert [request["path"] for request in upstream.requests()] == [upstream_path]


# -- where the marking hides ------------------------------------------------------------------------


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def placements(word: str) -> dict[str, tuple[list[ChatCompletionMessageParam], str, str | None]]:
    """id: (messages, path of the marked segment, evasion the scanner must name)."""
    marked = nato_secret(word)
    return {
        "system-message": (
            [
                {"role": "system", "content": f"You are a logistics assistant.\n{marked}"},
                {"role": "user", "content": "Summarise the note in the instructions."},
            ],
            "messages[0].content",
            None,
        ),
        "content-parts": (
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Summarise the attached note."},
                        {"type": "text", "text": marked},
                    ],
                }
            ],
            "messages[0].content[1].text",
            None,
        ),
        "tool-result": (
            [
                {"role": "user", "content": "Look up the convoy plan."},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "lookup_plan", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": marked},
            ],
            "messages[2].content",
            None,
        ),
        "base64-block": (
            [{"role": "user", "content": f"Decode and summarise this:\n{_b64(marked)}"}],
            "messages[0].content",
            "base64",
        ),
        "homoglyphs": (
            # Cyrillic А, Т, О and Е in place of the Latin letters.
            [{"role": "user", "content": marked.replace("NATO SECRET", "NАТО SЕCRЕT")}],
            "messages[0].content",
            "homoglyph",
        ),
        "zero-width": (
            [{"role": "user", "content": marked.replace("NATO SECRET", "NA\u200bTO SE\u200cCR\u200dET")}],
            "messages[0].content",
            "zero_width",
        ),
    }


@pytest.mark.parametrize("name", list(placements("x")))
@pytest.mark.parametrize("stream", [False, True], ids=["non-stream", "stream"])
def test_a_marking_is_found_wherever_it_hides(live_gateway: LiveGateway, name: str, stream: bool) -> None:
    word = sentinel()
    messages, path, evasion = placements(word)[name]
    api = client(live_gateway)
    body = refused(
        live_gateway,
        lambda: api.chat.completions.create(model="fake-chat", messages=messages, stream=stream),
    )
    shown = incident(live_gateway, body["incident_id"])
    assert (shown["level"], shown["scheme"]) == ("NS", "NATO")
    [hit] = shown["hits"]
    assert hit["path"] == path
    assert hit["marking"] == "NATO SECRET"
    if evasion is None:
        assert hit["evasion"] is None
    else:
        assert evasion in str(hit["evasion"]).split("+")
    assert word not in json.dumps(shown)


# -- schemes, and `accord inspect` reproducing the incidents' figures --------------------------------

SCHEME_WORD = sentinel()
SCHEMES: dict[str, tuple[str, str, str]] = {
    # id: (text, level, scheme)
    "nato-banner": (nato_secret(SCHEME_WORD), "NS", "NATO"),
    "us-portion-marks": (
        f"(S//NF) Operation {SCHEME_WORD} moves the convoy at 06:00.\n(U) The weather is fine.",
        "NS",
        "US",
    ),
    "deu-vs-vertraulich": (
        f"VS-VERTRAULICH\nOperation {SCHEME_WORD}: Der Konvoi fährt um 06:00 Uhr ab.",
        "NC",
        "DEU",
    ),
    "fra-secret-defense": (
        f"SECRET DÉFENSE\nOpération {SCHEME_WORD} : le convoi part à 06h00.",
        "NS",
        "FRA",
    ),
    "fra-diffusion-restreinte": (
        f"Diffusion Restreinte\nOpération {SCHEME_WORD} : le convoi part à 06h00.",
        "NR",
        "FRA",
    ),
    "nato-base64": (f"Decode this:\n{_b64(nato_secret(SCHEME_WORD))}", "NS", "NATO"),
    "nato-homoglyph-zero-width": (
        nato_secret(SCHEME_WORD).replace("NATO SECRET", "NАТО SE\u200bCRЕT"),
        "NS",
        "NATO",
    ),
}


@pytest.fixture(scope="module")
def inspected(live_gateway: LiveGateway) -> dict[str, dict[str, Any]]:
    """`accord inspect` on the scheme texts, with the live gateway's deployment and policy bundle."""
    lines = "".join(json.dumps({"id": name, "text": text}) + "\n" for name, (text, _, _) in SCHEMES.items())
    done = accord(live_gateway, "inspect", stdin=lines)
    assert done.returncode == 0, done.stderr
    reports = [json.loads(line) for line in done.stdout.splitlines()]
    return {str(report["id"]): report for report in reports}


SPAN_KEYS = ("start", "end", "marking", "scheme", "level", "kind", "evasion")


@pytest.mark.parametrize("name", list(SCHEMES))
def test_each_scheme_is_refused_and_accord_inspect_reproduces_the_incident(
    live_gateway: LiveGateway, inspected: dict[str, dict[str, Any]], name: str
) -> None:
    text, level, scheme = SCHEMES[name]
    api = client(live_gateway, "deu_user")
    body = refused(live_gateway, lambda: _chat(api, text))
    shown = incident(live_gateway, body["incident_id"])
    assert (shown["level"], shown["scheme"]) == (level, scheme)
    assert (shown["nation"], shown["organisation"]) == ("DEU", "Bundesamt für Ausrüstung")

    report = inspected[name]
    assert report["decision"] == "deny" and report["codes"] == [SPILLAGE]
    figures = report["classification"]
    assert (shown["level"], shown["rank"], shown["scheme"]) == (
        figures["level"],
        figures["rank"],
        figures["scheme"],
    )
    assert [{key: hit[key] for key in SPAN_KEYS} for hit in shown["hits"]] == [
        {key: span[key] for key in SPAN_KEYS} for span in figures["spans"]
    ]
    assert {hit["path"] for hit in shown["hits"]} == {"messages[0].content"}


LOOK_ALIKES = [
    "What is the secret to good logistics? Keep the fuel schedule simple.",
    "Vehicles must not enter the restricted area near the depot after 18:00.",
    "The new hire needs a NATO SECRET clearance before she starts in March.",
    "Our surprise party for the depot chief is top secret, so keep it confidential!",
    "La diffusion restreinte des horaires aide la planification du convoi.",
]


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alikes_pass_through_to_the_backend(live_gateway: LiveGateway, text: str) -> None:
    upstream = upstream_of(live_gateway)
    upstream.reset()
    completion = client(live_gateway).chat.completions.create(
        model="fake-chat", messages=[{"role": "user", "content": text}]
    )
    assert completion.choices[0].message.content == text  # fake-echo answers with the prompt
    [request] = upstream.requests()
    assert request["body"]["messages"] == [{"role": "user", "content": text}]


# -- marked model output ----------------------------------------------------------------------------


def _marking_pieces() -> list[str]:
    """Every piece of the banner the fake model streams ("NATO SEC" | "RET")."""
    return [piece.strip() for piece in MARKED_CHUNKS if "NATO" in piece or piece.startswith("RET")]


def _assert_output_incident(gateway: LiveGateway, incident_id: str, route: str) -> None:
    shown = incident(gateway, incident_id)
    assert (shown["direction"], shown["route"], shown["model"]) == ("response", route, "fake-marked")
    assert (shown["level"], shown["scheme"], shown["marking"]) == ("NS", "NATO", "NATO SECRET")


def test_marked_output_ends_a_chat_stream_with_an_error_and_nothing_of_the_marking(
    live_gateway: LiveGateway,
) -> None:
    upstream = upstream_of(live_gateway)
    upstream.reset()
    stream = client(live_gateway).chat.completions.create(
        model="fake-marked", messages=[{"role": "user", "content": "Summarise the week."}], stream=True
    )
    received: list[str] = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            received.extend(choice.delta.content or "" for choice in chunk.choices)
    assert caught.value.code == SPILLAGE
    assert isinstance(caught.value.body, dict)
    text = "".join(received)
    for piece in _marking_pieces():
        assert piece not in text
    assert len(upstream.requests()) == 1  # the model did run: this is output, not input
    _assert_output_incident(live_gateway, str(caught.value.body["incident_id"]), "chat")


def test_marked_output_ends_a_responses_stream_with_an_error_event(live_gateway: LiveGateway) -> None:
    stream = client(live_gateway).responses.create(
        model="fake-marked", input="Summarise the week.", stream=True
    )
    kinds: list[str] = []
    deltas: list[str] = []
    with pytest.raises(openai.APIError) as caught:
        for event in stream:
            kinds.append(event.type)
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
    assert caught.value.code == SPILLAGE
    assert kinds[0] == "response.created" and "response.completed" not in kinds
    for piece in _marking_pieces():
        assert piece not in "".join(deltas)
    # The user is told which incident to quote (the event's body lacks `incident_id`: see below).
    quoted = re.search(r"quote incident (inc_[a-z2-7]+)", caught.value.message)
    assert quoted is not None, caught.value.message
    _assert_output_incident(live_gateway, quoted.group(1), "responses")


def test_a_responses_stream_error_event_carries_the_incident_id(live_gateway: LiveGateway) -> None:
    stream = client(live_gateway).responses.create(
        model="fake-marked", input="Summarise the week.", stream=True
    )
    with pytest.raises(openai.APIError) as caught:
        list(stream)
    assert isinstance(caught.value.body, dict)
    assert str(caught.value.body.get("incident_id", "")).startswith("inc_")


@pytest.mark.parametrize("route", ["chat", "responses"])
def test_marked_output_is_refused_without_streaming(live_gateway: LiveGateway, route: str) -> None:
    api = client(live_gateway)
    with pytest.raises(openai.PermissionDeniedError) as caught:
        if route == "chat":
            api.chat.completions.create(
                model="fake-marked", messages=[{"role": "user", "content": "Summarise the week."}]
            )
        else:
            api.responses.create(model="fake-marked", input="Summarise the week.")
    assert caught.value.code == SPILLAGE
    assert isinstance(caught.value.body, dict)
    assert "NATO" not in json.dumps(caught.value.body)
    _assert_output_incident(live_gateway, str(caught.value.body["incident_id"]), route)


# -- incidents: who sees what ------------------------------------------------------------------------


def test_only_security_officers_see_incidents_and_details_carry_no_text(live_gateway: LiveGateway) -> None:
    word = sentinel()
    body = refused(live_gateway, lambda: _chat(client(live_gateway, "intel"), nato_secret(word)))
    incident_id = body["incident_id"]

    listed = httpx.get(
        f"{live_gateway.root}/admin/incidents", headers=officer_headers(live_gateway), timeout=30
    )
    assert listed.status_code == 200
    assert incident_id in [item["id"] for item in listed.json()["data"]]
    assert word not in listed.text

    shown = incident(live_gateway, incident_id)
    assert word not in json.dumps(shown)
    assert shown["status"] == "open" and shown["quarantined"] is True
    assert (shown["agency_kind"], shown["nation"]) == ("intelligence", "USA")
    assert (shown["level"], shown["rank"], shown["scheme"]) == ("NS", 3, "NATO")
    [hit] = shown["hits"]
    assert set(hit) == {"path", "start", "end", "marking", "scheme", "level", "rank", "kind", "evasion"}
    assert (hit["path"], hit["start"], hit["end"], hit["kind"]) == ("messages[0].content", 0, 11, "banner")

    for key in ("user", "intel", "deu_admin", "operator"):
        headers = officer_headers(live_gateway, key)
        for method, path in (
            ("GET", "/admin/incidents"),
            ("GET", f"/admin/incidents/{incident_id}"),
            ("POST", f"/admin/incidents/{incident_id}/decrypt"),
        ):
            answer = httpx.request(method, f"{live_gateway.root}{path}", headers=headers, timeout=30)
            assert answer.status_code == 403, (key, path, answer.text)
            assert answer.json()["error"]["code"] == "insufficient_role"
            assert word not in answer.text


def test_quarantined_text_opens_only_with_the_officers_private_key(
    live_gateway: LiveGateway, tmp_path: Path
) -> None:
    word = sentinel()
    marked = nato_secret(word)
    api = client(live_gateway)
    body = refused(
        live_gateway,
        lambda: api.chat.completions.create(
            model="fake-chat",
            messages=[
                {"role": "system", "content": "You are a logistics assistant."},
                {"role": "user", "content": marked},
            ],
        ),
    )
    incident_id = body["incident_id"]

    # The gateway holds only the public key: even an officer cannot decrypt over HTTP.
    over_http = httpx.post(
        f"{live_gateway.root}/admin/incidents/{incident_id}/decrypt",
        headers=officer_headers(live_gateway),
        timeout=30,
    )
    assert over_http.status_code == 409
    assert over_http.json()["error"]["code"] == "decryption_not_configured"
    assert word not in over_http.text

    officer = principal_id(live_gateway, "officer")
    operator = principal_id(live_gateway, "operator")
    private_key = live_gateway.home / "keys" / PRIVATE_KEY_FILE

    # The operator, even holding the key file, is not a security officer.
    denied = accord(
        live_gateway,
        "incidents",
        "show",
        incident_id,
        "--as",
        operator,
        "--decrypt",
        "--key",
        str(private_key),
    )
    assert denied.returncode != 0
    assert "not a security officer" in denied.stderr
    assert word not in denied.stdout + denied.stderr

    # An officer with some other private key cannot open it.
    wrong = tmp_path / "wrong-private.pem"
    generate_key_pair(wrong, tmp_path / "wrong-public.pem")
    mismatched = accord(
        live_gateway, "incidents", "show", incident_id, "--as", officer, "--decrypt", "--key", str(wrong)
    )
    assert mismatched.returncode != 0
    assert "wrong private key" in mismatched.stderr
    assert word not in mismatched.stdout + mismatched.stderr

    # Without --decrypt the officer sees metadata only.
    plain = accord(live_gateway, "incidents", "show", incident_id, "--as", officer)
    assert plain.returncode == 0, plain.stderr
    assert word not in plain.stdout and "quarantined_text" not in json.loads(plain.stdout)

    # The officer with the officers' private key gets back exactly what the model would have read.
    opened = accord(
        live_gateway,
        "incidents",
        "show",
        incident_id,
        "--as",
        officer,
        "--decrypt",
        "--key",
        str(private_key),
    )
    assert opened.returncode == 0, opened.stderr
    shown = json.loads(opened.stdout)
    assert shown["quarantined_text"] == {
        "incident_id": incident_id,
        "segments": [
            {"path": "messages[0].content", "text": "You are a logistics assistant."},
            {"path": "messages[1].content", "text": marked},
        ],
    }
    assert incident(live_gateway, incident_id)["status"] == "investigating"  # reading it was recorded


# -- nothing of the prompt anywhere else -----------------------------------------------------------


def _files_containing(root: Path, needle: bytes) -> list[str]:
    return sorted(
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and needle in path.read_bytes()
    )


def _route_call(api: OpenAI, call: Call, text: str) -> Callable[[], object]:
    return lambda: call(api, text)


def _chat_call(api: OpenAI, messages: list[ChatCompletionMessageParam], stream: bool) -> Callable[[], object]:
    return lambda: api.chat.completions.create(model="fake-chat", messages=messages, stream=stream)


def test_no_marked_text_reaches_the_log_or_the_database(live_gateway: LiveGateway) -> None:
    word = sentinel()
    marked = nato_secret(word)
    encoded = _b64(marked)
    api = client(live_gateway)
    logged_before = len(live_gateway.logs())
    calls = [_route_call(api, call, marked) for call, _, _, _ in ROUTES.values()]
    calls += [
        _chat_call(api, messages, stream)
        for messages, _, _ in placements(word).values()
        for stream in (False, True)
    ]
    incident_ids = [refused(live_gateway, call)["incident_id"] for call in calls]
    with pytest.raises(openai.APIError):  # marked output, cut mid-stream and quarantined
        list(
            api.chat.completions.create(
                model="fake-marked", messages=[{"role": "user", "content": f"Summarise {word}."}], stream=True
            )
        )

    logs = live_gateway.logs()
    # Not vacuous: the gateway logs at debug level and wrote lines during this test (its upstream
    # call for the marked output); it writes no line per refused request.
    assert "/v1/chat/completions" in logs[logged_before:]
    for secret in (word, encoded, "End of summary."):
        assert secret.lower() not in logs.lower()

    assert (live_gateway.home / "accord.db").exists()
    # Not vacuous: the incidents are in these files, so the files scanned are the ones written.
    assert _files_containing(live_gateway.home, incident_ids[-1].encode())
    for secret in (word, encoded, "End of summary."):
        assert _files_containing(live_gateway.home, secret.encode()) == []
