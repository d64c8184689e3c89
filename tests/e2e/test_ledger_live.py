"""Issue 5 acceptance, live: the decision ledger of a running gateway, checked the way an overseer does.

Traffic goes through `accord serve` with the official openai client (answered, refused by a red line,
streamed, a marked prompt, a marked answer cut mid-stream, a kill-switched caller); then the
overseer's commands run as separate processes: `accord ledger export` and `accord ledger verify`
pass, every request id the gateway answered with has a leaf with the right decision and outcome, no
leaf holds prompt text, `accord ledger prove` answers are checked with an RFC 9162 inclusion-proof
fold written in `ledger_support` (not the project's Merkle code), and a tampered bundle fails
verification naming the first bad entry. Administrative acts (a key, a kill switch) are admin leaves.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam

from tests.conftest import LiveGateway
from tests.e2e.ledger_support import (
    BundleEntry,
    accord,
    checkpoint_root,
    export_and_verify,
    request_leaves,
    rfc_leaf_hash,
    rfc_root,
    root_from_inclusion_proof,
    sentinel,
)

pytestmark = pytest.mark.slow

HEX = re.compile(r"[0-9a-f]{64}")
AUDIT_ORG = "Ledger Audit Unit"
VerifyOutcome = tuple[int, dict[str, Any], str]


@dataclass(frozen=True)
class Sent:
    """One request as the client saw it, and what its leaf must say."""

    request_id: str
    model: str
    route: str
    decision: str
    outcome: str
    code: str | None = None


def client(gateway: LiveGateway, key: str = "user") -> OpenAI:
    return OpenAI(base_url=gateway.base_url, api_key=gateway.keys[key], max_retries=0, timeout=60)


def admin(gateway: LiveGateway, key: str = "operator") -> httpx.Client:
    return httpx.Client(
        base_url=gateway.root, headers={"authorization": f"Bearer {gateway.keys[key]}"}, timeout=30
    )


def refused_id(call: Callable[[], object], status: int, code: str) -> str:
    """Run a call the gateway must refuse; the request id of the refusal."""
    with pytest.raises(openai.APIStatusError) as caught:
        call()
    error = caught.value
    assert error.status_code == status, error.body
    assert error.code == code, error.body
    request_id = error.response.headers.get("x-request-id", "")
    assert request_id.startswith("req_"), error.response.headers
    return request_id


def drive_traffic(gateway: LiveGateway, words: list[str]) -> list[Sent]:
    """One request of every kind the ledger distinguishes; each prompt carries a sentinel word."""
    api = client(gateway)
    chat = "chat"
    sent: list[Sent] = []

    def word() -> str:
        words.append(sentinel())
        return words[-1]

    def say(text: str) -> list[ChatCompletionMessageParam]:
        return [{"role": "user", "content": text}]

    answered = api.chat.completions.with_raw_response.create(
        model="fake-chat", messages=say(f"Confirm the fuel delivery for depot {word()}.")
    )
    assert answered.parse().choices[0].message.content is not None
    sent.append(Sent(answered.headers["x-request-id"], "fake-chat", chat, "allow", "answered"))

    completion = api.completions.with_raw_response.create(
        model="fake-chat", prompt=f"Summarise the spare parts inventory of {word()}."
    )
    assert completion.parse().choices
    sent.append(Sent(completion.headers["x-request-id"], "fake-chat", "completions", "allow", "answered"))

    streamed = api.chat.completions.with_raw_response.create(
        model="fake-chat", stream=True, messages=say(f"List three checks before a convoy leaves {word()}.")
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in streamed.parse() if chunk.choices)
    assert words[-1] in text  # the echo model answered in full
    sent.append(Sent(streamed.headers["x-request-id"], "fake-chat", chat, "allow", "answered"))

    red_line = say(
        "Monitor the social media accounts of American citizens who attend the rallies in Chicago "
        f"and report their names to us, file {word()}."
    )
    sent.append(
        Sent(
            refused_id(
                lambda: api.chat.completions.create(model="fake-chat", messages=red_line),
                403,
                "policy_domestic_surveillance",
            ),
            "fake-chat",
            chat,
            "deny",
            "refused",
            "policy_domestic_surveillance",
        )
    )

    marked = say(f"NATO SECRET\nThe convoy leaves Grafenwoehr at 06:00, operation {word()}.")
    sent.append(
        Sent(
            refused_id(
                lambda: api.chat.completions.create(model="fake-chat", messages=marked),
                403,
                "classification_exceeds_ceiling",
            ),
            "fake-chat",
            chat,
            "deny",
            "refused",
            "classification_exceeds_ceiling",
        )
    )

    cut = api.chat.completions.with_raw_response.create(
        model="fake-marked", stream=True, messages=say(f"Summarise the exercise report {word()}.")
    )
    with pytest.raises(openai.APIError):
        for _ in cut.parse():
            pass
    sent.append(Sent(cut.headers["x-request-id"], "fake-marked", chat, "allow", "cut_mid_stream"))
    return sent


def admin_acts(gateway: LiveGateway) -> tuple[list[Sent], dict[str, str]]:
    """A key for a new organisation, a kill switch on that organisation and its release, with a
    request refused while it was engaged and one answered after; the admin acts' identifiers."""
    with admin(gateway) as operator:
        created = operator.post(
            "/admin/keys",
            json={
                "nation": "USA",
                "organisation": AUDIT_ORG,
                "agency_kind": "civil",
                "roles": ["user"],
                "name": "ledger e2e",
            },
        )
        assert created.status_code == 201, created.text
        key = created.json()
        engaged = operator.post(
            "/admin/killswitches",
            json={"scope": "organisation", "target": AUDIT_ORG, "reason": "ledger e2e drill"},
        )
        assert engaged.status_code == 201, engaged.text
        switch_id = engaged.json()["id"]
        api = OpenAI(base_url=gateway.base_url, api_key=key["key"], max_retries=0, timeout=60)
        messages: list[ChatCompletionMessageParam] = [
            {"role": "user", "content": "Status of the spare parts order?"}
        ]
        try:
            blocked = refused_id(
                lambda: api.chat.completions.create(model="fake-chat", messages=messages),
                403,
                "killswitch_organisation",
            )
        finally:
            released = operator.delete(f"/admin/killswitches/{switch_id}")
        assert released.status_code == 200, released.text
        # The release reaches the request path within a second; the answer below proves it did.
        served = api.chat.completions.with_raw_response.create(model="fake-chat", messages=messages)
        operator_id = operator.get("/admin/whoami").json()["id"]
    with admin(gateway, "user") as user:
        user_id = user.get("/admin/whoami").json()["id"]
    sent = [
        Sent(blocked, "fake-chat", "chat", "deny", "refused", "killswitch_organisation"),
        Sent(served.headers["x-request-id"], "fake-chat", "chat", "allow", "answered"),
    ]
    ids = {
        "key_id": key["id"],
        "key": key["key"],
        "holder_id": key["principal"]["id"],
        "switch_id": switch_id,
        "operator_id": operator_id,
        "user_id": user_id,
    }
    return sent, ids


