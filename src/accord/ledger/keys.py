"""Ledger secrets on disk: the checkpoint signing key and the pseudonymisation secrets.

Each is created on first use with mode 0600 (``O_EXCL`` so two replicas starting together agree on
one key) and never logged.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

SIGNING_KEY_FILE = "ledger-ed25519.pem"
PSEUDONYM_KEY_FILE = "ledger-pseudonym.key"
CONTENT_SALT_FILE = "ledger-content-salt.key"


def _create_or_read(path: Path, make: bytes) -> bytes:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as handle:
        handle.write(make)
        handle.flush()
        os.fsync(handle.fileno())
    return make


def load_signing_key(keys_dir: Path) -> Ed25519PrivateKey:
    fresh = Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    key = load_pem_private_key(_create_or_read(keys_dir / SIGNING_KEY_FILE, fresh), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{keys_dir / SIGNING_KEY_FILE} is not an Ed25519 private key")
    return key


def load_secret(keys_dir: Path, name: str) -> bytes:
    secret = _create_or_read(keys_dir / name, secrets.token_bytes(32))
    if len(secret) < 32:
        raise ValueError(f"{keys_dir / name} holds fewer than 32 bytes")
    return secret
