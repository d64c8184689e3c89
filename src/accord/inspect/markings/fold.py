"""Character folding: which characters count as "the same letter" when matching a marking.

Rather than normalising the whole request (a pass in Python per character), the equivalences are
compiled into the automaton: every letter of a marking becomes a class of its case, NFKC, accent,
homoglyph and digit look-alikes, and invisible or spacing characters may sit between letters. Matches
are therefore found in the original text, so offsets need no remapping. ``fold_with_offsets`` applies
the same folding to short spans (a matched line, a portion mark) with an offset map back to the original.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

# Lower-case Cyrillic and Greek letters that look like a Latin letter (Unicode confusables, visual subset).
CONFUSABLES: dict[str, str] = {
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "ү": "y", "һ": "h", "ӏ": "l",
    "α": "a", "β": "b", "ε": "e", "ζ": "z", "η": "h", "ι": "i", "κ": "k", "μ": "m", "ν": "n", "ο": "o",
    "ρ": "p", "τ": "t", "υ": "y", "χ": "x", "ϲ": "c", "ϳ": "j",
    "ı": "i", "ɑ": "a", "ℓ": "l",
}  # fmt: skip

# Digits and symbols used in place of letters ("S3CR3T", "$ECRET").
LEET: dict[str, str] = {"4": "a", "@": "a", "8": "b", "3": "e", "€": "e", "6": "g", "9": "g", "1": "i",
                        "!": "i", "|": "l", "0": "o", "5": "s", "$": "s", "7": "t", "2": "z"}  # fmt: skip

# Characters that carry no letter: zero-width, soft hyphen, bidi controls, variation selectors, tags.
INVISIBLE_RANGES: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xE0000, 0xE007F),
)  # fmt: skip
COMBINING_RANGES: tuple[tuple[int, int], ...] = ((0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF),
                                                 (0x20D0, 0x20FF))  # fmt: skip
# Blocks searched for letter variants: Latin, Greek, Cyrillic, letterlike, enclosed, fullwidth, math.
_VARIANT_BLOCKS: tuple[tuple[int, int], ...] = (
    (0x0041, 0x024F), (0x0370, 0x03FF), (0x0400, 0x052F), (0x1D00, 0x1DBF), (0x1E00, 0x1FFF),
    (0x2100, 0x214F), (0x2460, 0x24FF), (0xFF00, 0xFFEF), (0x1D400, 0x1D7FF), (0x1F130, 0x1F189),
)  # fmt: skip


@lru_cache(maxsize=65536)
def is_invisible(char: str) -> bool:
    code = ord(char)
    return any(lo <= code <= hi for lo, hi in INVISIBLE_RANGES) or any(
        lo <= code <= hi for lo, hi in COMBINING_RANGES
    )


@lru_cache(maxsize=65536)
def skeleton_char(char: str) -> str:
    """The folded letter a character stands for ('' for invisible characters)."""
    if is_invisible(char):
        return ""
    base = unicodedata.normalize("NFKC", char)
    base = "".join(c for c in unicodedata.normalize("NFD", base) if not unicodedata.combining(c)).casefold()
    base = "".join(c for c in unicodedata.normalize("NFD", base) if not unicodedata.combining(c))
    if len(base) != 1:
        return base
    return CONFUSABLES.get(base, base)


@lru_cache(maxsize=1)
def letter_variants() -> dict[str, frozenset[str]]:
    """Folded letter -> every character in the searched blocks that folds to it."""
    groups: dict[str, set[str]] = {}
    for lo, hi in _VARIANT_BLOCKS:
        for code in range(lo, hi + 1):
            char = chr(code)
            if not unicodedata.category(char).startswith(("L", "N", "S")):
                continue
            folded = skeleton_char(char)
            if len(folded) == 1 and folded.isalpha():
                groups.setdefault(folded, set()).add(char)
    return {letter: frozenset(chars) for letter, chars in groups.items()}


def fold_with_offsets(text: str, *, leet: bool = False) -> tuple[str, list[int]]:
    """Fold a short span; ``origins[i]`` is the index in ``text`` of folded character ``i``."""
    out: list[str] = []
    origins: list[int] = []
    for index, char in enumerate(text):
        folded = LEET[char] if leet and char in LEET else skeleton_char(char)
        for piece in folded:
            out.append(piece)
            origins.append(index)
    return "".join(out), origins


def fold(text: str, *, leet: bool = False) -> str:
    return fold_with_offsets(text, leet=leet)[0]


def script_of(char: str) -> str:
    """Coarse script of a letter: 'latin', 'greek', 'cyrillic' or 'other'."""
    name = unicodedata.name(char, "")
    for script in ("LATIN", "GREEK", "CYRILLIC"):
        if name.startswith(script) or f" {script} " in name:
            return script.lower()
    if char.isascii():
        return "latin"
    return "other"
