import asyncio
import hashlib
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from accord.config import Settings
from accord.ledger.checkpoint import CheckpointSigner, CheckpointVerifier
from accord.ledger.keys import load_signing_key
from accord.ledger.log import Ledger, LedgerUnavailable, ProofUnavailable
from accord.ledger.merkle import verify_consistency, verify_inclusion
from accord.ledger.sequencer import Sequencer, advisory_lock_key
from accord.ledger.store import LedgerStore, QueuedRecord

from .conftest import apply_ledger_migration
from .ledger_samples import admin_record, request_record


def check_proof(proof: dict[str, object]) -> None:
    """Verify a ``prove`` answer using only its own fields and the public key."""
    verifier = CheckpointVerifier.from_vkey(str(proof["public_key"]))
    checkpoint = verifier.verify(str(proof["checkpoint"]))
    leaf = str(proof["leaf"]).encode()
    assert hashlib.sha256(b"\x00" + leaf).hexdigest() == proof["leaf_hash"]
    assert checkpoint.size == proof["tree_size"]
    assert checkpoint.root_hash.hex() == proof["root_hash"]
    path = [bytes.fromhex(h) for h in proof["audit_path"]]  # type: ignore[attr-defined]
    assert verify_inclusion(
        int(proof["leaf_index"]),  # type: ignore[call-overload]
        checkpoint.size,
        bytes.fromhex(str(proof["leaf_hash"])),
        path,
        checkpoint.root_hash,
    )


async def test_appends_are_sequenced_proved_and_signed(ledger: Ledger) -> None:
    receipts = await asyncio.gather(*(ledger.append(request_record(i)) for i in range(300)))
    assert len({r.entry_id for r in receipts}) == 300
    assert await ledger.latest_checkpoint() is None
    with pytest.raises(ProofUnavailable):
        await ledger.prove("req-3")
    assert await ledger.integrate_now() == 300
    latest = await ledger.latest_checkpoint()
    assert latest is not None and latest.checkpoint.size == 300
    for request_id in ("req-0", "req-1", "req-150", "req-299"):
        proof = await ledger.prove(request_id)
        assert proof["request_id"] == request_id
        check_proof(proof)
    with pytest.raises(ProofUnavailable):
        await ledger.prove("req-unknown")


async def test_admin_acts_are_proved_by_entry_id(ledger: Ledger) -> None:
    await ledger.append(request_record(0))
    receipt = await ledger.append(admin_record(1))
    await ledger.integrate_now()
    proof = await ledger.prove(receipt.entry_id)
    assert proof["leaf_index"] == 1 and proof["request_id"] is None
    assert '"act":"killswitch.set"' in str(proof["leaf"])
    check_proof(proof)


async def test_checkpoints_grow_consistently(ledger: Ledger) -> None:
    sizes = []
    for batch in range(4):
        await asyncio.gather(*(ledger.append(request_record(batch * 10 + i)) for i in range(batch + 1)))
        sizes.append(await ledger.integrate_now())
    assert sizes == [1, 3, 6, 10]
    # Nothing new: no new checkpoint, same size.
    assert await ledger.integrate_now() == 10
    latest = await ledger.latest_checkpoint()
    assert latest is not None and latest.checkpoint.size == 10


async def test_consistency_proofs_link_old_checkpoints_to_the_latest(ledger: Ledger) -> None:
    kept = []
    for batch in range(5):
        await asyncio.gather(*(ledger.append(request_record(batch * 100 + i)) for i in range(7 + batch)))
        await ledger.integrate_now()
        latest = await ledger.latest_checkpoint()
        assert latest is not None
        kept.append(latest.checkpoint)
    final = kept[-1]
    for old in kept:
        answer = await ledger.prove_consistency(old.size)
        path = [bytes.fromhex(h) for h in answer["consistency_path"]]  # type: ignore[attr-defined]
        assert answer["tree_size"] == final.size
        assert verify_consistency(old.size, final.size, old.root_hash, final.root_hash, path)
        if old is not kept[0]:  # the proof is for this old root, not another one
            assert not verify_consistency(old.size, final.size, kept[0].root_hash, final.root_hash, path)
    with pytest.raises(ProofUnavailable):
        await ledger.prove_consistency(final.size + 1)


