"""The gateway's handle on the ledger: durable appends without a global lock, and proofs.

``append`` puts the record on an in-process queue and awaits its batch's commit: a writer thread
takes everything waiting, INSERTs it into ``ledger_queue`` in one transaction (group commit) and
resolves every caller's future. The entry is durable when the caller gets its ``Receipt``. A
background sequencer (see :mod:`accord.ledger.sequencer`) gives indices and signs checkpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from accord.config import Settings
from accord.ledger.bundle import BundleWriter
from accord.ledger.checkpoint import CheckpointSigner, CheckpointVerifier, SignedCheckpoint
from accord.ledger.keys import load_signing_key
from accord.ledger.merkle import consistency_plan, inclusion_plan, resolve
from accord.ledger.record import AdminRecord, Entry, InvalidRecord, RequestRecord, format_time
from accord.ledger.sequencer import Integration, Sequencer
from accord.ledger.store import LedgerStore, QueuedRecord, StoredCheckpoint
from accord.ledger.timeutil import from_us, now_us

logger = logging.getLogger(__name__)

_BATCH_LIMIT = 2000


class LedgerUnavailable(Exception):
    """The ledger could not record or answer; the gateway must refuse the request."""


class ProofUnavailable(LookupError):
    """No such entry, or it is not yet covered by a signed checkpoint."""


def _expire(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_exception(LedgerUnavailable("the ledger did not commit in time"))


@dataclass(frozen=True, slots=True)
class Receipt:
    entry_id: str
    queued_at: datetime


@dataclass(slots=True)
class _Pending:
    row: QueuedRecord
    done: asyncio.Future[None]
    loop: asyncio.AbstractEventLoop


def _settle(batch: list[_Pending], error: Exception | None) -> None:
    """On the event loop: tell each caller its record is durable (or why not)."""
    for pending in batch:
        if pending.done.done():  # timed out meanwhile
            continue
        if error is None:
            pending.done.set_result(None)
        else:
            pending.done.set_exception(error)


class Ledger:
    def __init__(
        self,
        store: LedgerStore,
        signer: CheckpointSigner,
        *,
        run_sequencer: bool,
        poll_interval: float = 0.1,
        append_timeout: float = 10.0,
    ) -> None:
        self._store = store
        self._signer = signer
        self._sequencer = Sequencer(store, signer)
        self._poll_interval = poll_interval
        self._append_timeout = append_timeout
        # Writer threads block on this queue themselves: no executor hand-off or task wake-up between
        # an append and its INSERT, which at low load is most of an append's wait besides the fsync.
        self._pending: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        # Two writers on PostgreSQL overlap one batch's commit with the next; SQLite has one writer.
        self._writers = [
            threading.Thread(target=self._write_loop, name=f"ledger-write-{n}", daemon=True)
            for n in range(1 if store.is_sqlite else 2)
        ]
        for writer in self._writers:
            writer.start()
        self._sequence_pool = ThreadPoolExecutor(1, thread_name_prefix="ledger-sequence")
        self._closed = False
        self._last_signed: SignedCheckpoint | None = None
        self._proof_checkpoint: tuple[StoredCheckpoint | None, int] = (None, 0)
        self._tasks: list[asyncio.Task[None]] = []
        if run_sequencer:
            self._tasks.append(asyncio.create_task(self._sequence_loop()))

    @classmethod
    async def open(cls, settings: Settings, *, origin: str = "accord", run_sequencer: bool = True) -> Ledger:
        def _prepare() -> tuple[LedgerStore, CheckpointSigner]:
            store = LedgerStore(settings.database_url)
            try:
                store.check()
                return store, CheckpointSigner(load_signing_key(settings.keys_dir), origin)
            except BaseException:
                store.dispose()
                raise

        try:
            store, signer = await asyncio.to_thread(_prepare)
        except Exception as exc:
            raise LedgerUnavailable(f"cannot open the ledger: {type(exc).__name__}: {exc}") from exc
        return cls(store, signer, run_sequencer=run_sequencer)

    @property
    def verifier(self) -> CheckpointVerifier:
        return self._signer.verifier

    async def append(self, record: RequestRecord | AdminRecord) -> Receipt:
        if self._closed:
            raise LedgerUnavailable("the ledger is closed")
        try:
            data = record.encode()
        except ValueError as exc:
            raise LedgerUnavailable(f"record cannot be encoded: {exc}") from exc
        queued_at = now_us()
        row = QueuedRecord(
            entry_id=uuid.uuid4().hex,
            request_id=record.request_id if isinstance(record, RequestRecord) else None,
            record=data,
            queued_at_us=queued_at,
        )
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._pending.put(_Pending(row, done, loop))
        # A timer on the future itself (not wait_for + shield: two more futures and a task per
        # request). The writer skips futures already settled, so a late commit is harmless.
        timer = loop.call_later(self._append_timeout, _expire, done)
        try:
            await done
        finally:
            timer.cancel()
        return Receipt(entry_id=row.entry_id, queued_at=from_us(queued_at))

    def _write_loop(self) -> None:
        """A writer thread: commit whatever is waiting as one batch, until told to stop (``None``)."""
        while True:
            first = self._pending.get()
            if first is None:
                return
            batch, stopping = [first], False
            while len(batch) < _BATCH_LIMIT:
                try:
                    pending = self._pending.get_nowait()
                except queue.Empty:
                    break
                if pending is None:
                    stopping = True
                    break
                batch.append(pending)
            try:
                self._commit(batch)
            except Exception:  # never leave callers hanging on a bug here: they time out, refused
                logger.exception("ledger writer failed")
            if stopping:
                return

    def _commit(self, batch: list[_Pending]) -> None:
        error: Exception | None = None
        try:
            self._store.enqueue([p.row for p in batch])
        except Exception as exc:
            if len(batch) > 1:
                # One unstorable record must not refuse its neighbours' requests: retry one by one.
                for pending in batch:
                    self._commit([pending])
                return
            logger.error("ledger append failed: %s", type(exc).__name__)
            error = LedgerUnavailable(f"ledger append failed: {type(exc).__name__}")
        by_loop: dict[asyncio.AbstractEventLoop, list[_Pending]] = {}
        for pending in batch:
            by_loop.setdefault(pending.loop, []).append(pending)
        for loop, settled in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits any more
                loop.call_soon_threadsafe(_settle, settled, error)

    async def _integrate(self, *, force: bool, wait: bool) -> Integration:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._sequence_pool,
            lambda: self._sequencer.integrate_once(force_checkpoint=force, wait_for_lock=wait),
        )

    async def _sequence_loop(self) -> None:
        delay = self._poll_interval
        while True:
            try:
                result = await self._integrate(force=False, wait=False)
            except Exception as exc:
                logger.error("ledger sequencing failed: %s: %s", type(exc).__name__, exc)
                delay = min(delay * 2, 5.0)
            else:
                delay = 0.0 if result.backlog else self._poll_interval
            await asyncio.sleep(delay)

    async def integrate_now(self) -> int:
        """Sequence everything queued and sign a checkpoint; returns the tree size."""
        try:
            while True:
                result = await self._integrate(force=True, wait=True)
                if not result.backlog:
                    return result.tree_size
        except Exception as exc:
            raise LedgerUnavailable(f"ledger sequencing failed: {type(exc).__name__}: {exc}") from exc

    async def latest_checkpoint(self) -> SignedCheckpoint | None:
        try:
            stored = await asyncio.to_thread(self._store.latest_checkpoint)
            return None if stored is None else self._signed(stored)
        except Exception as exc:
            raise LedgerUnavailable(
                f"cannot read the latest checkpoint: {type(exc).__name__}: {exc}"
            ) from exc

    def _signed(self, stored: StoredCheckpoint) -> SignedCheckpoint:
        """Never hand out a checkpoint the key did not sign (the last good one is remembered)."""
        cached = self._last_signed
        if cached is None or cached.note != stored.note:
            cached = self._last_signed = SignedCheckpoint(self.verifier.verify(stored.note), stored.note)
        return cached

    async def prove(self, request_id: str) -> dict[str, object]:
        """Inclusion proof of the entry for ``request_id`` (or entry id) in the latest checkpoint."""
        try:
            return await asyncio.to_thread(self._prove, request_id)
        except (ProofUnavailable, LedgerUnavailable):
            raise
        except Exception as exc:
            raise LedgerUnavailable(f"cannot prove: {type(exc).__name__}: {exc}") from exc

    def _prove(self, request_id: str) -> dict[str, object]:
        with self._store.read_immutable() as conn:
            entry = self._store.find_entry(conn, request_id)
            if entry is None:
                raise ProofUnavailable(f"no sequenced entry for {request_id!r}")
            # Any signed checkpoint covering the entry will do: re-read the latest only when the one
            # we hold does not cover it or was read more than a second ago.
            stored, read_at = self._proof_checkpoint
            if stored is None or stored.tree_size <= entry.index or now_us() - read_at > 1_000_000:
                stored, read_at = self._store.last_checkpoint(conn), now_us()
                self._proof_checkpoint = (stored, read_at)
            if stored is None or stored.tree_size <= entry.index:
                raise ProofUnavailable(f"entry {entry.index} is not yet covered by a signed checkpoint")
            plan = inclusion_plan(entry.index, stored.tree_size)
            nodes = self._store.nodes(conn, [node for part in plan for node in part])
        path = resolve(plan, nodes.__getitem__)
        signed = self._signed(stored)
        return {
            "entry_id": entry.entry_id,
            "request_id": entry.request_id,
            "leaf_index": entry.index,
            "tree_size": stored.tree_size,
            "leaf": entry.leaf.decode("utf-8"),
            "leaf_hash": entry.leaf_hash.hex(),
            "root_hash": stored.root_hash.hex(),
            "audit_path": [h.hex() for h in path],
            "checkpoint": signed.note,
            "public_key": self.verifier.vkey,
        }

    async def prove_consistency(self, old_size: int) -> dict[str, object]:
        """Consistency proof from the tree of ``old_size`` leaves (a checkpoint the caller kept) to
        the latest checkpoint: RFC 9162 §2.1.4, hashes in lowercase hex."""
        try:
            return await asyncio.to_thread(self._prove_consistency, old_size)
        except (ProofUnavailable, LedgerUnavailable):
            raise
        except Exception as exc:
            raise LedgerUnavailable(f"cannot prove: {type(exc).__name__}: {exc}") from exc

    def _prove_consistency(self, old_size: int) -> dict[str, object]:
        with self._store.read_immutable() as conn:
            stored = self._store.last_checkpoint(conn)
            if stored is None or not 0 <= old_size <= stored.tree_size:
                raise ProofUnavailable(f"no signed tree to prove size {old_size} against")
            plan = consistency_plan(old_size, stored.tree_size)
            nodes = self._store.nodes(conn, [node for part in plan for node in part])
        return {
            "old_size": old_size,
            "tree_size": stored.tree_size,
            "root_hash": stored.root_hash.hex(),
            "consistency_path": [h.hex() for h in resolve(plan, nodes.__getitem__)],
            "checkpoint": self._signed(stored).note,
            "public_key": self.verifier.vkey,
        }

    async def scan(self, visit: Callable[[Entry], None]) -> SignedCheckpoint | None:
        """Feed every entry the latest checkpoint covers to ``visit``, in index order, from a worker
        thread (so ``visit`` must not touch the event loop). Returns that checkpoint."""
        try:
            return await asyncio.to_thread(self._scan, visit)
        except InvalidRecord as exc:
            raise LedgerUnavailable(f"stored entry is malformed: {exc}") from exc
        except Exception as exc:
            if isinstance(exc, LedgerUnavailable):
                raise
            raise LedgerUnavailable(f"cannot read the ledger: {type(exc).__name__}: {exc}") from exc

    def _scan(self, visit: Callable[[Entry], None]) -> SignedCheckpoint | None:
        stored = self._store.latest_checkpoint()
        if stored is None:
            return None
        for entry in self._store.iter_entries(stored.tree_size):
            visit(Entry.decode(entry.leaf))
        return self._signed(stored)

    async def export(self, out: Path) -> dict[str, object]:
        """Write the overseer's bundle (see :mod:`accord.ledger.bundle`); returns its manifest figures."""
        try:
            return await asyncio.to_thread(self._export, out)
        except Exception as exc:
            raise LedgerUnavailable(f"export failed: {type(exc).__name__}: {exc}") from exc

    def _export(self, out: Path) -> dict[str, object]:
        checkpoints = self._store.checkpoints()
        tree_size = checkpoints[-1].tree_size if checkpoints else 0
        with BundleWriter(out, origin=self._signer.origin, vkey=self.verifier.vkey) as bundle:
            previous = 0
            # Proofs for a window of checkpoints are fetched together: one query per 500 node hashes,
            # not one per checkpoint (a checkpoint a second is 86,400 a day).
            for start in range(0, len(checkpoints), 2000):
                window = checkpoints[start : start + 2000]
                plans = []
                for stored in window:
                    ordered = 0 < previous <= stored.tree_size
                    plans.append(consistency_plan(previous, stored.tree_size) if ordered else [])
                    previous = stored.tree_size
                with self._store.read_immutable() as conn:
                    wanted = [node for plan in plans for part in plan for node in part]
                    nodes = self._store.nodes(conn, wanted, strict=False)
                for stored, plan in zip(window, plans, strict=True):
                    # A damaged store exports what it has: the verifier, not the exporter, judges it.
                    complete = all(node in nodes for part in plan for node in part)
                    proof = resolve(plan, nodes.__getitem__) if complete else []
                    bundle.add_checkpoint(stored.seq, stored.note, proof)
            for entry in self._store.iter_entries(tree_size):
                bundle.add_entry(entry.index, entry.leaf, entry.leaf_hash)
            bundle.finish(tree_size=tree_size, exported_at=format_time(datetime.now(UTC)))
        return {
            "path": str(out),
            "tree_size": tree_size,
            "entries": bundle.entry_count,
            "checkpoints": bundle.checkpoint_count,
        }

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Appends already queued are committed first: each writer stops at its ``None``.
        for _ in self._writers:
            self._pending.put(None)
        for writer in self._writers:
            await asyncio.to_thread(writer.join, self._append_timeout)
            if writer.is_alive():
                logger.error("ledger closed with appends still in flight")
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # Off the event loop: a sequencer pass in flight finishes (or rolls back) before the engine goes.
        await asyncio.to_thread(self._sequence_pool.shutdown, True)
        await asyncio.to_thread(self._store.dispose)
