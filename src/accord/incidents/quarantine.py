"""Sealing spilled text so that only the security officers' private key can open it.

The gateway holds only the officers' X25519 *public* key. Each quarantined text is sealed with HPKE
(RFC 9180, base mode: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM) — an ephemeral X25519
key agreement, HKDF-SHA256 key derivation and AES-256-GCM, as implemented by ``cryptography``. The
incident id is bound into the HPKE ``info`` so a sealed blob cannot be moved to another incident.
A compromised gateway therefore cannot read what it quarantined earlier.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric import x25519

from accord.config import Settings

PUBLIC_KEY_FILE = "quarantine-public.pem"
PRIVATE_KEY_FILE = "quarantine-private.pem"
HASH_KEY_FILE = "incident-hash.key"

_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_INFO_PREFIX = b"accord-quarantine/v1/"


class QuarantineKeyError(Exception):
    """A quarantine key is missing, malformed or of the wrong kind."""


class UnsealError(Exception):
    """The blob cannot be opened with this key (wrong key, wrong incident or tampered blob)."""


def key_id(public_key: x25519.X25519PublicKey) -> str:
    """A short fingerprint stored with each blob, so officers know which private key opens it."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


def seal(public_key: x25519.X25519PublicKey, incident_id: str, plaintext: bytes) -> bytes:
    return _SUITE.encrypt(plaintext, public_key, info=_INFO_PREFIX + incident_id.encode())


def unseal(private_key: x25519.X25519PrivateKey, incident_id: str, sealed: bytes) -> bytes:
    try:
        return _SUITE.decrypt(sealed, private_key, info=_INFO_PREFIX + incident_id.encode())
    except InvalidTag:
        raise UnsealError(
            f"cannot open the quarantined text of {incident_id}: wrong private key or altered blob"
        ) from None


@dataclass(frozen=True, slots=True)
class KeyPairPaths:
    private_key: Path
    public_key: Path


def generate_key_pair(
    private_path: Path, public_path: Path, *, passphrase: bytes | None = None
) -> KeyPairPaths:
    """Write a new pair; the private key file is created 0600 and never overwritten."""
    private_key = x25519.X25519PrivateKey.generate()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_path.parent.mkdir(parents=True, exist_ok=True)
    _write_exclusive(private_path, private_pem, 0o600)
    public_path.parent.mkdir(parents=True, exist_ok=True)
    public_path.write_bytes(public_pem)
    public_path.chmod(0o644)
    return KeyPairPaths(private_key=private_path, public_key=public_path)


def ensure_quarantine_keys(settings: Settings) -> KeyPairPaths | None:
    """Demo bootstrap for ``accord init``: create a pair in keys_dir when no public key is installed.

    Returns the paths it created, or None when a public key was already installed. Production
    operators must move ``quarantine-private.pem`` off the gateway to the security officers.
    """
    public_path = settings.keys_dir / PUBLIC_KEY_FILE
    ensure_hash_key(settings)
    if public_path.exists():
        load_public_key(public_path)
        return None
    return generate_key_pair(settings.keys_dir / PRIVATE_KEY_FILE, public_path)


def ensure_hash_key(settings: Settings) -> Path:
    """The deployment secret that salts content hashes, so a hash cannot confirm a guessed text."""
    path = settings.keys_dir / HASH_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            _write_exclusive(path, secrets.token_bytes(32), 0o600)
    return path


def load_hash_key(settings: Settings) -> bytes:
    path = settings.keys_dir / HASH_KEY_FILE
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise QuarantineKeyError(f"incident hash key {path} is unreadable: {exc.strerror}") from None
    if len(key) < 32:
        raise QuarantineKeyError(f"incident hash key {path} is shorter than 32 bytes")
    return key


def content_hash(hash_key: bytes, text: str) -> str:
    return hmac.new(hash_key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def load_public_key(path: Path) -> x25519.X25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise QuarantineKeyError(f"quarantine public key {path} is unreadable: {exc}") from None
    if not isinstance(key, x25519.X25519PublicKey):
        raise QuarantineKeyError(f"quarantine public key {path} is not an X25519 key")
    return key


def load_private_key(path: Path, passphrase: bytes | None = None) -> x25519.X25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=passphrase)
    except (OSError, ValueError, TypeError) as exc:
        raise QuarantineKeyError(f"quarantine private key {path} cannot be loaded: {exc}") from None
    if not isinstance(key, x25519.X25519PrivateKey):
        raise QuarantineKeyError(f"quarantine private key {path} is not an X25519 key")
    return key


def _write_exclusive(path: Path, data: bytes, mode: int) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
