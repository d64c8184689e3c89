"""What the intent detector tells the policy engine: scores, decided and uncertain categories, evidence."""

from __future__ import annotations

from dataclasses import dataclass, field

INTENT_CATEGORIES: tuple[str, ...] = (
    "domestic_surveillance",
    "targeted_surveillance",
    "bulk_collection",
    "autonomous_weapons",
    "automated_decision",
)


@dataclass(frozen=True, slots=True)
class Evidence:
    """A lexicon cue found at ``text[start:end]``; ``weight`` is what the linear model gives it.

    ``category`` is ``"benign"`` for counter-evidence (logistics, IT operations, law and history ...).
    """

    start: int
    end: int
    signal: str
    category: str
    weight: float


@dataclass(frozen=True, slots=True)
class IntentResult:
    scores: dict[str, float]
    categories: frozenset[str]
    uncertain: frozenset[str]
    evidence: tuple[Evidence, ...]
    stages: tuple[str, ...]
    language: str | None
    # Stages that failed (e.g. "judge: timeout"); their categories stay uncertain so the policy never allows.
    errors: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, object]:
        return {
            "scores": {name: round(score, 4) for name, score in self.scores.items()},
            "categories": sorted(self.categories),
            "uncertain": sorted(self.uncertain),
            "evidence": [
                {
                    "start": item.start,
                    "end": item.end,
                    "signal": item.signal,
                    "category": item.category,
                    "weight": round(item.weight, 4),
                }
                for item in self.evidence
            ],
            "stages": list(self.stages),
            "language": self.language,
            "errors": list(self.errors),
        }