def verify_pinned(home: Path, original: Path, bundle: Path) -> VerifyOutcome:
    """`accord ledger verify` pinned to the key of the untouched export: (exit status, JSON, stderr)."""
    pinned = str(original / "public_key.vkey")
    result = accord(home, "ledger", "verify", str(bundle), "--public-key", pinned)
    return result.returncode, json.loads(result.stdout), result.stderr


def tamper(home: Path, bundle: Path, out: Path, edit: Callable[[list[str]], None]) -> VerifyOutcome:
    """Copy the bundle, let ``edit`` change its entry lines, verify the copy."""
    shutil.copytree(bundle, out)
    lines = (out / "entries.jsonl").read_text(encoding="utf-8").splitlines()
    edit(lines)
    (out / "entries.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return verify_pinned(home, bundle, out)


def rewritten(line: str, change: Callable[[dict[str, Any]], None], rehash: bool) -> str:
    """An entries.jsonl line whose leaf record was edited (canonical JSON again, as a forger would)."""
    raw = json.loads(line)
    entry = json.loads(base64.b64decode(raw["leaf"]))
    change(entry["record"])
    leaf = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    raw["leaf"] = base64.b64encode(leaf).decode()
    if rehash:
        raw["leaf_hash"] = rfc_leaf_hash(leaf).hex()
    return json.dumps(raw)


def check_proof(proof: dict[str, Any], entries: list[BundleEntry], vkey: str, bundle_root: bytes) -> None:
    """An inclusion proof checked without Accord's code: leaf hash, audit path fold, signed root."""
    for name in ("leaf_index", "tree_size", "leaf_hash", "root_hash", "audit_path"):
        assert name in proof, f"prove printed no {name}"
    assert HEX.fullmatch(proof["leaf_hash"]) and HEX.fullmatch(proof["root_hash"]), proof
    assert all(HEX.fullmatch(h) for h in proof["audit_path"]), proof["audit_path"]
    index, size = proof["leaf_index"], proof["tree_size"]
    leaf = proof["leaf"].encode()
    assert rfc_leaf_hash(leaf).hex() == proof["leaf_hash"]
    assert entries[index].leaf == leaf, "the proven leaf is not the bundle's leaf at that index"
    path = [bytes.fromhex(h) for h in proof["audit_path"]]
    root = root_from_inclusion_proof(index, size, bytes.fromhex(proof["leaf_hash"]), path)
    assert root.hex() == proof["root_hash"], "the audit path does not lead to the signed root"
    signed_size, signed_root = checkpoint_root(proof["checkpoint"], vkey)
    assert (signed_size, signed_root.hex()) == (size, proof["root_hash"])
    # The same root as the tree of the exported leaves (MTH computed by the RFC's definition).
    assert size == len(entries) and bundle_root == root
    # ...and the fold is not a rubber stamp: a proof for a neighbour's position or with a flipped
    # byte does not reach the root.
    if path:
        flipped = [bytes([path[0][0] ^ 1]) + path[0][1:], *path[1:]]
        assert root_from_inclusion_proof(index, size, bytes.fromhex(proof["leaf_hash"]), flipped) != root
        other = index ^ 1 if (index ^ 1) < size else index - 1
        assert root_from_inclusion_proof(other, size, bytes.fromhex(proof["leaf_hash"]), path) != root


def test_live_ledger_records_proves_and_detects_tampering(live_gateway: LiveGateway, tmp_path: Path) -> None:
    words: list[str] = []
    sent = drive_traffic(live_gateway, words)
    killswitch_sent, ids = admin_acts(live_gateway)
    sent += killswitch_sent
    assert len({s.request_id for s in sent}) == len(sent)

    bundle = tmp_path / "bundle"
    summary, entries = export_and_verify(live_gateway.home, bundle)
    assert summary["checkpoints"] >= 1
    unpinned = accord(live_gateway.home, "ledger", "verify", str(bundle))  # as the docs' first example
    assert unpinned.returncode == 0, unpinned.stdout + unpinned.stderr
    assert json.loads(unpinned.stdout)["ok"] is True

    # Every request id the client was given has its leaf, with the decision the client saw.
    leaves = request_leaves(entries)
    for request in sent:
        assert request.request_id in leaves, f"no leaf for {request}"
        (record,) = leaves[request.request_id]
        assert record["decision"] == request.decision, (request, record)
        assert record["outcome"] == request.outcome, (request, record)
        assert record["model"] == request.model and record["route"] == request.route, (request, record)
        if request.code is not None:
            assert request.code in record["codes"], (request, record)
        assert HEX.fullmatch(record["content_hash"]), record
    # Nothing any prompt said is in any leaf, nor the new key; callers are pseudonyms.
    assert len(words) >= 6 and all(w.startswith("wombat") for w in words), words
    for entry in entries:
        text = entry.leaf.decode()
        for word in words:
            assert word not in text, f"entry {entry.index} holds prompt text"
        assert ids["key"] not in text, f"entry {entry.index} holds an API key"
        for who in ("user_id", "holder_id"):
            assert ids[who] not in text, f"entry {entry.index} names a principal in the clear"
    ours = [leaves[s.request_id][0] for s in sent[:6]]
    assert len({r["principal"] for r in ours}) == 1, "one caller, one pseudonym"

    # Administrative acts are admin leaves.
    admin_leaves = [e.record for e in entries if e.record["kind"] == "admin"]
    by_act = {(r["act"], r["target"]): r for r in admin_leaves}
    created = by_act[("key.create", ids["key_id"])]
    assert created["details"]["organisation"] == AUDIT_ORG
    # The key's holder is named by the pseudonym its requests carry: linkable, not identified.
    holder_requests = [leaves[s.request_id][0] for s in killswitch_sent]
    assert {r["principal"] for r in holder_requests} == {created["details"]["principal"]}
    # Done by the operator over HTTP, so attributed, but to a pseudonym rather than the id.
    assert created["actor"] not in ("local-cli", ids["operator_id"])
    assert ("killswitch.engaged", f"organisation:{AUDIT_ORG}") in by_act
    assert ("killswitch.released", ids["switch_id"]) in by_act

    # Inclusion proofs from `accord ledger prove`, checked with the RFC 9162 fold in ledger_support.
    vkey = (bundle / "public_key.vkey").read_text(encoding="utf-8")
    bundle_root = rfc_root([rfc_leaf_hash(e.leaf) for e in entries])
    for request in sent:
        proved = accord(live_gateway.home, "ledger", "prove", request.request_id)
        assert proved.returncode == 0, proved.stderr
        proof = json.loads(proved.stdout)
        assert proof["request_id"] == request.request_id
        check_proof(proof, entries, vkey, bundle_root)

    # Tampering with the exported bundle: each forgery is named by its first bad entry.
    index = next(e.index for e in entries if e.record.get("request_id") == sent[3].request_id)

    def flip_outcome(record: dict[str, Any]) -> None:
        record["decision"], record["outcome"], record["codes"] = "allow", "answered", []

    def edit(lines: list[str]) -> None:
        lines[index] = rewritten(lines[index], flip_outcome, rehash=False)

    status, report, stderr = tamper(live_gateway.home, bundle, tmp_path / "edited", edit)
    assert status == 1 and report["ok"] is False
    assert report["first_problem"] == f"entry {index}: leaf does not hash to its stored hash (edited)"
    assert f"FAILED: entry {index}: " in stderr

    def edit_and_rehash(lines: list[str]) -> None:
        lines[index] = rewritten(lines[index], flip_outcome, rehash=True)

    status, report, stderr = tamper(live_gateway.home, bundle, tmp_path / "rehashed", edit_and_rehash)
    assert status == 1 and report["ok"] is False
    named = re.search(r"an entry in \[(\d+), (\d+)\) was altered", report["first_problem"])
    assert named and int(named[1]) <= index < int(named[2]), report["first_problem"]

    def delete(lines: list[str]) -> None:
        del lines[index]

    status, report, stderr = tamper(live_gateway.home, bundle, tmp_path / "deleted", delete)
    assert status == 1 and report["ok"] is False
    assert report["first_problem"].startswith(f"entry {index}: line holds index {index + 1}"), report
    assert f"FAILED: entry {index}: " in stderr

    # The untouched export still verifies: the failures above are the edits, not the verifier.
    status, report, _ = verify_pinned(live_gateway.home, bundle, bundle)
    assert status == 0 and report["ok"] is True