async def test_two_replicas_sequencing_at_once_never_fork(settings: Settings) -> None:
    first = await Ledger.open(settings, run_sequencer=True)
    second = await Ledger.open(settings, run_sequencer=True)
    try:
        await asyncio.gather(
            *(first.append(request_record(i)) for i in range(400)),
            *(second.append(request_record(1000 + i)) for i in range(400)),
        )
        sizes = await asyncio.gather(first.integrate_now(), second.integrate_now())
        assert max(sizes) == 800
        for request_id in ("req-0", "req-1399", "req-399", "req-1000"):
            check_proof(await second.prove(request_id))
    finally:
        await first.close()
        await second.close()
    store = LedgerStore(settings.database_url)
    try:
        with store.read() as conn:
            assert store.tree_size(conn) == 800
        assert store.queue_length() == 0
        indices = [entry.index for entry in store.iter_entries(800)]
        assert indices == list(range(800))
    finally:
        store.dispose()


async def test_closed_ledger_fails_closed(settings: Settings) -> None:
    ledger = await Ledger.open(settings, run_sequencer=False)
    await ledger.close()
    with pytest.raises(LedgerUnavailable):
        await ledger.append(request_record(0))


async def test_unreachable_or_unmigrated_database_fails_closed(tmp_path: object) -> None:
    from pathlib import Path

    home = Path(str(tmp_path))
    no_tables = Settings(home=home, database_url=f"sqlite:///{home / 'empty.db'}", redis_url=None)
    with pytest.raises(LedgerUnavailable):
        await Ledger.open(no_tables)
    unreachable = Settings(
        home=home, database_url="postgresql+psycopg://postgres@127.0.0.1:1/none", redis_url=None
    )
    with pytest.raises(LedgerUnavailable):
        await Ledger.open(unreachable)


async def test_append_fails_closed_when_the_database_breaks(settings: Settings) -> None:
    ledger = await Ledger.open(settings, run_sequencer=False)
    try:
        await ledger.append(request_record(0))
        store = LedgerStore(settings.database_url)
        with store.write_engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE ledger_queue")
        store.dispose()
        with pytest.raises(LedgerUnavailable):
            await ledger.append(request_record(1))
    finally:
        await ledger.close()


async def test_one_unstorable_record_does_not_refuse_its_batch(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ledger._store
    real_enqueue = store.enqueue

    def enqueue(records: Sequence[QueuedRecord]) -> None:
        if any(r.request_id == "req-13" for r in records):
            raise ValueError("unstorable")
        real_enqueue(records)

    monkeypatch.setattr(store, "enqueue", enqueue)
    results = await asyncio.gather(
        *(ledger.append(request_record(i)) for i in range(40)), return_exceptions=True
    )
    failed = [i for i, result in enumerate(results) if isinstance(result, BaseException)]
    assert failed == [13]
    assert isinstance(results[13], LedgerUnavailable)
    assert await ledger.integrate_now() == 39


async def test_only_one_postgres_sequencer_integrates_at_a_time(postgres_url: str, tmp_path: Path) -> None:
    apply_ledger_migration(postgres_url)
    settings = Settings(home=tmp_path, database_url=postgres_url, redis_url=None)
    ledger = await Ledger.open(settings, run_sequencer=False)
    holder = create_engine(postgres_url)
    try:
        await ledger.append(request_record(0))
        sequencer = Sequencer(ledger._store, CheckpointSigner(load_signing_key(settings.keys_dir), "accord"))
        with holder.begin() as conn:
            # Another replica mid-integration holds the lock for its transaction.
            conn.execute(select(func.pg_advisory_xact_lock(advisory_lock_key("accord"))))
            blocked = await asyncio.to_thread(sequencer.integrate_once)
            assert blocked.locked_out and blocked.integrated == 0
        done = await asyncio.to_thread(sequencer.integrate_once, force_checkpoint=True)
        assert (done.locked_out, done.integrated, done.tree_size) == (False, 1, 1)
    finally:
        holder.dispose()
        await ledger.close()
