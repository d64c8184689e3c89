"""Tamper with the stored log directly in the database; export and verify must name the damage."""

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, update

from accord.config import Settings
from accord.ledger.log import Ledger
from accord.ledger.merkle import leaf_hash
from accord.ledger.record import Entry
from accord.ledger.store import LedgerStore, checkpoint_table, entry_table, node_table
from accord.ledger.verify import VerifyReport, verify_bundle

from .ledger_samples import request_record

BATCH = 4
BATCHES = 3  # checkpoints at sizes 4, 8 and 12


@pytest.fixture
async def populated(settings: Settings) -> Settings:
    ledger = await Ledger.open(settings, run_sequencer=False)
    try:
        for batch in range(BATCHES):
            for i in range(BATCH):
                await ledger.append(request_record(batch * BATCH + i))
            await ledger.integrate_now()
    finally:
        await ledger.close()
    return settings


async def export(settings: Settings, out: Path) -> Path:
    ledger = await Ledger.open(settings, run_sequencer=False)
    try:
        await ledger.export(out)
    finally:
        await ledger.close()
    return out


def tamper(settings: Settings, *statements: object) -> None:
    store = LedgerStore(settings.database_url)
    try:
        with store.write_engine.begin() as conn:
            for statement in statements:
                conn.execute(statement)  # type: ignore[call-overload]
    finally:
        store.dispose()


def leaf_at(settings: Settings, index: int) -> bytes:
    store = LedgerStore(settings.database_url)
    try:
        with store.read() as conn:
            leaf: bytes = conn.execute(
                select(entry_table.c.leaf).where(entry_table.c.idx == index)
            ).scalar_one()
            return leaf
    finally:
        store.dispose()


async def verified(settings: Settings, tmp_path: Path, **kwargs: str) -> VerifyReport:
    bundle = await export(settings, tmp_path / "bundle")
    return verify_bundle(bundle, **kwargs)  # type: ignore[arg-type]


async def test_untouched_log_verifies(populated: Settings, tmp_path: Path) -> None:
    report = await verified(populated, tmp_path)
    assert report.ok, report.problems
    assert (report.entries, report.checkpoints, report.tree_size) == (12, 3, 12)


async def test_edited_leaf_is_named(populated: Settings, tmp_path: Path) -> None:
    forged = leaf_at(populated, 5).replace(b'"decision":"allow"', b'"decision":"deny"')
    tamper(populated, update(entry_table).where(entry_table.c.idx == 5).values(leaf=forged))
    report = await verified(populated, tmp_path)
    assert not report.ok
    assert str(report.first_problem) == "entry 5: leaf does not hash to its stored hash (edited)"


async def test_edited_leaf_with_rehashed_store_is_pinned_to_its_checkpoint(
    populated: Settings, tmp_path: Path
) -> None:
    forged = leaf_at(populated, 5).replace(b'"decision":"allow"', b'"decision":"deny"')
    digest = leaf_hash(forged)
    tamper(
        populated,
        update(entry_table).where(entry_table.c.idx == 5).values(leaf=forged, leaf_hash=digest),
        update(node_table).where(node_table.c.id == (5 << 6)).values(hash=digest),
    )
    report = await verified(populated, tmp_path)
    assert not report.ok
    first = report.first_problem
    assert first is not None and (first.kind, first.position) == ("checkpoint", 1)
    assert "[4, 8)" in first.message


async def test_deleted_row_is_named(populated: Settings, tmp_path: Path) -> None:
    tamper(populated, delete(entry_table).where(entry_table.c.idx == 6))
    report = await verified(populated, tmp_path)
    assert str(report.first_problem) == "entry 6: line holds index 7 (missing, inserted or reordered)"


async def test_deleted_tail_is_named(populated: Settings, tmp_path: Path) -> None:
    tamper(populated, delete(entry_table).where(entry_table.c.idx >= 10))
    report = await verified(populated, tmp_path)
    assert str(report.first_problem) == "entry 10: missing: bundle ends at 10 entries, signed up to 12"


async def test_reordered_rows_are_named(populated: Settings, tmp_path: Path) -> None:
    e = entry_table.c
    tamper(
        populated,
        update(entry_table).where(e.idx == 2).values(idx=-1),
        update(entry_table).where(e.idx == 3).values(idx=2),
        update(entry_table).where(e.idx == -1).values(idx=3),
    )
    report = await verified(populated, tmp_path)
    assert str(report.first_problem) == "entry 2: leaf commits to index 3 (moved or reordered)"


async def test_inserted_row_is_named(populated: Settings, tmp_path: Path) -> None:
    e = entry_table.c
    shifts = [update(entry_table).where(e.idx == i).values(idx=i + 1) for i in range(11, 4, -1)]
    record = request_record(99).encode()
    forged = Entry.wrap(5, "f" * 32, record)
    row = {
        "idx": 5,
        "entry_id": "f" * 32,
        "request_id": "req-99",
        "leaf": forged,
        "leaf_hash": leaf_hash(forged),
        "queued_at_us": 0,
        "sequenced_at_us": 0,
    }
    tamper(populated, *shifts, insert(entry_table).values(**row))
    report = await verified(populated, tmp_path)
    # The forged leaf is self-consistent; its successor gives the insertion away.
    assert str(report.first_problem) == "entry 6: leaf commits to index 5 (moved or reordered)"
    assert any(p.kind == "checkpoint" and "[4, 8)" in p.message for p in report.problems)


