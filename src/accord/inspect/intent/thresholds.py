"""Per-category score bands: ``>= decide`` is a finding; ``[uncertain, decide)`` asks the next stage."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from accord.inspect.intent.errors import DetectorError
from accord.inspect.intent.result import INTENT_CATEGORIES

DEFAULT_DECIDE = 0.5
DEFAULT_UNCERTAIN = 0.2


def _defaults(value: float) -> dict[str, float]:
    return dict.fromkeys(INTENT_CATEGORIES, value)


@dataclass(frozen=True)
class IntentThresholds:
    decide: dict[str, float] = field(default_factory=lambda: _defaults(DEFAULT_DECIDE))
    uncertain: dict[str, float] = field(default_factory=lambda: _defaults(DEFAULT_UNCERTAIN))

    def __post_init__(self) -> None:
        for category in INTENT_CATEGORIES:
            low, high = self.uncertain.get(category), self.decide.get(category)
            if low is None or high is None:
                raise DetectorError(f"intent thresholds: no band for category {category!r}")
            if not 0.0 <= low <= high <= 1.0:
                raise DetectorError(f"intent thresholds for {category!r}: need 0 <= uncertain <= decide <= 1")

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> IntentThresholds:
        """Read ``{category: {"decide": x, "uncertain": y}}`` as the policy bundle carries it.

        Categories left out keep the defaults; unknown categories are an error, so a typo cannot
        silently disable a band.
        """
        decide, uncertain = _defaults(DEFAULT_DECIDE), _defaults(DEFAULT_UNCERTAIN)
        for category, band in data.items():
            if category not in INTENT_CATEGORIES:
                raise DetectorError(f"intent thresholds: unknown category {category!r}")
            if not isinstance(band, Mapping) or not set(band) <= {"decide", "uncertain"}:
                raise DetectorError(
                    f"intent thresholds for {category!r}: expected keys 'decide' and 'uncertain'"
                )
            try:
                decide[category] = float(band.get("decide", decide[category]))
                uncertain[category] = float(band.get("uncertain", uncertain[category]))
            except (TypeError, ValueError) as error:
                raise DetectorError(f"intent thresholds for {category!r}: {error}") from error
        return cls(decide=decide, uncertain=uncertain)

    @classmethod
    def from_decide(cls, decide: Mapping[str, float]) -> IntentThresholds:
        """The policy bundle says where a category is decided; the uncertain band opens below that."""
        full = _defaults(DEFAULT_DECIDE) | dict(decide)
        return cls(
            decide=full, uncertain={name: min(DEFAULT_UNCERTAIN, value) for name, value in full.items()}
        )

    def to_dict(self) -> dict[str, dict[str, float]]:
        return {c: {"decide": self.decide[c], "uncertain": self.uncertain[c]} for c in INTENT_CATEGORIES}

    def band(self, category: str, score: float) -> str:
        """``"decided"``, ``"uncertain"`` or ``"clear"``."""
        if score >= self.decide[category]:
            return "decided"
        if score >= self.uncertain[category]:
            return "uncertain"
        return "clear"
