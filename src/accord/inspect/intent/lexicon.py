"""The lexical stage: every intent cue of every language found in one Aho-Corasick pass over the text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from typing import Any

import ahocorasick
import yaml

from accord.inspect.intent.errors import DetectorError

_WORD = re.compile(r"\w+")


def normalise(text: str) -> str:
    """Lower-case ``text`` keeping every offset, so a match in the result is a span of the original."""
    lowered = text.lower()
    if len(lowered) != len(text):  # e.g. Turkish "İ" lower-cases to two code points
        lowered = "".join(ch.lower()[0] for ch in text)  # "İ" -> "i": Turkish cues still match
    return lowered.replace("’", "'").replace("ʼ", "'").replace("`", "'")


@dataclass(frozen=True, slots=True)
class Match:
    start: int
    end: int
    signal: int


@dataclass(frozen=True, slots=True)
class Signal:
    name: str
    categories: tuple[str, ...]


def _read_yaml(name: str) -> Any:
    try:
        return yaml.safe_load(resources.files("accord.data.intent").joinpath(name).read_text("utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise DetectorError(f"cannot read intent data file {name}: {error}") from error


class Lexicon:
    """Cue phrases per signal and language, compiled into one automaton."""

    def __init__(self, signals: dict[str, Any], languages: dict[str, list[str]]) -> None:
        self.signals: tuple[Signal, ...] = tuple(
            Signal(name, tuple(spec["categories"])) for name, spec in signals.items()
        )
        self._automaton = ahocorasick.Automaton()
        entries: dict[str, set[tuple[int, bool]]] = {}
        for index, spec in enumerate(signals.values()):
            for cues in spec["cues"].values():
                for cue in cues:
                    whole_word = cue.endswith("$")
                    key = normalise(cue.rstrip("$"))
                    entries.setdefault(key, set()).add((index, whole_word))
        for key, targets in entries.items():
            self._automaton.add_word(key, (len(key), tuple(sorted(targets))))
        self._automaton.make_automaton()
        self._stopwords = {lang: frozenset(words) for lang, words in languages.items()}
        languages_of: dict[str, list[int]] = {}
        for number, words in enumerate(self._stopwords.values()):
            for word in words:
                languages_of.setdefault(word, []).append(number)
        self._languages_of = {word: tuple(numbers) for word, numbers in languages_of.items()}

    @classmethod
    def load(cls) -> Lexicon:
        data = _read_yaml("lexicon.yaml")
        return cls(data["signals"], _read_yaml("languages.yaml"))

    @cached_property
    def languages(self) -> tuple[str, ...]:
        return tuple(self._stopwords)

    def match(self, normalised: str) -> list[Match]:
        """Cues that start on a word boundary (and, for ``$`` cues, end on one) in ``normalised`` text."""
        matches: list[Match] = []
        size = len(normalised)
        for last, (length, targets) in self._automaton.iter(normalised):
            start, end = last - length + 1, last + 1
            if start > 0 and normalised[start - 1].isalnum():
                continue
            at_word_end = end >= size or not normalised[end].isalnum()
            for signal, whole_word in targets:
                if at_word_end or not whole_word:
                    matches.append(Match(start, end, signal))
        return matches

    def language(self, normalised: str) -> str | None:
        """The language whose function words are most frequent in the first 600 characters, if any
        (on a tie, the one listed first in languages.yaml)."""
        hits = [0] * len(self._stopwords)
        for word in _WORD.findall(normalised[:600]):
            for lang in self._languages_of.get(word, ()):
                hits[lang] += 1
        best = max(range(len(hits)), key=lambda lang: (hits[lang], -lang), default=None)
        return None if best is None or not hits[best] else self.languages[best]
