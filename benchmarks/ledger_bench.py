"""Ledger figures: appends/s (SQLite, PostgreSQL), inclusion-proof latency, offline verification.

    .venv/bin/python benchmarks/ledger_bench.py                 # full run (about two minutes)
    .venv/bin/python benchmarks/ledger_bench.py --appends 5000 --verify-entries 50000   # quick

PostgreSQL is read from ``ACCORD_TEST_POSTGRES_URL`` (default: local ``test`` database); a fresh
database is created for the run and dropped after. Prints a table; writes
``benchmarks/results/ledger.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.config import Settings
from accord.ledger.bundle import BundleWriter
from accord.ledger.checkpoint import Checkpoint, CheckpointSigner
from accord.ledger.log import Ledger
from accord.ledger.merkle import (
    CompactRange,
    NodeId,
    consistency_plan,
    fold,
    inclusion_plan,
    leaf_hash,
    resolve,
)
from accord.ledger.record import Entry, RequestRecord, format_time
from accord.ledger.store import LedgerStore
from accord.ledger.verify import verify_bundle

RESULTS = Path(__file__).parent / "results" / "ledger.json"
START = datetime(2026, 11, 26, tzinfo=UTC)


def record(n: int) -> RequestRecord:
    return RequestRecord(
        time=START + timedelta(milliseconds=n),
        request_id=f"bench-{n}",
        principal=secrets.token_hex(32),
        nation=("USA", "FRA", "DEU", "POL")[n % 4],
        organisation="Army Materiel Command",
        agency_kind="military",
        route="/v1/chat/completions",
        model="smollm2-135m-instruct",
        decision=("allow", "allow", "allow", "deny", "review", "redact")[n % 6],
        codes=("classification_exceeds_ceiling",) if n % 6 == 3 else (),
        policy_ids=("agreement.spillage", "agreement.surveillance"),
        bundle_version="2026.11.1",
        findings={"classification": {"level": "UNCLASSIFIED", "rank": 0}, "intents": {"weapons": 0.02}},
        content_hash=secrets.token_hex(32),
        outcome="answered",
        prompt_tokens=120,
        completion_tokens=240,
    )


async def bench_appends(settings: Settings, total: int, tasks: int) -> dict[str, float]:
    ledger = await Ledger.open(settings, run_sequencer=True)
    records = [record(n) for n in range(total)]
    per_task = total // tasks

    async def appender(offset: int) -> None:
        for rec in records[offset : offset + per_task]:
            await ledger.append(rec)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(appender(t * per_task) for t in range(tasks)))
        elapsed = time.perf_counter() - started
        integrate_started = time.perf_counter()
        size = await ledger.integrate_now()
        drain = time.perf_counter() - integrate_started
        proof_ms = await bench_proofs(ledger, settings, size)
    finally:
        await ledger.close()
    return {
        "appends": per_task * tasks,
        "tasks": tasks,
        "seconds": round(elapsed, 3),
        "appends_per_second": round(per_task * tasks / elapsed),
        "tree_size": size,
        "sequencer_backlog_seconds": round(drain, 3),
        **proof_ms,
    }


def _summary(prefix: str, timings: list[float]) -> dict[str, float]:
    timings.sort()
    return {
        f"{prefix}_ms_median": round(statistics.median(timings), 3),
        f"{prefix}_ms_p99": round(timings[int(len(timings) * 0.99) - 1], 3),
    }


async def bench_proofs(
    ledger: Ledger, settings: Settings, size: int, samples: int = 1000
) -> dict[str, float]:
    """End to end (``Ledger.prove`` from asyncio: lookup, checkpoint, nodes, thread hop) and the
    audit path alone (plan, one indexed fetch of the node hashes, fold)."""
    indices = [random.randrange(size) for _ in range(samples)]
    await ledger.prove(f"bench-{indices[0]}")
    end_to_end = []
    for index in indices:
        started = time.perf_counter()
        await ledger.prove(f"bench-{index}")
        end_to_end.append((time.perf_counter() - started) * 1000)
    store = LedgerStore(settings.database_url)
    path_only = []
    try:
        for index in indices:
            started = time.perf_counter()
            plan = inclusion_plan(index, size)
            with store.read_immutable() as conn:
                nodes = store.nodes(conn, [node for part in plan for node in part])
            resolve(plan, nodes.__getitem__)
            path_only.append((time.perf_counter() - started) * 1000)
    finally:
        store.dispose()
    return {**_summary("prove", end_to_end), **_summary("audit_path", path_only)}


def sqlite_settings(home: Path) -> Settings:
    url = f"sqlite:///{home / 'bench.db'}"
    store = LedgerStore(url)
    store.create_tables()
    store.dispose()
    return Settings(home=home, database_url=url, redis_url=None)


def postgres_database(admin_url: str) -> tuple[str, str]:
    name = f"accord_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    return name, url


def drop_database(admin_url: str, name: str) -> None:
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


class _SparseTree:
    """Leaf hashes plus stored nodes of level >= 10: enough for consistency proofs at 1M leaves."""

    def __init__(self) -> None:
        self.leaves: list[bytes] = []
        self.range = CompactRange()
        self.high: dict[NodeId, bytes] = {}

    def append(self, digest: bytes) -> None:
        self.leaves.append(digest)
        for level, index, node in self.range.append(digest):
            if level >= 10:
                self.high[(level, index)] = node

    def node(self, node: NodeId) -> bytes:
        level, index = node
        if level >= 10:
            return self.high[node]
        part = CompactRange()
        part.extend(self.leaves[index << level : (index + 1) << level])
        return part.root()

    def consistency(self, old: int, new: int) -> list[bytes]:
        return [fold([self.node(n) for n in part]) for part in consistency_plan(old, new)]


def build_bundle(path: Path, entries: int, checkpoint_every: int) -> float:
    started = time.perf_counter()
    signer = CheckpointSigner(Ed25519PrivateKey.generate(), "accord")
    tree = _SparseTree()
    # One record encoded once; each entry swaps in its own request id and time (same bytes as encode()).
    template = replace(record(0), request_id="bench-@").encode()
    first_time = format_time(START).encode()
    with BundleWriter(path, origin="accord", vkey=signer.verifier.vkey) as bundle:
        previous = 0
        seq = 0
        for index in range(entries):
            moment = format_time(START + timedelta(milliseconds=index)).encode()
            data = template.replace(b'"bench-@"', f'"bench-{index}"'.encode()).replace(first_time, moment)
            leaf = Entry.wrap(index, f"{index:032x}", data)
            digest = leaf_hash(leaf)
            tree.append(digest)
            bundle.add_entry(index, leaf, digest)
            if tree.range.size % checkpoint_every == 0 or index == entries - 1:
                size = tree.range.size
                stamp = START + timedelta(milliseconds=index, microseconds=1)
                signed = signer.sign(Checkpoint("accord", size, tree.range.root(), stamp))
                proof = tree.consistency(previous, size) if previous else []
                bundle.add_checkpoint(seq, signed.note, proof)
                previous, seq = size, seq + 1
        bundle.finish(tree_size=entries, exported_at=format_time(datetime.now(UTC)))
    return time.perf_counter() - started


def bench_root(leaves: int) -> dict[str, float]:
    """Root of a ``leaves``-leaf tree from leaf data (leaf hashing included), with the compact range."""
    data = [index.to_bytes(8, "big") * 16 for index in range(leaves)]
    started = time.perf_counter()
    tree = CompactRange()
    tree.extend(leaf_hash(item) for item in data)
    tree.root()
    return {"leaves": leaves, "root_seconds": round(time.perf_counter() - started, 3)}


def bench_verify(entries: int, checkpoint_every: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as tmp:
        bundle = Path(tmp) / "bundle"
        build = build_bundle(bundle, entries, checkpoint_every)
        report = verify_bundle(bundle)
        if not report.ok:
            raise SystemExit(f"synthetic bundle failed to verify: {report.first_problem}")
        size_mb = sum(f.stat().st_size for f in bundle.iterdir()) / 1e6
    return {
        "entries": entries,
        "checkpoints": report.checkpoints,
        "bundle_mb": round(size_mb, 1),
        "build_seconds": round(build, 1),
        "verify_seconds": round(report.seconds, 2),
        "entries_per_second": round(entries / report.seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--appends", type=int, default=50_000)
    parser.add_argument("--tasks", type=int, default=64)
    parser.add_argument("--verify-entries", type=int, default=1_000_000)
    parser.add_argument("--checkpoint-every", type=int, default=1000)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    results: dict[str, object] = {"python": sys.version.split()[0], "cpus": os.cpu_count()}

    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as tmp:
        results["sqlite"] = asyncio.run(bench_appends(sqlite_settings(Path(tmp)), args.appends, args.tasks))
    print_row("SQLite (WAL, synchronous=FULL)", results["sqlite"])

    if not args.skip_postgres:
        admin_url = os.environ.get(
            "ACCORD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        )
        name, url = postgres_database(admin_url)
        try:
            store = LedgerStore(url)
            store.create_tables()
            store.dispose()
            with tempfile.TemporaryDirectory(prefix="ledger-bench-") as tmp:
                settings = Settings(home=Path(tmp), database_url=url, redis_url=None)
                results["postgres"] = asyncio.run(bench_appends(settings, args.appends, args.tasks))
        finally:
            drop_database(admin_url, name)
        print_row("PostgreSQL", results["postgres"])

    root = bench_root(args.verify_entries)
    results["root"] = root
    print(f"tree root of {root['leaves']:,} leaves (leaf hashing included): {root['root_seconds']} s")
    results["verify"] = bench_verify(args.verify_entries, args.checkpoint_every)
    print_verify(results["verify"])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")


def print_row(label: str, f: object) -> None:
    assert isinstance(f, dict)
    print(f"{label}: {f['appends']:,} appends from {f['tasks']} concurrent tasks")
    print(f"  appends/s                        {f['appends_per_second']:>10,}")
    print(f"  sequencer backlog after load     {f['sequencer_backlog_seconds']:>10} s")
    print(f"  prove, end to end (median/p99)   {f['prove_ms_median']:>10} / {f['prove_ms_p99']} ms")
    print(f"  audit path from stored nodes     {f['audit_path_ms_median']:>10} / {f['audit_path_ms_p99']} ms")


def print_verify(f: object) -> None:
    assert isinstance(f, dict)
    print(f"verify: synthetic bundle of {f['entries']:,} entries and {f['checkpoints']:,} checkpoints")
    print(f"  bundle size                      {f['bundle_mb']:>10} MB (built in {f['build_seconds']} s)")
    print(f"  verify_bundle                    {f['verify_seconds']:>10} s")
    print(f"  entries/s                        {f['entries_per_second']:>10,}")


if __name__ == "__main__":
    main()
