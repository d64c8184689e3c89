"""The offline verifier on hand-built bundles: each check names what it catches."""

import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.ledger.bundle import BundleWriter
from accord.ledger.checkpoint import Checkpoint, CheckpointSigner
from accord.ledger.merkle import MemoryTree, leaf_hash
from accord.ledger.record import Entry, canonical_json, format_time
from accord.ledger.verify import verify_bundle

from .ledger_samples import BASE_TIME, request_record

SIGNER = CheckpointSigner(Ed25519PrivateKey.generate(), "accord")


def write_bundle(
    path: Path,
    leaves: list[bytes],
    checkpoint_sizes: list[int],
    *,
    stamp_offset: timedelta = timedelta(seconds=1),
) -> Path:
    tree = MemoryTree()
    with BundleWriter(path, origin="accord", vkey=SIGNER.verifier.vkey) as bundle:
        for leaf in leaves:
            tree.append(leaf_hash(leaf))
        previous = 0
        for seq, size in enumerate(checkpoint_sizes):
            stamp = BASE_TIME + stamp_offset + timedelta(milliseconds=seq)
            note = SIGNER.sign(Checkpoint("accord", size, tree.root(size), stamp)).note
            bundle.add_checkpoint(seq, note, tree.consistency_proof(previous, size) if previous else [])
            previous = size
        for index, leaf in enumerate(leaves):
            bundle.add_entry(index, leaf, leaf_hash(leaf))
        bundle.finish(tree_size=previous, exported_at=format_time(BASE_TIME))
    return path


def leaves(count: int) -> list[bytes]:
    return [Entry.wrap(i, f"e{i:031d}", request_record(i).encode()) for i in range(count)]


def test_good_bundle_verifies_and_reports_its_checkpoint(tmp_path: Path) -> None:
    report = verify_bundle(
        write_bundle(tmp_path / "b", leaves(10), [3, 7, 10]), public_key=SIGNER.verifier.vkey
    )
    assert report.ok, report.problems
    assert report.latest_checkpoint is not None and report.latest_checkpoint.size == 10
    assert report.warnings == []
    assert report.to_json()["ok"] is True


def test_time_running_backwards_names_the_entry(tmp_path: Path) -> None:
    items = leaves(6)
    items[4] = Entry.wrap(
        4, f"e{4:031d}", replace(request_record(4), time=BASE_TIME - timedelta(hours=1)).encode()
    )
    report = verify_bundle(write_bundle(tmp_path / "b", items, [6]))
    assert str(report.first_problem).startswith("entry 4: time 2026-11-26T11:00:00.000000Z goes back")
    # Within the tolerance it is accepted: batching reorders neighbours slightly.
    lenient = verify_bundle(tmp_path / "b", time_tolerance=7200)
    assert lenient.ok


def test_entry_dated_after_its_checkpoint_names_the_checkpoint(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "b", leaves(5), [2, 5], stamp_offset=-timedelta(hours=1))
    report = verify_bundle(bundle)
    assert str(report.first_problem) == "checkpoint 0: covers an entry dated after it was signed"


def test_non_canonical_and_duplicate_entries_are_named(tmp_path: Path) -> None:
    items = leaves(5)
    items[1] = items[1].replace(b'{"entry_id"', b'{ "entry_id"')
    items[3] = Entry.wrap(3, f"e{2:031d}", request_record(3).encode())
    report = verify_bundle(write_bundle(tmp_path / "b", items, [5]))
    assert [str(p) for p in report.problems] == [
        "entry 1: malformed leaf: not in canonical form",
        f"entry 3: entry id e{2:031d} appears twice (duplicated)",
    ]


def test_floats_and_unknown_versions_are_not_accepted(tmp_path: Path) -> None:
    items = leaves(3)
    items[0] = canonical_json({"entry_id": "x", "index": 0, "record": {"v": 1, "time": "t"}})
    items[1] = items[1].replace(b'"v":1', b'"v":9')
    items[2] = items[2].replace(b'"prompt":12', b'"prompt":1.5')
    problems = [str(p) for p in verify_bundle(write_bundle(tmp_path / "b", items, [3])).problems]
    assert problems[0].startswith("entry 0: malformed leaf: not an RFC 3339 UTC time")
    assert problems[1] == "entry 1: malformed leaf: unknown record version 9"
    assert problems[2].startswith("entry 2: malformed leaf: not JSON: floats are not canonical")


def test_a_different_pinned_key_rejects_every_checkpoint(tmp_path: Path) -> None:
    other = CheckpointSigner(Ed25519PrivateKey.generate(), "accord").verifier.vkey
    report = verify_bundle(write_bundle(tmp_path / "b", leaves(4), [2, 4]), public_key=other)
    assert str(report.first_problem).startswith("checkpoint 0: rejected: no signature by key")
    assert "the bundle carries a different public key; using the pinned one" in report.warnings


def test_unsigned_tail_and_foreign_bundles_are_refused(tmp_path: Path) -> None:
    report = verify_bundle(write_bundle(tmp_path / "b", leaves(6), [4]))
    assert str(report.first_problem) == "entry 4: 2 entries follow the last signed checkpoint"
    (tmp_path / "b" / "manifest.json").write_text('{"format": "something-else"}')
    assert str(verify_bundle(tmp_path / "b").first_problem) == (
        "bundle: not an accord-ledger-bundle version 1"
    )
    assert str(verify_bundle(tmp_path / "missing").first_problem).startswith("bundle: unreadable")


def test_verifier_needs_no_database_server_or_secrets() -> None:
    code = (
        "import sys, accord.ledger.verify; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "{'sqlalchemy', 'starlette', 'psycopg', 'asyncpg', 'typer', 'jinja2'} "
        "or m in {'accord.config', 'accord.ledger.keys', 'accord.ledger.pseudonym', 'accord.ledger.store'}]; "
        "print(bad)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