async def test_swapped_checkpoints_are_named(populated: Settings, tmp_path: Path) -> None:
    c = checkpoint_table.c
    store = LedgerStore(populated.database_url)
    notes = {cp.seq: cp.note for cp in store.checkpoints()}
    store.dispose()
    tamper(
        populated,
        update(checkpoint_table).where(c.seq == 1).values(note=notes[2]),
        update(checkpoint_table).where(c.seq == 2).values(note=notes[1]),
    )
    report = await verified(populated, tmp_path)
    assert str(report.first_problem) == "checkpoint 1: is not consistent with the previous tree of 4"


async def test_deleted_checkpoint_is_named(populated: Settings, tmp_path: Path) -> None:
    tamper(populated, delete(checkpoint_table).where(checkpoint_table.c.seq == 1))
    report = await verified(populated, tmp_path)
    assert str(report.first_problem) == "checkpoint 1: is numbered 2 (missing, inserted or reordered)"


async def test_checkpoint_signed_by_another_key_is_named(populated: Settings, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from accord.ledger.checkpoint import CheckpointSigner

    store = LedgerStore(populated.database_url)
    original = store.checkpoints()[2]
    store.dispose()
    from accord.ledger.checkpoint import CheckpointVerifier

    genuine = CheckpointVerifier.from_vkey(
        (await export(populated, tmp_path / "a")).joinpath("public_key.vkey").read_text()
    )
    checkpoint = genuine.verify(original.note)
    forged = CheckpointSigner(Ed25519PrivateKey.generate(), "accord").sign(checkpoint).note
    tamper(populated, update(checkpoint_table).where(checkpoint_table.c.seq == 2).values(note=forged))
    report = await verified(populated, tmp_path)
    first = report.first_problem
    assert first is not None and (first.kind, first.position) == ("checkpoint", 2)
    assert "no signature by key" in first.message


async def rollback(settings: Settings, keep: int) -> None:
    """What an operator holding the signing key could do: cut the log back to ``keep`` leaves."""
    store = LedgerStore(settings.database_url)
    try:
        with store.read() as conn:
            node_ids = list(conn.scalars(select(node_table.c.id)))
        doomed = [nid for nid in node_ids if ((nid >> 6) + 1) << (nid & 63) > keep]
    finally:
        store.dispose()
    tamper(
        settings,
        delete(entry_table).where(entry_table.c.idx >= keep),
        delete(node_table).where(node_table.c.id.in_(doomed)),
        delete(checkpoint_table).where(checkpoint_table.c.tree_size > keep),
    )


async def test_rollback_is_caught_by_a_previously_exported_checkpoint(
    populated: Settings, tmp_path: Path
) -> None:
    first_export = await export(populated, tmp_path / "earlier")
    trusted = json.loads(first_export.joinpath("checkpoints.jsonl").read_text().splitlines()[-1])["note"]
    await rollback(populated, 8)
    alone = await verified(populated, tmp_path / "truncated")
    assert alone.ok  # a truncated log is self-consistent...
    report = await verified(populated, tmp_path / "truncated-again", trusted_checkpoint=trusted)
    assert str(report.first_problem) == "bundle: rolled back: trusted checkpoint has 12 leaves, bundle 8"


async def test_rewritten_history_re_signed_with_the_key_is_caught(
    populated: Settings, tmp_path: Path
) -> None:
    first_export = await export(populated, tmp_path / "earlier")
    trusted = json.loads(first_export.joinpath("checkpoints.jsonl").read_text().splitlines()[-1])["note"]
    await rollback(populated, 8)
    ledger = await Ledger.open(populated, run_sequencer=False)
    try:
        await asyncio.gather(*(ledger.append(request_record(500 + i)) for i in range(6)))
        assert await ledger.integrate_now() == 14
    finally:
        await ledger.close()
    alone = await verified(populated, tmp_path / "rewritten")
    assert alone.ok  # ...and so is a rewritten one signed with the real key,
    report = await verified(populated, tmp_path / "rewritten-again", trusted_checkpoint=trusted)
    # ...but not against what the overseer kept.
    assert str(report.first_problem) == "bundle: history differs from the trusted checkpoint at size 12"


async def test_damaged_node_table_still_exports_and_is_flagged(populated: Settings, tmp_path: Path) -> None:
    tamper(populated, delete(node_table).where(node_table.c.id == ((1 << 6) | 2)))  # the (level 2, 1) node
    report = await verified(populated, tmp_path)
    first = report.first_problem
    assert first is not None and first.kind == "checkpoint"
    assert "is not consistent with the previous tree" in first.message
