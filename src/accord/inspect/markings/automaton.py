"""One Hyperscan database that finds every marking candidate in a single pass over the UTF-8 text."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from enum import IntEnum

import hyperscan
import numpy as np

from accord.inspect.markings.fold import (
    COMBINING_RANGES,
    INVISIBLE_RANGES,
    LEET,
    letter_variants,
    skeleton_char,
)


class CandidateKind(IntEnum):
    MARKING = 0
    PORTION = 1
    AUTHORITY = 2
    DECLASSIFIED = 3
    ENCODED = 4


@dataclass(frozen=True, slots=True)
class Candidate:
    kind: CandidateKind
    key: int  # index of the marking group, authority label or encoding trigger
    start: int  # character offsets in the scanned text
    end: int


# ``fold_table`` maps every invisible or combining character to U+200B, so one code point stands for all.
_INVISIBLE = "\\x{200B}"
# Between letters of one word: invisible characters, or spacing used to split the word ("S E C R E T").
_IN_WORD = f"[{_INVISIBLE} \\t.\\-_*·\\x{{2022}}\\r\\n]{{0,4}}"
# Between words: any spacing, punctuation used as a joiner, and line breaks (a marking split over lines).
_SPACES = "\\s\\x{A0}\\x{2000}-\\x{200A}\\x{202F}\\x{3000}"
_BETWEEN_WORDS = f"[{_INVISIBLE}{_SPACES}\\-\\x{{2010}}-\\x{{2015}}_./:·*]{{0,8}}"
_SPACE_CHARS = " \t\r\n\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u3000"


def _escape(char: str) -> str:
    return f"\\x{{{ord(char):X}}}"


def _letter_class(letter: str) -> str:
    """Letters are matched after ``fold_table`` has mapped look-alikes onto their folded letter."""
    chars = {letter, letter.upper(), *(digit for digit, meaning in LEET.items() if meaning == letter)}
    return "[" + "".join(_escape(c) for c in sorted(chars)) + "]"


def fold_table() -> dict[int, str]:
    """A one-to-one character map (so offsets survive) from look-alikes to the folded letter."""
    table: dict[int, str] = {}
    for letter, variants in letter_variants().items():
        for char in variants:
            if not char.isascii():
                table[ord(char)] = letter.upper() if char.isupper() else letter
    for code in range(0xFF01, 0xFF5F):  # fullwidth punctuation and digits, as NFKC would fold them
        table.setdefault(code, chr(code - 0xFEE0))
    table[0x3000] = " "
    for lo, hi in INVISIBLE_RANGES + COMBINING_RANGES:
        for code in range(lo, hi + 1):
            table[code] = "\u200b"
    return table


def marking_pattern(variant: str) -> str:
    """A pattern for one marking string that tolerates the folds in ``fold.py``."""
    words = [w for w in re.split(r"[\W_]+", "".join(skeleton_char(c) or " " for c in variant)) if w]
    if not words:
        raise ValueError(f"marking {variant!r} has no letters")
    return _BETWEEN_WORDS.join(_IN_WORD.join(_letter_class(letter) for letter in word) for word in words)


def marking_key(variant: str) -> str:
    """Strings with the same key share one pattern and are told apart by context (e.g. RESERVADO)."""
    return " ".join(w for w in re.split(r"[\W_]+", "".join(skeleton_char(c) or " " for c in variant)) if w)


# After folding, look-alikes are lower-case Latin; the context rules check the original's case.
_UPPER = "A-Za-z"
PORTION_PATTERN = f"^[ \\t>]*\\([ ]?[{_UPPER}/][{_UPPER}0-9/ ,\\-]{{0,60}}\\)"
ENCODED_TRIGGERS: tuple[tuple[str, str], ...] = (
    # base64 runs carry digits or lower-upper transitions; long plain words ("Versorgungspunkt") do not
    ("base64", r"[A-Za-z0-9+/]{6}(?:[0-9+/]|[a-z][A-Z])[A-Za-z0-9+/]{8}|[A-Za-z0-9+/]{6}={1,2}"),
    ("hex", r"[0-9A-Fa-f]{16}|(?:[0-9A-Fa-f]{2}[ :]){6}|(?:\\x[0-9A-Fa-f]{2}){4}"),
    ("quoted_printable", r"=[0-9A-F]{2}=[0-9A-F]{2}"),
    ("percent", r"%[0-9A-Fa-f]{2}%[0-9A-Fa-f]{2}"),
)


_FOLD_LIMIT = 0x20000  # code points above this (emoji, CJK ext.) are never folded


@dataclass(frozen=True, slots=True)
class _PatternMeta:
    kind: CandidateKind
    key: int


class Automaton:
    """Compiled once at load; ``scan`` returns candidates for the context rules to confirm."""

    def __init__(
        self,
        marking_keys: list[str],
        authority_labels: list[str],
        declassification: list[str],
        ordinary_words: frozenset[int] = frozenset(),
    ) -> None:
        """``ordinary_words``: indexes of keys (SECRET, GEHEIM) whose lower-case use is prose."""
        self._ordinary = ordinary_words
        expressions: list[bytes] = []
        flags: list[int] = []
        metas: list[_PatternMeta] = []
        # Start-of-match tracking costs Hyperscan 4x its speed, so only ends are reported; the start of
        # the rare candidate is found by running the same pattern, anchored at that end, with ``re``.
        som = hyperscan.HS_FLAG_UTF8
        self._backward: list[tuple[re.Pattern[str], int]] = []
        for index, key in enumerate(marking_keys):
            pattern = marking_pattern(key)
            expressions.append(pattern.encode())
            flags.append(som)
            metas.append(_PatternMeta(CandidateKind.MARKING, index))
            self._backward.append((re.compile(f"(?:{_to_python(pattern)})\\Z"), 6 * len(key) + 16))
        expressions.append(PORTION_PATTERN.encode())
        flags.append(hyperscan.HS_FLAG_UTF8 | hyperscan.HS_FLAG_MULTILINE)  # start: the line's first "("
        metas.append(_PatternMeta(CandidateKind.PORTION, 0))
        for index, label in enumerate(authority_labels):
            words = r"[ \t]*".join(re.escape(word) for word in label.split())
            expressions.append(f"^[ \\t>*]*{words}[ \\t]*:".encode())
            flags.append(som | hyperscan.HS_FLAG_MULTILINE | hyperscan.HS_FLAG_CASELESS)
            metas.append(_PatternMeta(CandidateKind.AUTHORITY, index))
        for index, pattern in enumerate(declassification):
            body = pattern[1:] if pattern.startswith("^") else pattern
            expressions.append(f"^[ \\t>*#=\\-]*(?:{body})".encode())
            flags.append(
                hyperscan.HS_FLAG_UTF8
                | hyperscan.HS_FLAG_MULTILINE
                | hyperscan.HS_FLAG_CASELESS
                | hyperscan.HS_FLAG_SINGLEMATCH
            )
            metas.append(_PatternMeta(CandidateKind.DECLASSIFIED, index))
        for index, (_, pattern) in enumerate(ENCODED_TRIGGERS):
            expressions.append(pattern.encode())
            flags.append(hyperscan.HS_FLAG_SINGLEMATCH)
            metas.append(_PatternMeta(CandidateKind.ENCODED, index))
        self._metas = metas
        self._database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._database.compile(expressions=expressions, ids=list(range(len(expressions))), flags=flags)
        self._local = threading.local()  # Hyperscan scratch space must not be shared between threads
        self._fold = np.arange(_FOLD_LIMIT, dtype=np.uint32)
        for code, replacement in fold_table().items():
            if code < _FOLD_LIMIT:
                self._fold[code] = ord(replacement)

    def _is_prose(self, pattern_id: int, end: int, data: bytes) -> bool:
        """A lower-case ordinary word (folding keeps case) outside a labelled stamp: skip it cheaply."""
        meta = self._metas[pattern_id]
        if meta.kind is not CandidateKind.MARKING or meta.key not in self._ordinary:
            return False
        before = data[max(0, end - 72) : end]
        return data[end - 2 : end].islower() and b":" not in before and b"-" not in before

    def _fold_text(self, text: str) -> str:
        """Vectorised one-to-one fold (str.translate costs ~60 ns per non-ASCII character)."""
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        folded = self._fold.take(codes, mode="clip")
        if codes.max() >= _FOLD_LIMIT:
            folded = np.where(codes < _FOLD_LIMIT, folded, codes)
        return folded.tobytes().decode("utf-32-le", "surrogatepass")

    def scan(self, text: str) -> list[Candidate]:
        ascii_only = text.isascii()
        folded = text if ascii_only else self._fold_text(text)
        data = folded.encode("utf-8", "surrogatepass")
        found: list[tuple[int, int, int]] = []

        def on_match(pattern_id: int, start: int, end: int, _flags: int, _context: object) -> None:
            found.append((pattern_id, start, end))

        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = hyperscan.Scratch(self._database)
        self._database.scan(data, match_event_handler=on_match, scratch=scratch)
        if not found:
            return []
        found = [f for f in found if not self._is_prose(f[0], f[2], data)]
        if not ascii_only:
            to_char = _byte_to_char(data, {offset for _, start, end in found for offset in (start, end)})
            found = [(pattern_id, to_char[start], to_char[end]) for pattern_id, start, end in found]
        candidates = []
        for pattern_id, start, end in found:
            meta = self._metas[pattern_id]
            if meta.kind is CandidateKind.MARKING:
                backward, reach = self._backward[meta.key]
                window_start = max(0, end - reach)
                match = backward.search(folded, window_start, end)
                if match is None:
                    continue
                start = match.start()
            candidates.append(Candidate(meta.kind, meta.key, start, end))
        return candidates


def _to_python(pattern: str) -> str:
    return re.sub(r"\\x\{([0-9A-F]+)\}", lambda m: f"\\U{int(m.group(1), 16):08X}", pattern)


def _byte_to_char(data: bytes, offsets: set[int]) -> dict[int, int]:
    """Character offsets of UTF-8 byte offsets, decoding each stretch between them once."""
    mapping: dict[int, int] = {}
    byte_position = char_position = 0
    for offset in sorted(offsets):
        char_position += len(data[byte_position:offset].decode("utf-8", "surrogatepass"))
        byte_position = offset
        mapping[offset] = char_position
    return mapping
