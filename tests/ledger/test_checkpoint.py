import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.ledger.checkpoint import Checkpoint, CheckpointSigner, CheckpointVerifier, InvalidCheckpoint
from accord.ledger.keys import SIGNING_KEY_FILE, load_signing_key
from accord.ledger.merkle import leaf_hash
from accord.ledger.pseudonym import Pseudonymiser

WHEN = datetime(2026, 11, 26, 12, 0, 0, 123456, tzinfo=UTC)


def make_checkpoint(size: int = 7) -> Checkpoint:
    return Checkpoint("accord", size, leaf_hash(b"root"), WHEN)


def test_signed_note_has_c2sp_layout_and_verifies() -> None:
    signer = CheckpointSigner(Ed25519PrivateKey.generate(), "accord")
    signed = signer.sign(make_checkpoint())
    body, signature = signed.note.split("\n\n")
    assert body.split("\n")[:2] == ["accord", "7"]
    assert body.endswith("time 2026-11-26T12:00:00.123456Z")
    assert signature.startswith("\u2014 accord ") and signed.note.endswith("\n")
    verifier = CheckpointVerifier.from_vkey(signer.verifier.vkey)
    assert verifier.verify(signed.note) == make_checkpoint()


def test_tampered_or_foreign_checkpoints_are_rejected() -> None:
    signer = CheckpointSigner(Ed25519PrivateKey.generate(), "accord")
    note = signer.sign(make_checkpoint()).note
    verifier = signer.verifier
    with pytest.raises(InvalidCheckpoint):
        verifier.verify(note.replace("accord\n7\n", "accord\n8\n"))
    other = CheckpointSigner(Ed25519PrivateKey.generate(), "accord")
    with pytest.raises(InvalidCheckpoint):
        verifier.verify(other.sign(make_checkpoint()).note)
    with pytest.raises(InvalidCheckpoint):
        verifier.verify(note.split("\n\n")[0])
    with pytest.raises(InvalidCheckpoint):
        CheckpointVerifier.from_vkey(verifier.vkey.replace("accord+", "other+"))


def test_signing_key_is_created_once_with_private_mode(tmp_path: Path) -> None:
    first = load_signing_key(tmp_path / "keys")
    again = load_signing_key(tmp_path / "keys")
    assert stat.S_IMODE((tmp_path / "keys" / SIGNING_KEY_FILE).stat().st_mode) == 0o600
    message = b"same key"
    again.public_key().verify(first.sign(message), message)


def test_pseudonyms_are_stable_keyed_and_not_the_identity(tmp_path: Path) -> None:
    one = Pseudonymiser.from_keys_dir(tmp_path / "keys")
    same = Pseudonymiser.from_keys_dir(tmp_path / "keys")
    other = Pseudonymiser.from_keys_dir(tmp_path / "other")
    assert one.pseudonym("alice@example.mil") == same.pseudonym("alice@example.mil")
    assert one.pseudonym("alice@example.mil") != other.pseudonym("alice@example.mil")
    assert "alice" not in one.pseudonym("alice@example.mil")
    assert one.content_hash("hello") != other.content_hash("hello")
    assert len(one.content_hash("hello")) == 64
