"""Keyed pseudonyms and salted content hashes, so the ledger commits to who and what without
storing either. The operator can re-identify a caller for an investigation (it holds the key); the
overseer sees only stable pseudonyms, and a dictionary attack on short prompts needs the salt."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from accord.ledger.keys import CONTENT_SALT_FILE, PSEUDONYM_KEY_FILE, load_secret


class Pseudonymiser:
    def __init__(self, pseudonym_key: bytes, content_salt: bytes) -> None:
        self._key = pseudonym_key
        self._salt = content_salt

    @classmethod
    def from_keys_dir(cls, keys_dir: Path) -> Pseudonymiser:
        return cls(load_secret(keys_dir, PSEUDONYM_KEY_FILE), load_secret(keys_dir, CONTENT_SALT_FILE))

    def pseudonym(self, identity: str) -> str:
        return hmac.new(self._key, identity.encode("utf-8"), hashlib.sha256).hexdigest()

    def content_hash(self, text: str) -> str:
        return hashlib.sha256(self._salt + text.encode("utf-8")).hexdigest()
