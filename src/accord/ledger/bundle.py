"""The export bundle the overseer verifies offline: a directory of plain text files.

* ``manifest.json``   ``{"format": "accord-ledger-bundle", "version": 1, "origin", "tree_size",
  "entries", "checkpoints", "exported_at"}``
* ``public_key.vkey`` the signed-note verifier key (``origin+keyid+base64(0x01||ed25519 key)``)
* ``checkpoints.jsonl`` one ``{"seq", "note", "consistency": [hex, ...]}`` per signed checkpoint, in
  signing order; ``consistency`` proves it extends the previous line's tree (empty for the first)
* ``entries.jsonl`` one ``{"index", "leaf": base64(leaf bytes), "leaf_hash": hex}`` per leaf in
  index order, up to the last checkpoint's size (``leaf_hash`` is what the store claimed; the verifier
  recomputes it)

Standard library only, so the verifier can share it.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from types import TracebackType

FORMAT = "accord-ledger-bundle"
VERSION = 1
MANIFEST = "manifest.json"
PUBLIC_KEY = "public_key.vkey"
CHECKPOINTS = "checkpoints.jsonl"
ENTRIES = "entries.jsonl"


class BundleWriter:
    def __init__(self, path: Path, *, origin: str, vkey: str) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.origin = origin
        (path / PUBLIC_KEY).write_text(vkey + "\n")
        self._checkpoints = (path / CHECKPOINTS).open("w", encoding="utf-8")
        self._entries = (path / ENTRIES).open("w", encoding="utf-8")
        self.entry_count = 0
        self.checkpoint_count = 0

    def add_checkpoint(self, seq: int, note: str, consistency: list[bytes]) -> None:
        line = {"seq": seq, "note": note, "consistency": [h.hex() for h in consistency]}
        self._checkpoints.write(json.dumps(line, ensure_ascii=False) + "\n")
        self.checkpoint_count += 1

    def add_entry(self, index: int, leaf: bytes, leaf_hash: bytes) -> None:
        leaf_text = base64.b64encode(leaf).decode()
        self._entries.write(f'{{"index":{index},"leaf":"{leaf_text}","leaf_hash":"{leaf_hash.hex()}"}}\n')
        self.entry_count += 1

    def finish(self, *, tree_size: int, exported_at: str) -> None:
        self._checkpoints.close()
        self._entries.close()
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "origin": self.origin,
            "tree_size": tree_size,
            "entries": self.entry_count,
            "checkpoints": self.checkpoint_count,
            "exported_at": exported_at,
        }
        (self.path / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._checkpoints.close()
        self._entries.close()
