"""SQLite sequencing plans a batch outside the write lock: a plan overtaken by another sequencer must
be dropped, never written with indices someone else already gave."""

import asyncio
from pathlib import Path

from accord.config import Settings
from accord.ledger.checkpoint import CheckpointSigner
from accord.ledger.keys import load_signing_key
from accord.ledger.log import Ledger
from accord.ledger.sequencer import Sequencer
from accord.ledger.store import LedgerStore, entry_table

from .conftest import apply_ledger_migration
from .ledger_samples import request_record


async def test_a_plan_overtaken_by_another_sequencer_is_redone_under_the_lock(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'accord.db'}"
    apply_ledger_migration(url)
    settings = Settings(home=tmp_path, database_url=url, redis_url=None)
    ledger = await Ledger.open(settings, run_sequencer=False)
    other_store = LedgerStore(url)  # another process's handle on the same file
    try:
        for index in range(5):
            await ledger.append(request_record(index))
        signer = CheckpointSigner(load_signing_key(settings.keys_dir), "accord")
        ours = Sequencer(ledger._store, signer)
        theirs = Sequencer(other_store, signer)
        planned_sizes: list[int] = []
        real_plan = ours._plan

        def plan_then_get_overtaken(conn):  # type: ignore[no-untyped-def]
            plan = real_plan(conn)
            planned_sizes.append(plan.size)
            if len(planned_sizes) == 1:  # after our read-phase plan, the other sequencer goes first
                assert len(plan.pending) == 8
                assert theirs.integrate_once().integrated == 8
            return plan

        ours._plan = plan_then_get_overtaken  # type: ignore[method-assign]
        for index in range(5, 8):
            await ledger.append(request_record(index))
        # Ours planned indices 0..7 for the 8 queued records, but the other sequencer integrated them
        # first: ours must notice the tree grew, plan again under the lock, and find nothing left.
        result = await asyncio.to_thread(ours.integrate_once, force_checkpoint=True)
        assert planned_sizes == [0, 8]
        assert (result.integrated, result.tree_size) == (0, 8)
        with ledger._store.read() as conn:
            indices = [row.idx for row in conn.execute(entry_table.select().order_by(entry_table.c.idx))]
        assert indices == list(range(8))
        assert await ledger.integrate_now() == 8
        assert ledger._store.queue_is_empty()
    finally:
        other_store.dispose()
        await ledger.close()
