from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import x25519

from accord.config import Settings
from accord.incidents import quarantine


def test_sealed_text_opens_only_with_the_private_key_and_incident_id() -> None:
    officers = x25519.X25519PrivateKey.generate()
    sealed = quarantine.seal(officers.public_key(), "inc_a", b"SECRET//NOFORN grid 38SMB")
    assert b"38SMB" not in sealed

    assert quarantine.unseal(officers, "inc_a", sealed) == b"SECRET//NOFORN grid 38SMB"
    with pytest.raises(quarantine.UnsealError):
        quarantine.unseal(x25519.X25519PrivateKey.generate(), "inc_a", sealed)
    # A blob moved to another incident does not open.
    with pytest.raises(quarantine.UnsealError):
        quarantine.unseal(officers, "inc_b", sealed)
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(quarantine.UnsealError):
        quarantine.unseal(officers, "inc_a", tampered)


def test_each_seal_uses_a_fresh_ephemeral_key() -> None:
    public = x25519.X25519PrivateKey.generate().public_key()
    assert quarantine.seal(public, "inc_a", b"same") != quarantine.seal(public, "inc_a", b"same")


def test_content_hash_is_salted() -> None:
    assert quarantine.content_hash(b"a" * 32, "same text") == quarantine.content_hash(b"a" * 32, "same text")
    assert quarantine.content_hash(b"a" * 32, "same text") != quarantine.content_hash(b"b" * 32, "same text")


def test_generated_private_key_is_owner_only_and_passphrase_protected(tmp_path: Path) -> None:
    paths = quarantine.generate_key_pair(
        tmp_path / "officer.pem", tmp_path / "keys" / "public.pem", passphrase=b"correct horse"
    )
    assert stat.S_IMODE(paths.private_key.stat().st_mode) == 0o600
    assert b"ENCRYPTED" in paths.private_key.read_bytes()
    with pytest.raises(quarantine.QuarantineKeyError):
        quarantine.load_private_key(paths.private_key, b"wrong")
    private = quarantine.load_private_key(paths.private_key, b"correct horse")
    public = quarantine.load_public_key(paths.public_key)
    assert quarantine.key_id(private.public_key()) == quarantine.key_id(public)
    # An existing private key is never overwritten.
    with pytest.raises(FileExistsError):
        quarantine.generate_key_pair(paths.private_key, paths.public_key)


def test_ensure_quarantine_keys_bootstraps_once(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, database_url="sqlite://", redis_url=None)
    created = quarantine.ensure_quarantine_keys(settings)
    assert created is not None
    assert created.public_key == settings.keys_dir / quarantine.PUBLIC_KEY_FILE
    assert stat.S_IMODE(created.private_key.stat().st_mode) == 0o600
    hash_key = quarantine.load_hash_key(settings)

    assert quarantine.ensure_quarantine_keys(settings) is None
    assert quarantine.load_hash_key(settings) == hash_key


def test_a_public_key_of_the_wrong_kind_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    path = tmp_path / "public.pem"
    path.write_bytes(
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(quarantine.QuarantineKeyError, match="not an X25519 key"):
        quarantine.load_public_key(path)
