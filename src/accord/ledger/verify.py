"""The overseer's offline verifier for an exported bundle (format: :mod:`accord.ledger.bundle`).

Imports only the standard library, ``cryptography`` and the ledger's pure modules: no database, no
server, no secrets. It trusts nothing in the bundle except what the signing key vouches for, and
names the first entry or checkpoint that fails:

1. every checkpoint's Ed25519 signature; sequence numbers 0, 1, 2...; tree sizes never shrink;
   timestamps strictly increase; each checkpoint's consistency proof from the previous one verifies;
2. entries are numbered 0, 1, 2... with no gap; each leaf hashes to its claimed hash, is canonical
   JSON of a known version, commits to its own index, and has an entry id seen nowhere else;
3. entry times never go back by more than ``time_tolerance`` and no entry is later than the first
   checkpoint covering it by more than ``time_tolerance``;
4. the tree recomputed from the leaves has each checkpoint's root at its size, and the bundle ends
   exactly at the last checkpoint;
5. optionally, a checkpoint the overseer kept from earlier is signed, not ahead of the bundle, and
   has the root of the bundle's tree at its size (a rolled-back or rewritten log fails here).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from accord.ledger import bundle
from accord.ledger.checkpoint import Checkpoint, CheckpointVerifier, InvalidCheckpoint
from accord.ledger.merkle import CompactRange, leaf_hash, verify_consistency
from accord.ledger.record import Entry, InvalidRecord, format_time, parse_time

DEFAULT_TIME_TOLERANCE = 300.0
_MAX_PROBLEMS = 20


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str  # "entry" | "checkpoint" | "bundle"
    position: int | None  # entry index or checkpoint sequence number
    message: str

    def __str__(self) -> str:
        where = self.kind if self.position is None else f"{self.kind} {self.position}"
        return f"{where}: {self.message}"


@dataclass(slots=True)
class VerifyReport:
    origin: str = ""
    tree_size: int = 0
    entries: int = 0
    checkpoints: int = 0
    latest_checkpoint: Checkpoint | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def to_json(self) -> dict[str, object]:
        latest = self.latest_checkpoint
        return {
            "ok": self.ok,
            "origin": self.origin,
            "tree_size": self.tree_size,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "latest_checkpoint": None
            if latest is None
            else {
                "tree_size": latest.size,
                "root_hash": latest.root_hash.hex(),
                "timestamp": format_time(latest.timestamp),
            },
            "first_problem": None if self.first_problem is None else str(self.first_problem),
            "problems": [str(p) for p in self.problems],
            "warnings": self.warnings,
            "seconds": round(self.seconds, 3),
        }


class _Stop(Exception):
    pass


class _Verification:
    def __init__(self, report: VerifyReport, tolerance: timedelta) -> None:
        self.report = report
        self.tolerance = tolerance

    def fail(self, kind: str, position: int | None, message: str) -> None:
        self.report.problems.append(Problem(kind, position, message))
        if len(self.report.problems) >= _MAX_PROBLEMS:
            raise _Stop

    def checkpoints(self, path: Path, verifier: CheckpointVerifier) -> list[tuple[int, Checkpoint]]:
        accepted: list[tuple[int, Checkpoint]] = []
        previous: Checkpoint | None = None
        with path.open(encoding="utf-8") as lines:
            for position, line in enumerate(lines):
                try:
                    raw = json.loads(line)
                    seq, note = raw["seq"], raw["note"]
                    proof = [bytes.fromhex(h) for h in raw["consistency"]]
                    checkpoint = verifier.verify(note)
                except (ValueError, KeyError, TypeError, InvalidCheckpoint) as exc:
                    self.fail("checkpoint", position, f"rejected: {exc}")
                    continue
                if seq != position:
                    self.fail("checkpoint", position, f"is numbered {seq} (missing, inserted or reordered)")
                if previous is not None:
                    self._follows(position, previous, checkpoint, proof)
                accepted.append((position, checkpoint))
                previous = checkpoint
        return accepted

    def _follows(self, position: int, previous: Checkpoint, current: Checkpoint, proof: list[bytes]) -> None:
        if current.size < previous.size:
            self.fail("checkpoint", position, f"tree shrank from {previous.size} to {current.size} leaves")
        elif not verify_consistency(
            previous.size, current.size, previous.root_hash, current.root_hash, proof
        ):
            self.fail("checkpoint", position, f"is not consistent with the previous tree of {previous.size}")
        if current.timestamp <= previous.timestamp:
            self.fail("checkpoint", position, "timestamp does not increase")

    def entries(
        self, path: Path, checkpoints: list[tuple[int, Checkpoint]], trusted: Checkpoint | None
    ) -> None:
        tree = CompactRange()
        pending = sorted(checkpoints, key=lambda item: item[1].size)  # out-of-order ones are flagged
        seen_ids: set[str] = set()
        latest_time = ""
        span_latest = ""
        root_failed = False
        with path.open(encoding="utf-8") as lines:
            for expected, line in enumerate(lines):
                try:
                    raw = json.loads(line)
                    index, leaf = raw["index"], base64.b64decode(raw["leaf"], validate=True)
                    claimed = bytes.fromhex(raw["leaf_hash"])
                except (ValueError, KeyError, TypeError, binascii.Error) as exc:
                    self.fail("entry", expected, f"unreadable line: {exc}")
                    raise _Stop from exc
                if index != expected:
                    self.fail("entry", expected, f"line holds index {index} (missing, inserted or reordered)")
                digest = leaf_hash(leaf)
                if digest != claimed:
                    self.fail("entry", expected, "leaf does not hash to its stored hash (edited)")
                try:
                    entry = Entry.decode(leaf)
                except InvalidRecord as exc:
                    self.fail("entry", expected, f"malformed leaf: {exc}")
                else:
                    self._entry(expected, entry, seen_ids, latest_time)
                    record_time = entry.record["time"]
                    latest_time = max(latest_time, record_time)
                    span_latest = max(span_latest, record_time)
                tree.extend((digest,))
                while pending and pending[0][1].size == tree.size:
                    position, checkpoint = pending.pop(0)
                    if not root_failed and tree.root() != checkpoint.root_hash:
                        root_failed = True  # every later root fails too; report the first
                        start = self._last_good_size(checkpoints, position)
                        self.fail(
                            "checkpoint",
                            position,
                            f"root does not match the leaves: an entry in [{start}, {checkpoint.size}) "
                            "was altered, reordered, inserted or removed",
                        )
                    if span_latest and parse_time(span_latest) > checkpoint.timestamp + self.tolerance:
                        self.fail("checkpoint", position, "covers an entry dated after it was signed")
                    span_latest = ""
                if trusted is not None and tree.size == trusted.size and tree.root() != trusted.root_hash:
                    self.fail(
                        "bundle", None, f"history differs from the trusted checkpoint at size {trusted.size}"
                    )
        self.report.entries = tree.size
        self._ending(tree.size, checkpoints, trusted)

    def _entry(self, index: int, entry: Entry, seen_ids: set[str], latest_time: str) -> None:
        if entry.index != index:
            self.fail("entry", index, f"leaf commits to index {entry.index} (moved or reordered)")
        if entry.entry_id in seen_ids:
            self.fail("entry", index, f"entry id {entry.entry_id} appears twice (duplicated)")
        seen_ids.add(entry.entry_id)
        record_time = entry.record["time"]
        if record_time < latest_time and parse_time(latest_time) - parse_time(record_time) > self.tolerance:
            self.fail("entry", index, f"time {record_time} goes back more than the tolerance")

    @staticmethod
    def _last_good_size(checkpoints: list[tuple[int, Checkpoint]], position: int) -> int:
        earlier = [c.size for p, c in checkpoints if p < position]
        return max(earlier, default=0)

    def _ending(
        self, size: int, checkpoints: list[tuple[int, Checkpoint]], trusted: Checkpoint | None
    ) -> None:
        final = checkpoints[-1][1].size if checkpoints else 0
        if size < final:
            self.fail("entry", size, f"missing: bundle ends at {size} entries, signed up to {final}")
        elif size > final:
            self.fail("entry", final, f"{size - final} entries follow the last signed checkpoint")
        if trusted is not None and trusted.size > final:
            self.fail(
                "bundle",
                None,
                f"rolled back: trusted checkpoint has {trusted.size} leaves, bundle {final}",
            )
        if trusted is not None and checkpoints and trusted.timestamp > checkpoints[-1][1].timestamp:
            self.fail("bundle", None, "the trusted checkpoint is newer than the bundle's latest")


def verify_bundle(
    path: Path,
    *,
    public_key: str | None = None,
    trusted_checkpoint: str | None = None,
    time_tolerance: float = DEFAULT_TIME_TOLERANCE,
) -> VerifyReport:
    """Verify a bundle directory. ``public_key`` (a vkey) pins the signer; ``trusted_checkpoint`` is a
    signed note the overseer kept from an earlier export."""
    started = time.perf_counter()
    report = VerifyReport()
    run = _Verification(report, timedelta(seconds=time_tolerance))
    try:
        manifest = json.loads((path / bundle.MANIFEST).read_text())
        if manifest.get("format") != bundle.FORMAT or manifest.get("version") != bundle.VERSION:
            run.fail("bundle", None, "not an accord-ledger-bundle version 1")
            raise _Stop
        report.origin = str(manifest.get("origin", ""))
        bundled_key = (path / bundle.PUBLIC_KEY).read_text().strip()
        if public_key is None:
            report.warnings.append("public key taken from the bundle itself; pin it with --public-key")
        elif public_key.strip() != bundled_key:
            report.warnings.append("the bundle carries a different public key; using the pinned one")
        verifier = CheckpointVerifier.from_vkey(public_key or bundled_key)
        trusted = verifier.verify(trusted_checkpoint) if trusted_checkpoint else None
        checkpoints = run.checkpoints(path / bundle.CHECKPOINTS, verifier)
        report.checkpoints = len(checkpoints)
        if checkpoints:
            report.latest_checkpoint = checkpoints[-1][1]
            report.tree_size = checkpoints[-1][1].size
        run.entries(path / bundle.ENTRIES, checkpoints, trusted)
    except _Stop:
        pass
    except InvalidCheckpoint as exc:
        run.report.problems.append(Problem("bundle", None, f"key or trusted checkpoint rejected: {exc}"))
    except (OSError, ValueError) as exc:
        run.report.problems.append(Problem("bundle", None, f"unreadable: {exc}"))
    report.seconds = time.perf_counter() - started
    return report
