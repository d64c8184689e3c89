"""Feature extraction shared by training and inference: hashed character n-grams plus lexicon signals.

Everything here is vectorised with numpy so a 2 KB prompt costs tens of microseconds. The n-gram hash
is a fixed polynomial over code points (not Python's salted ``hash``), so trained weights stay valid
across processes.

An n-gram is a *presence* feature: each distinct bucket counts once per scored segment (see
``distinct``). With counts, a repetitive text such as a list of 30 near-identical e-mail
addresses (digits fold to 0) added the same weights 30 times, and under the 1/sqrt(length) scaling its
score grew like sqrt(30) whatever the list was about.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import numpy.typing as npt

HASH_BITS = 18
HASH_SIZE = 1 << HASH_BITS
NGRAM_SIZES = (3, 4, 5)
_MULTIPLIER = np.uint64(1_000_003)
_MIX = np.uint64(0x9E3779B97F4A7C15)
# n * MULTIPLIER**n modulo 2**64: the hash's start value n carried through its n multiply-adds.
_SEED = {n: np.uint64((n * 1_000_003**n) % (1 << 64)) for n in NGRAM_SIZES}
_SENTENCE_END = re.compile(r"[.!?;:\n]+(?=\s|$)|\n")

IntArray = npt.NDArray[np.int64]


_WHITESPACE = np.array(
    [
        9,
        10,
        11,
        12,
        13,
        32,
        0x85,
        0xA0,
        0x1680,
        *range(0x2000, 0x200B),
        0x2028,
        0x2029,
        0x202F,
        0x205F,
        0x3000,
    ],
    dtype=np.uint32,
)


# A look-up table over code points up to the highest whitespace one (every higher code point maps to
# the last, non-space, entry): one indexing op, where ``np.isin`` costs ~15 µs per call on short texts.
_IS_SPACE = np.zeros(int(_WHITESPACE.max()) + 2, dtype=bool)
_IS_SPACE[_WHITESPACE] = True
_BEYOND_SPACE = np.uint32(len(_IS_SPACE) - 1)
# The same folding for ASCII text: whitespace to a space, every digit to "0".
_ASCII_FOLD = bytes.maketrans(
    bytes(int(c) for c in _WHITESPACE if c < 128) + b"0123456789",
    b" " * int(np.count_nonzero(_WHITESPACE < 128)) + b"0" * 10,
)


@dataclass(frozen=True, slots=True)
class Encoded:
    """The text as the n-gram hash sees it: whitespace runs collapsed, digits folded to 0, one pad space
    at both ends. ``positions[i]`` is where character ``i`` of the input landed in ``points``."""

    points: npt.NDArray[np.uint64]
    positions: IntArray


def encode(normalised: str) -> Encoded:
    """Vectorised with numpy: no per-character Python work, so a 2 KB prompt costs microseconds."""
    folded, space = fold_ascii(normalised) if normalised.isascii() else fold(normalised)
    keep = np.ones(len(folded), dtype=bool)
    keep[1:] = ~(space[1:] & space[:-1])
    points = np.empty(int(np.count_nonzero(keep)) + 2, dtype=np.uint64)
    points[0] = points[-1] = 32
    points[1:-1] = folded[keep]
    return Encoded(points=points, positions=np.cumsum(keep, dtype=np.int64))


def fold(normalised: str) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.bool_]]:
    """Code points with whitespace made a space and digits "0", and where the spaces are."""
    raw = np.frombuffer(normalised.encode("utf-32-le"), dtype=np.uint32)
    space = _IS_SPACE[np.minimum(raw, _BEYOND_SPACE)]
    folded = np.where(space, np.uint32(32), raw)
    folded = np.where((folded >= 48) & (folded <= 57), np.uint32(48), folded)
    return folded, space


def fold_ascii(normalised: str) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]:
    """``fold`` for ASCII text (most prompts): one bytes.translate, arrays a quarter of the size."""
    folded = np.frombuffer(normalised.encode("ascii").translate(_ASCII_FOLD), dtype=np.uint8)
    return folded, folded == 32


def ngram_indices(normalised: str | Encoded) -> list[IntArray]:
    """For each n in NGRAM_SIZES, the hash bucket of the n-gram at each position of the padded text.

    The hash of the n-gram at ``i`` is ``n * M**n + sum(points[i + k] * M**(n - 1 - k))`` modulo 2**64,
    then mixed; the sums for n + 1 extend those for n by one multiply-add, so the three sizes cost
    about as many array operations as the largest one alone.
    """
    points = (encode(normalised) if isinstance(normalised, str) else normalised).points
    out: list[IntArray] = []
    rolling: npt.NDArray[np.uint64] | None = None
    width = 0
    for n in NGRAM_SIZES:
        count = len(points) - n + 1
        if count <= 0:
            out.append(np.zeros(0, dtype=np.int64))
            continue
        if rolling is None:
            rolling = points
            width = 1
        while width < n:
            rolling = rolling[: len(points) - width] * _MULTIPLIER + points[width:]
            width += 1
        h = (rolling[:count] + _SEED[n]) * _MIX >> np.uint64(64 - HASH_BITS)
        out.append(h.astype(np.int64))
    return out


def distinct(keys: IntArray) -> IntArray:
    """The sorted distinct values of ``keys``: a plain sort, several times cheaper than ``np.unique``."""
    ordered = np.sort(keys)
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    result: IntArray = ordered[keep]
    return result


def distinct_ngrams(normalised: str | Encoded) -> list[IntArray]:
    """For each n in NGRAM_SIZES, the distinct buckets of the text: what training sees of a whole text."""
    return [distinct(indices) for indices in ngram_indices(normalised)]


def sentence_spans(normalised: str) -> list[tuple[int, int]]:
    """Sentence-like spans of the text; intent is judged per sentence as well as on the whole."""
    spans, start = [], 0
    for end_match in _SENTENCE_END.finditer(normalised):
        end = end_match.end()
        if normalised[start:end].strip():
            spans.append((start, end))
        start = end
    if normalised[start:].strip():
        spans.append((start, len(normalised)))
    return spans


@dataclass(frozen=True, slots=True)
class SignalSpace:
    """Column layout after the hashed n-grams: one column per signal, then one per unordered pair."""

    names: tuple[str, ...]

    @property
    def pairs(self) -> tuple[tuple[int, int], ...]:
        return tuple(combinations(range(len(self.names)), 2))

    @property
    def size(self) -> int:
        count = len(self.names)
        return count + count * (count - 1) // 2

    def columns(self, present: Iterable[int]) -> list[int]:
        """Columns (offset by HASH_SIZE) of the signals present and of every pair of them."""
        signals = sorted(set(present))
        count = len(self.names)
        cols = [HASH_SIZE + s for s in signals]
        for a, b in combinations(signals, 2):
            # index of pair (a, b) with a < b in the row-major upper triangle
            pair = a * count - a * (a + 1) // 2 + (b - a - 1)
            cols.append(HASH_SIZE + count + pair)
        return cols

    def pair_name(self, column: int) -> str:
        offset = column - HASH_SIZE
        if offset < len(self.names):
            return self.names[offset]
        a, b = self.pairs[offset - len(self.names)]
        return f"{self.names[a]}+{self.names[b]}"
