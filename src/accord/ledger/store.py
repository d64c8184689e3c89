"""The ledger's tables and the few SQL statements the queue, sequencer, prover and exporter need.

``ledger_queue`` holds acknowledged-but-unsequenced records (appending is one INSERT, batched);
``ledger_entry`` the sequenced leaves; ``ledger_node`` every perfect-subtree hash (so any proof is one
indexed lookup); ``ledger_checkpoint`` the signed tree heads. Writes on SQLite start with
``BEGIN IMMEDIATE`` so the sequencer reads the tree size under the database's write lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.pool import PoolProxiedConnection

from accord.ledger.merkle import NodeId
from accord.store.base import Base

_AutoId = BigInteger().with_variant(Integer, "sqlite")

queue_table = Table(
    "ledger_queue",
    Base.metadata,
    Column("id", _AutoId, primary_key=True, autoincrement=True),
    Column("entry_id", String(32), nullable=False, unique=True),
    Column("request_id", String(200), nullable=True),
    Column("record", LargeBinary, nullable=False),
    Column("queued_at_us", BigInteger, nullable=False),
)

entry_table = Table(
    "ledger_entry",
    Base.metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("entry_id", String(32), nullable=False, unique=True),
    Column("request_id", String(200), nullable=True),
    Column("leaf", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Column("queued_at_us", BigInteger, nullable=False),
    Column("sequenced_at_us", BigInteger, nullable=False),
    Index("ix_ledger_entry_request_id", "request_id", "idx"),
)

# One integer key per perfect subtree, ``(index << 6) | level``, so a proof's nodes are one IN (...) on
# the primary key (SQLite does not use an index for row-value IN lists).
node_table = Table(
    "ledger_node",
    Base.metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)


def node_key(node: NodeId) -> int:
    level, index = node
    return (index << 6) | level


checkpoint_table = Table(
    "ledger_checkpoint",
    Base.metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("tree_size", BigInteger, nullable=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("timestamp_us", BigInteger, nullable=False),
    Column("note", Text, nullable=False),
)

LEDGER_TABLES = (queue_table, entry_table, node_table, checkpoint_table)


_ENQUEUE_SQL = (
    f"INSERT INTO {queue_table.name} (entry_id, request_id, record, queued_at_us) VALUES (?, ?, ?, ?)"
)


# Bound parameters per SQLite statement (its limit is 32,766 since 3.32).
_SQLITE_VARIABLES = 8000


def _insert_rows(conn: Connection, table: Table, rows: list[dict[str, object]]) -> None:
    """``INSERT ... VALUES (...), (...)`` in as few statements as the parameter limit allows."""
    if not rows:
        return
    columns = list(rows[0])
    per_statement = max(1, _SQLITE_VARIABLES // len(columns))
    group = "(" + ", ".join("?" * len(columns)) + ")"
    head = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES "
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        params = tuple(row[column] for row in chunk for column in columns)
        conn.exec_driver_sql(head + ", ".join([group] * len(chunk)), params)


class LedgerCorrupt(RuntimeError):
    """The stored tree is missing hashes it must have: stop rather than sign a wrong root."""


@dataclass(frozen=True, slots=True)
class QueuedRecord:
    entry_id: str
    request_id: str | None
    record: bytes
    queued_at_us: int


@dataclass(frozen=True, slots=True)
class StoredEntry:
    index: int
    entry_id: str
    request_id: str | None
    leaf: bytes
    leaf_hash: bytes


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    seq: int
    tree_size: int
    root_hash: bytes
    timestamp_us: int
    note: str


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 30.0, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's begin event issues BEGIN below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk (WAL fsynced) before the append is acknowledged.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class LedgerStore:
    def __init__(self, database_url: str) -> None:
        self.is_sqlite = database_url.startswith("sqlite")
        self.is_postgres = database_url.startswith("postgresql")
        # SQLite has one writer: if the queue writer and the sequencer collide on its lock, the loser
        # sleeps in SQLite's busy handler with growing back-offs (tens of ms on the append path).
        # Taking turns on an in-process lock first makes the wait exactly as long as the other write.
        self.write_lock: AbstractContextManager[object] = (
            threading.Lock() if database_url.startswith("sqlite") else nullcontext()
        )
        self._raw_writer: PoolProxiedConnection | None = None
        if self.is_sqlite:
            self.write_engine = _sqlite_engine(database_url, immediate=True)
            self.read_engine = _sqlite_engine(database_url, immediate=False)
        else:
            self.write_engine = self.read_engine = create_engine(database_url, pool_size=8)

    def create_tables(self) -> None:
        """For tests and benchmarks; deployments get the tables from the Alembic revision."""
        Base.metadata.create_all(self.write_engine, tables=list(LEDGER_TABLES))

    def check(self) -> None:
        with self.read_engine.begin() as conn:
            conn.execute(select(checkpoint_table.c.seq).limit(1)).all()

    def dispose(self) -> None:
        if self._raw_writer is not None:
            self._raw_writer.close()
            self._raw_writer = None
        self.write_engine.dispose()
        self.read_engine.dispose()

    def enqueue(self, records: Sequence[QueuedRecord]) -> None:
        """One transaction (one fsync) for the whole batch; durable when this returns."""
        if self.is_sqlite:
            with self.write_lock:
                self._enqueue_sqlite([(r.entry_id, r.request_id, r.record, r.queued_at_us) for r in records])
            return
        with self.write_engine.begin() as conn:
            conn.execute(
                insert(queue_table),
                [
                    {
                        "entry_id": r.entry_id,
                        "request_id": r.request_id,
                        "record": r.record,
                        "queued_at_us": r.queued_at_us,
                    }
                    for r in records
                ],
            )

    def _enqueue_sqlite(self, rows: list[tuple[str, str | None, bytes, int]]) -> None:
        """On the DB-API connection itself: the append path is one small transaction per batch, and
        SQLAlchemy's per-transaction bookkeeping cost as much CPU as SQLite's own commit. The
        connection comes from the write engine, so it has the same WAL / synchronous=FULL set-up."""
        connection = self._raw_writer
        if connection is None:
            connection = self._raw_writer = self.write_engine.raw_connection()
        cursor = connection.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
            cursor.executemany(_ENQUEUE_SQL, rows)
            cursor.execute("COMMIT")
        except BaseException:
            self._raw_writer = None
            try:
                if connection.driver_connection is not None and connection.driver_connection.in_transaction:
                    connection.driver_connection.rollback()
            finally:
                connection.invalidate()  # a fresh connection next time, whatever state this one is in
            raise
        finally:
            cursor.close()

    # The sequencer's statements take its open connection: they run inside its one transaction.

    @staticmethod
    def tree_size(conn: Connection) -> int:
        return int(conn.scalar(select(func.coalesce(func.max(entry_table.c.idx) + 1, 0))) or 0)

    @staticmethod
    def pending(conn: Connection, limit: int) -> list[tuple[int, QueuedRecord]]:
        q = queue_table.c
        rows = conn.execute(
            select(q.id, q.entry_id, q.request_id, q.record, q.queued_at_us).order_by(q.id).limit(limit)
        ).all()
        return [
            (row.id, QueuedRecord(row.entry_id, row.request_id, row.record, row.queued_at_us)) for row in rows
        ]

    @staticmethod
    def nodes(conn: Connection, ids: Sequence[NodeId], *, strict: bool = True) -> dict[NodeId, bytes]:
        found: dict[NodeId, bytes] = {}
        wanted = list(dict.fromkeys(ids))
        for start in range(0, len(wanted), 500):
            keys = {node_key(node): node for node in wanted[start : start + 500]}
            n = node_table.c
            rows = conn.execute(select(n.id, n.hash).where(n.id.in_(list(keys)))).all()
            found.update({keys[row.id]: row.hash for row in rows})
        missing = [node for node in wanted if node not in found]
        if missing and strict:
            raise LedgerCorrupt(f"stored tree is missing node hashes {missing[:5]}")
        return found

    @staticmethod
    def integrate(
        conn: Connection,
        queue_ids: Sequence[int],
        entries: Sequence[dict[str, object]],
        nodes: Sequence[tuple[int, int, bytes]],
    ) -> None:
        node_rows = [{"id": (ix << 6) | lv, "hash": h} for lv, ix, h in nodes]
        if conn.dialect.name == "sqlite":
            # One multi-row statement per table: sqlite3 drops and retakes the GIL around every row of
            # an executemany, and while the event loop's thread is busy each retake can wait, all of
            # it inside the write lock that appends are waiting for.
            _insert_rows(conn, entry_table, list(entries))
            _insert_rows(conn, node_table, node_rows)
            for start in range(0, len(queue_ids), _SQLITE_VARIABLES):
                ids = queue_ids[start : start + _SQLITE_VARIABLES]
                marks = ", ".join("?" * len(ids))
                conn.exec_driver_sql(f"DELETE FROM {queue_table.name} WHERE id IN ({marks})", tuple(ids))
            return
        conn.execute(insert(entry_table), list(entries))
        conn.execute(insert(node_table), node_rows)
        for start in range(0, len(queue_ids), 500):
            conn.execute(delete(queue_table).where(queue_table.c.id.in_(queue_ids[start : start + 500])))

    @staticmethod
    def last_checkpoint(conn: Connection) -> StoredCheckpoint | None:
        row = conn.execute(select(checkpoint_table).order_by(checkpoint_table.c.seq.desc()).limit(1)).first()
        return None if row is None else StoredCheckpoint(**row._mapping)

    @staticmethod
    def add_checkpoint(conn: Connection, checkpoint: StoredCheckpoint) -> None:
        conn.execute(
            insert(checkpoint_table),
            {
                "seq": checkpoint.seq,
                "tree_size": checkpoint.tree_size,
                "root_hash": checkpoint.root_hash,
                "timestamp_us": checkpoint.timestamp_us,
                "note": checkpoint.note,
            },
        )

    # Readers.

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        with self.read_engine.begin() as conn:
            return self.last_checkpoint(conn)

    def checkpoints(self) -> list[StoredCheckpoint]:
        with self.read_engine.begin() as conn:
            rows = conn.execute(select(checkpoint_table).order_by(checkpoint_table.c.seq)).all()
        return [StoredCheckpoint(**row._mapping) for row in rows]

    @staticmethod
    def find_entry(conn: Connection, request_id: str) -> StoredEntry | None:
        """By request id, or by entry id for records (admin acts) that have none."""
        e = entry_table.c
        columns = (e.idx, e.entry_id, e.request_id, e.leaf, e.leaf_hash)
        # The (request_id, idx) index answers this directly; with request_id alone PostgreSQL may walk
        # the primary key instead.
        row = conn.execute(
            select(*columns).where(e.request_id == request_id).order_by(e.idx).limit(1)
        ).first()
        if row is None:
            row = conn.execute(select(*columns).where(e.entry_id == request_id)).first()
        return (
            None
            if row is None
            else StoredEntry(row.idx, row.entry_id, row.request_id, row.leaf, row.leaf_hash)
        )

    def read(self) -> AbstractContextManager[Connection]:
        """One read transaction: ``with store.read() as conn``."""
        return self.read_engine.begin()

    @contextmanager
    def read_immutable(self) -> Iterator[Connection]:
        """For rows that never change once written (entries, nodes, checkpoints): on PostgreSQL an
        autocommit connection saves the BEGIN/COMMIT round trips."""
        if self.is_sqlite:
            with self.read_engine.begin() as conn:
                yield conn
            return
        with self.read_engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    def iter_entries(self, below: int, batch: int = 5000) -> Iterator[StoredEntry]:
        """Entries ``[0, below)`` in index order, in keyset pages (entries are never updated)."""
        e = entry_table.c
        start = 0
        while start < below:
            with self.read_engine.begin() as conn:
                rows = conn.execute(
                    select(e.idx, e.entry_id, e.request_id, e.leaf, e.leaf_hash)
                    .where(e.idx >= start, e.idx < below)
                    .order_by(e.idx)
                    .limit(batch)
                ).all()
            if not rows:
                return
            for row in rows:
                yield StoredEntry(row.idx, row.entry_id, row.request_id, row.leaf, row.leaf_hash)
            start = rows[-1].idx + 1

    def queue_is_empty(self) -> bool:
        with self.read_engine.begin() as conn:
            return conn.execute(select(queue_table.c.id).limit(1)).first() is None

    def queue_length(self) -> int:
        with self.read_engine.begin() as conn:
            return int(conn.scalar(select(func.count()).select_from(queue_table)) or 0)
