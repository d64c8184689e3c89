"""Moves acknowledged records from the queue into the tree and signs checkpoints.

One integration is one transaction: take the sequencer lock (PostgreSQL: a transaction-scoped
advisory lock, released by commit or by the connection dying; SQLite: ``BEGIN IMMEDIATE``), read the
tree size, give the oldest queued records the next consecutive indices, store their leaves and every
perfect node they complete, delete them from the queue and, when due, sign a checkpoint. A crash
anywhere rolls the whole step back and the records stay queued, so nothing acknowledged is lost and
no index is ever given twice. On SQLite the batch is read and hashed before the write lock is taken
(appends wait for that lock) and used only if the tree size read under the lock is the one planned on.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from accord.ledger.checkpoint import Checkpoint, CheckpointSigner
from accord.ledger.merkle import CompactRange, frontier_nodes, leaf_hash
from accord.ledger.record import Entry
from accord.ledger.store import LedgerStore, QueuedRecord, StoredCheckpoint
from accord.ledger.timeutil import from_us, now_us


@dataclass(frozen=True, slots=True)
class _Plan:
    size: int
    frontier: CompactRange
    pending: list[tuple[int, QueuedRecord]]
    entries: list[dict[str, object]]
    nodes: list[tuple[int, int, bytes]]


@dataclass(frozen=True, slots=True)
class Integration:
    tree_size: int
    integrated: int
    backlog: bool  # the queue held more than one batch
    locked_out: bool = False  # another replica is sequencing


def advisory_lock_key(origin: str) -> int:
    return int.from_bytes(hashlib.sha256(f"accord-ledger:{origin}".encode()).digest()[:8], "big", signed=True)


class Sequencer:
    def __init__(
        self,
        store: LedgerStore,
        signer: CheckpointSigner,
        *,
        batch_size: int = 2000,
        checkpoint_every: int = 1000,
        checkpoint_interval: float = 1.0,
    ) -> None:
        self._store = store
        self._signer = signer
        self._batch_size = batch_size
        self._checkpoint_every = checkpoint_every
        self._checkpoint_interval_us = int(checkpoint_interval * 1_000_000)
        self._lock_key = advisory_lock_key(signer.origin)
        self._frontier = CompactRange()
        self._guard = threading.Lock()
        self._settled_at_us = 0  # when a full pass last left nothing queued and everything signed

    def integrate_once(self, *, force_checkpoint: bool = False, wait_for_lock: bool = False) -> Integration:
        if not force_checkpoint and self._idle():
            return Integration(self._frontier.size, 0, backlog=False)
        with self._guard:
            plan = None
            if self._store.is_sqlite:
                # SQLite has one writer, and appends wait for it: read and hash the batch in a read
                # transaction first, so the write lock is held only for the writes. The plan stands if
                # the tree did not grow meanwhile (only an integration removes queued records).
                with self._store.read_engine.begin() as conn:
                    plan = self._plan(conn)
            with self._store.write_lock, self._store.write_engine.begin() as conn:
                if self._store.is_postgres and not self._lock(conn, wait_for_lock):
                    return Integration(tree_size=-1, integrated=0, backlog=False, locked_out=True)
                if plan is None or self._store.tree_size(conn) != plan.size:
                    plan = self._plan(conn)
                if plan.pending:
                    queue_ids = [queue_id for queue_id, _ in plan.pending]
                    self._store.integrate(conn, queue_ids, plan.entries, plan.nodes)
                signed_size = self._maybe_checkpoint(conn, plan.frontier, force_checkpoint)
        frontier, pending = plan.frontier, plan.pending
        self._frontier = frontier
        self._settled_at_us = now_us() if not pending and signed_size == frontier.size else 0
        return Integration(frontier.size, len(pending), backlog=len(pending) == self._batch_size)

    def _plan(self, conn: Connection) -> _Plan:
        """The next batch's leaves and the perfect-subtree nodes they complete, from ``conn``'s view."""
        size = self._store.tree_size(conn)
        frontier = self._load_frontier(conn, size)
        pending = self._store.pending(conn, self._batch_size)
        entries: list[dict[str, object]] = []
        nodes: list[tuple[int, int, bytes]] = []
        sequenced_at = now_us()
        for _, queued in pending:
            leaf = Entry.wrap(frontier.size, queued.entry_id, queued.record)
            digest = leaf_hash(leaf)
            entries.append(
                {
                    "idx": frontier.size,
                    "entry_id": queued.entry_id,
                    "request_id": queued.request_id,
                    "leaf": leaf,
                    "leaf_hash": digest,
                    "queued_at_us": queued.queued_at_us,
                    "sequenced_at_us": sequenced_at,
                }
            )
            nodes.extend(frontier.append(digest))
        return _Plan(size, frontier, pending, entries, nodes)

    def _idle(self) -> bool:
        """Skip the write transaction (and SQLite's write lock) when a read shows nothing queued and
        our last pass left everything signed; still make a full pass every checkpoint interval, in
        case another replica sequenced entries and died before signing them."""
        if not self._settled_at_us or now_us() - self._settled_at_us >= self._checkpoint_interval_us:
            return False
        return self._store.queue_is_empty()

    def _lock(self, conn: Connection, wait: bool) -> bool:
        if wait:
            conn.execute(select(func.pg_advisory_xact_lock(self._lock_key)))
            return True
        return bool(conn.scalar(select(func.pg_try_advisory_xact_lock(self._lock_key))))

    def _load_frontier(self, conn: Connection, size: int) -> CompactRange:
        """A private copy: the cached one is only replaced after a successful commit."""
        if self._frontier.size != size:
            ids = frontier_nodes(size)
            found = self._store.nodes(conn, ids)
            self._frontier = CompactRange(size, [found[node] for node in ids])
        return CompactRange(self._frontier.size, self._frontier.hashes)

    def _maybe_checkpoint(self, conn: Connection, frontier: CompactRange, force: bool) -> int:
        """Sign when due; returns the size the latest checkpoint now covers."""
        last = self._store.last_checkpoint(conn)
        last_size = last.tree_size if last else 0
        if frontier.size == 0 or frontier.size <= last_size:
            return last_size
        now = now_us()
        due = (
            force
            or last is None
            or frontier.size - last_size >= self._checkpoint_every
            or now - last.timestamp_us >= self._checkpoint_interval_us
        )
        if not due:
            return last_size
        # Strictly increasing timestamps even if replicas' clocks disagree (RFC 6962 §3.5).
        timestamp = max(now, last.timestamp_us + 1) if last else now
        root = frontier.root()
        signed = self._signer.sign(Checkpoint(self._signer.origin, frontier.size, root, from_us(timestamp)))
        self._store.add_checkpoint(
            conn,
            StoredCheckpoint(
                seq=(last.seq + 1) if last else 0,
                tree_size=frontier.size,
                root_hash=root,
                timestamp_us=timestamp,
                note=signed.note,
            ),
        )
        return frontier.size
