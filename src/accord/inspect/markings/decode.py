"""Find encoded blocks (base64, hex, quoted-printable, percent) so their content can be re-scanned."""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from dataclasses import dataclass
from urllib.parse import unquote

MAX_BLOCK_CHARS = 256 * 1024

_BASE64 = re.compile(
    r"(?<![A-Za-z0-9+/])(?:(?:[A-Za-z0-9+/]{16,}\r?\n)+[A-Za-z0-9+/]*={0,2}|[A-Za-z0-9+/]{16,}={0,2}"
    r"|[A-Za-z0-9+/]{6,}={1,2})"
)
_HEX = re.compile(
    r"(?<![0-9A-Za-z])(?:(?:[0-9A-Fa-f]{2}){8,}|(?:[0-9A-Fa-f]{2}[ :]){5,}[0-9A-Fa-f]{2}"
    r"|(?:\\x[0-9A-Fa-f]{2}){4,})"
    r"(?![0-9A-Za-z])"
)
_QP_ESCAPE = re.compile(r"=[0-9A-F]{2}")
_PERCENT = re.compile(r"(?<!\S)(?:[^\s%]*%[0-9A-Fa-f]{2}){2,}[^\s%]*")


@dataclass(frozen=True, slots=True)
class EncodedBlock:
    encoding: str
    start: int
    end: int
    decoded: str


def _printable(raw: bytes) -> str | None:
    """Decoded bytes are only re-scanned when they are mostly readable text."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(text) < 4:
        return None
    readable = sum(1 for c in text if c.isprintable() or c in "\n\r\t")
    letters = sum(1 for c in text if c.isalpha())
    return text if readable >= 0.9 * len(text) and letters >= 4 else None


def _decode_base64(chunk: str) -> str | None:
    body = re.sub(r"\s+", "", chunk)
    if len(body) < 8 or not re.search(r"[0-9+/=]|[a-z][A-Z]|[A-Z]{2}[a-z]", body):
        return None
    try:
        return _printable(base64.b64decode(body + "=" * (-len(body) % 4), validate=True))
    except (binascii.Error, ValueError):
        return None


def _decode_hex(chunk: str) -> str | None:
    body = re.sub(r"\\x|[ :]", "", chunk)
    try:
        return _printable(bytes.fromhex(body))
    except ValueError:
        return None


def find_encoded(text: str, encodings: set[str]) -> list[EncodedBlock]:
    blocks: list[EncodedBlock] = []
    if "base64" in encodings:
        for match in _BASE64.finditer(text):
            if match.end() - match.start() <= MAX_BLOCK_CHARS and (decoded := _decode_base64(match.group())):
                blocks.append(EncodedBlock("base64", match.start(), match.end(), decoded))
    if "hex" in encodings:
        for match in _HEX.finditer(text):
            if match.end() - match.start() <= MAX_BLOCK_CHARS and (decoded := _decode_hex(match.group())):
                blocks.append(EncodedBlock("hex", match.start(), match.end(), decoded))
    if "quoted_printable" in encodings:
        escapes = list(_QP_ESCAPE.finditer(text))
        if escapes:  # one block from the first escaped line to the last, blank lines included
            start = text.rfind("\n", 0, escapes[0].start()) + 1
            end = text.find("\n", escapes[-1].end())
            end = len(text) if end == -1 else end
            chunk = text[start:end]
            if len(chunk) <= MAX_BLOCK_CHARS:
                decoded = _printable(quopri.decodestring(chunk.encode("utf-8", "replace")))
                if decoded and decoded != chunk:
                    blocks.append(EncodedBlock("quoted_printable", start, end, decoded))
    if "percent" in encodings:
        for match in _PERCENT.finditer(text):
            try:
                decoded = unquote(match.group(), errors="strict")
            except UnicodeDecodeError:
                continue
            if decoded != match.group():
                blocks.append(EncodedBlock("percent", match.start(), match.end(), decoded))
    return blocks
