"""API key format: random, shown once, stored only as a hash, recognisable by its prefix.

A key reads ``acc_<key id>_<secret>``: the id finds the row without scanning, the secret is 256
random bits, so a plain SHA-256 of it is safe to store (nothing to brute-force).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

PREFIX = "acc_"


@dataclass(frozen=True, slots=True)
class ParsedKey:
    key_id: str
    secret: str


def new_key() -> tuple[str, str, str]:
    """Return (key id, full key to show once, hash to store)."""
    key_id = "key" + secrets.token_hex(8)
    secret = secrets.token_urlsafe(32).replace("_", "x").replace("-", "y")
    return key_id, f"{PREFIX}{key_id}_{secret}", hash_secret(secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_key(token: str) -> ParsedKey | None:
    if not token.startswith(PREFIX):
        return None
    parts = token[len(PREFIX) :].split("_", 1)
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    return ParsedKey(key_id=parts[0], secret=parts[1])


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
