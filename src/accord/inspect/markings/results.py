"""What a scan reports: the markings found, with offsets into the original text."""

from __future__ import annotations

from dataclasses import dataclass

from accord.inspect.markings.registry import NATO_LEVELS

_LEVEL_NAMES = {
    "NATO UNCLASSIFIED": "NU",
    "NATO RESTRICTED": "NR",
    "NATO CONFIDENTIAL": "NC",
    "NATO SECRET": "NS",
    "COSMIC TOP SECRET": "CTS",
}
_LEVEL_BY_RANK = {rank: level for level, rank in NATO_LEVELS.items()}


@dataclass(frozen=True, slots=True)
class MarkingHit:
    start: int
    end: int
    marking: str
    scheme: str
    level: str
    rank: int
    kind: str
    classified: bool
    evasion: str | None


@dataclass(frozen=True, slots=True)
class ClassificationResult:
    hits: tuple[MarkingHit, ...]

    def _top(self) -> MarkingHit | None:
        return max(self.hits, key=lambda hit: hit.rank, default=None)

    @property
    def level(self) -> str:
        top = self._top()
        return _LEVEL_BY_RANK[top.rank] if top is not None else "NU"

    @property
    def rank(self) -> int:
        top = self._top()
        return top.rank if top is not None else 0

    @property
    def scheme(self) -> str | None:
        top = self._top()
        return top.scheme if top is not None else None

    def exceeds(self, ceiling_rank: int) -> bool:
        return self.rank > ceiling_rank

    def to_json(self) -> dict[str, object]:
        return {
            "level": self.level,
            "rank": self.rank,
            "scheme": self.scheme,
            "spans": [
                {
                    "start": hit.start,
                    "end": hit.end,
                    "marking": hit.marking,
                    "scheme": hit.scheme,
                    "level": hit.level,
                    "kind": hit.kind,
                    "evasion": hit.evasion,
                }
                for hit in self.hits
            ],
        }


def ceiling_rank(name: str) -> int:
    """Rank of a ceiling given as a NATO code ("NR") or name ("NATO RESTRICTED")."""
    key = " ".join(name.split()).upper()
    level = _LEVEL_NAMES.get(key, key)
    if level not in NATO_LEVELS:
        raise ValueError(f"unknown classification ceiling {name!r}; use one of {sorted(NATO_LEVELS)}")
    return NATO_LEVELS[level]
