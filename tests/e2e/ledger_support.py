"""Helpers the live ledger tests share: the overseer's CLI as a subprocess, bundle reading, and an
RFC 9162 Merkle tree written here from the RFC (not the project's code), so the tests check the
gateway against an independent implementation."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import string
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def sentinel(prefix: str = "wombat") -> str:
    """A word that appears nowhere else, so finding it in a leaf means content leaked there."""
    return prefix + "".join(secrets.choice(string.ascii_lowercase) for _ in range(12))


def accord(
    home: Path, *args: str, extra_env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python -m accord ARGS` the way an operator runs it: a separate process on ACCORD_HOME."""
    env = {**os.environ, **(extra_env or {}), "ACCORD_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "accord", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass(frozen=True)
class BundleEntry:
    index: int
    leaf: bytes
    leaf_hash: str
    entry: dict[str, Any]

    @property
    def record(self) -> dict[str, Any]:
        record: dict[str, Any] = self.entry["record"]
        return record


def read_entries(bundle: Path) -> list[BundleEntry]:
    """Every line of a bundle's entries.jsonl, with the leaf decoded."""
    entries: list[BundleEntry] = []
    for line in (bundle / "entries.jsonl").read_text(encoding="utf-8").splitlines():
        raw = json.loads(line)
        leaf = base64.b64decode(raw["leaf"])
        entries.append(BundleEntry(raw["index"], leaf, raw["leaf_hash"], json.loads(leaf)))
    return entries


def export_and_verify(
    home: Path, out: Path, extra_env: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], list[BundleEntry]]:
    """`accord ledger export` then `accord ledger verify` (pinned to the exported key); both must pass."""
    exported = accord(home, "ledger", "export", "--out", str(out), extra_env=extra_env)
    assert exported.returncode == 0, exported.stderr
    verified = accord(
        home,
        "ledger",
        "verify",
        str(out),
        "--public-key",
        str(out / "public_key.vkey"),
        extra_env=extra_env,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    summary: dict[str, Any] = json.loads(verified.stdout)
    assert summary["ok"] is True and summary["problems"] == [], summary
    entries = read_entries(out)
    assert summary["entries"] == len(entries) == summary["tree_size"] > 0, summary
    return summary, entries


def request_leaves(entries: Sequence[BundleEntry]) -> dict[str, list[dict[str, Any]]]:
    """Request records by request id (a reviewed request may have two)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        if entry.record.get("kind") == "request":
            found.setdefault(str(entry.record["request_id"]), []).append(entry.record)
    return found


# -- RFC 9162 §2.1, from the RFC's recursive definitions ------------------------------------------


def _sha256(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


def rfc_leaf_hash(leaf: bytes) -> bytes:
    return _sha256(b"\x00", leaf)


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def rfc_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over already-hashed leaves."""
    n = len(leaf_hashes)
    if n == 0:
        return _sha256()
    if n == 1:
        return leaf_hashes[0]
    k = _split(n)
    return _sha256(b"\x01", rfc_root(leaf_hashes[:k]), rfc_root(leaf_hashes[k:]))


def root_from_inclusion_proof(index: int, size: int, leaf_hash: bytes, path: Sequence[bytes]) -> bytes:
    """Fold PATH(m, D[n]) back into a root: the last element of the path is the sibling at the top
    split (PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]) for m < k, and mirrored for m >= k)."""
    if not 0 <= index < size:
        raise ValueError("index outside the tree")
    if size == 1:
        if path:
            raise ValueError("audit path too long")
        return leaf_hash
    if not path:
        raise ValueError("audit path too short")
    k = _split(size)
    *rest, sibling = path
    if index < k:
        return _sha256(b"\x01", root_from_inclusion_proof(index, k, leaf_hash, rest), sibling)
    return _sha256(b"\x01", sibling, root_from_inclusion_proof(index - k, size - k, leaf_hash, rest))


def checkpoint_root(note: str, vkey: str) -> tuple[int, bytes]:
    """Check a signed-note checkpoint's Ed25519 signature under ``vkey``; its (size, root)."""
    _name, key_id, key = vkey.strip().split("+", 2)
    body, _, signatures = note.partition("\n\n")
    signature = base64.b64decode(signatures.split()[-1])
    assert signature[:4].hex() == key_id, "checkpoint signed by another key"
    public = base64.b64decode(key)
    assert public[0] == 1, "not an Ed25519 note key"
    Ed25519PublicKey.from_public_bytes(public[1:]).verify(signature[4:], (body + "\n").encode())
    _origin, size, root = body.split("\n")[:3]
    return int(size), base64.b64decode(root)
