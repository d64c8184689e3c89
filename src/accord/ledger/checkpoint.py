"""Signed checkpoints in the C2SP checkpoint / signed-note text format, signed with Ed25519.

Body: ``origin\\nsize\\nbase64(root)\\ntime <RFC 3339 UTC>\\n`` (the time is a C2SP extension line);
then a blank line and the signature line ``— <origin> base64(key_id[4] || signature[64])``, where
``key_id = SHA-256(origin || "\\n" || 0x01 || public_key)[:4]`` as in golang.org/x/mod/sumdb/note.
The verifier key is the note "vkey" ``<origin>+<hex key_id>+base64(0x01 || public_key)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from accord.ledger.merkle import HASH_SIZE
from accord.ledger.record import InvalidRecord, format_time, parse_time

ED25519_ALGORITHM = 0x01
SIGNATURE_PREFIX = "\u2014 "


class InvalidCheckpoint(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes
    timestamp: datetime

    def body(self) -> str:
        root = base64.b64encode(self.root_hash).decode()
        return f"{self.origin}\n{self.size}\n{root}\ntime {format_time(self.timestamp)}\n"

    @classmethod
    def parse_body(cls, body: str) -> Checkpoint:
        lines = body.split("\n")
        if len(lines) != 5 or lines[-1] != "" or not lines[3].startswith("time "):
            raise InvalidCheckpoint("checkpoint body must be origin, size, root and time lines")
        origin, size_text, root_text = lines[0], lines[1], lines[2]
        if not origin or not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
            raise InvalidCheckpoint("malformed checkpoint origin or size")
        try:
            root = base64.b64decode(root_text, validate=True)
            timestamp = parse_time(lines[3].removeprefix("time "))
        except (binascii.Error, InvalidRecord) as exc:
            raise InvalidCheckpoint(f"malformed checkpoint root or time: {exc}") from exc
        if len(root) != HASH_SIZE:
            raise InvalidCheckpoint("checkpoint root is not a SHA-256 hash")
        return cls(origin=origin, size=int(size_text), root_hash=root, timestamp=timestamp)


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    note: str

    def to_json(self) -> dict[str, object]:
        return {
            "origin": self.checkpoint.origin,
            "tree_size": self.checkpoint.size,
            "root_hash": self.checkpoint.root_hash.hex(),
            "timestamp": format_time(self.checkpoint.timestamp),
            "note": self.note,
        }


def _key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519_ALGORITHM]) + public_key).digest()[:4]


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


class CheckpointSigner:
    def __init__(self, private_key: Ed25519PrivateKey, origin: str) -> None:
        if not origin or any(c.isspace() or c == "+" for c in origin):
            raise ValueError("origin must be non-empty with no spaces or '+'")
        self._key = private_key
        self.origin = origin
        self._key_id = _key_id(origin, _raw_public(private_key.public_key()))

    @property
    def verifier(self) -> CheckpointVerifier:
        return CheckpointVerifier(self.origin, _raw_public(self._key.public_key()))

    def sign(self, checkpoint: Checkpoint) -> SignedCheckpoint:
        if checkpoint.origin != self.origin:
            raise ValueError("checkpoint origin does not match the signer")
        body = checkpoint.body()
        signature = base64.b64encode(self._key_id + self._key.sign(body.encode())).decode()
        return SignedCheckpoint(checkpoint, f"{body}\n{SIGNATURE_PREFIX}{self.origin} {signature}\n")


class CheckpointVerifier:
    def __init__(self, origin: str, public_key: bytes) -> None:
        self.origin = origin
        self.public_key = public_key
        self._key = Ed25519PublicKey.from_public_bytes(public_key)
        self._key_id = _key_id(origin, public_key)

    @property
    def vkey(self) -> str:
        encoded = base64.b64encode(bytes([ED25519_ALGORITHM]) + self.public_key).decode()
        return f"{self.origin}+{self._key_id.hex()}+{encoded}"

    @classmethod
    def from_vkey(cls, vkey: str) -> CheckpointVerifier:
        try:
            origin, key_id_hex, encoded = vkey.strip().split("+", 2)
            raw = base64.b64decode(encoded, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise InvalidCheckpoint("malformed verifier key") from exc
        if len(raw) != 33 or raw[0] != ED25519_ALGORITHM:
            raise InvalidCheckpoint("verifier key is not an Ed25519 note key")
        verifier = cls(origin, raw[1:])
        if verifier._key_id.hex() != key_id_hex:
            raise InvalidCheckpoint("verifier key id does not match its key")
        return verifier

    def verify(self, note: str) -> Checkpoint:
        """Check the note's signature by this key and parse it; raises ``InvalidCheckpoint``."""
        body, separator, signatures = note.partition("\n\n")
        if not separator:
            raise InvalidCheckpoint("note has no signature block")
        body += "\n"
        prefix = f"{SIGNATURE_PREFIX}{self.origin} "
        for line in signatures.split("\n"):
            if not line.startswith(prefix):
                continue
            try:
                blob = base64.b64decode(line.removeprefix(prefix), validate=True)
            except binascii.Error:
                continue
            if len(blob) != 68 or blob[:4] != self._key_id:
                continue
            try:
                self._key.verify(blob[4:], body.encode())
            except InvalidSignature as exc:
                raise InvalidCheckpoint("checkpoint signature is invalid") from exc
            checkpoint = Checkpoint.parse_body(body)
            if checkpoint.origin != self.origin:
                raise InvalidCheckpoint("checkpoint origin does not match the key")
            return checkpoint
        raise InvalidCheckpoint(f"no signature by key {self._key_id.hex()} for origin {self.origin!r}")
