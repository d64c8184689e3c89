"""Scoring the intent detector against a labelled set, shared by ``benchmarks/intent_eval.py`` and the tests.

A case counts as *flagged* for a category when the category is decided **or** uncertain: both make the
policy refuse or send to review, so both are what a user experiences and what a false positive costs.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from accord.inspect.intent.result import INTENT_CATEGORIES, IntentResult


@dataclass(frozen=True, slots=True)
class Case:
    text: str
    lang: str
    labels: frozenset[str]
    kind: str  # "positive", "admin" (ordinary admin/logistics work) or "lookalike" (benign but close)


def load_cases(path: Path) -> list[Case]:
    cases = []
    for line in path.read_text("utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            cases.append(Case(row["text"], row["lang"], frozenset(row["labels"]), row["kind"]))
    return cases


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class Report:
    per_category: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    per_language: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    any_prohibited: Counts = field(default_factory=Counts)
    benign_flagged: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    misses: list[tuple[Case, frozenset[str]]] = field(default_factory=list)

    def false_positive_rate(self, kind: str) -> float:
        flagged, total = self.benign_flagged[kind]
        return flagged / total if total else 0.0

    def to_json(self) -> dict[str, object]:
        def counts(c: Counts) -> dict[str, float]:
            return {
                "precision": round(c.precision, 4),
                "recall": round(c.recall, 4),
                "tp": c.tp,
                "fp": c.fp,
                "fn": c.fn,
            }

        return {
            "per_category": {name: counts(self.per_category[name]) for name in INTENT_CATEGORIES},
            "per_language": {lang: counts(c) for lang, c in sorted(self.per_language.items())},
            "any_prohibited": counts(self.any_prohibited),
            "false_positive_rate": {
                kind: round(self.false_positive_rate(kind), 4) for kind in sorted(self.benign_flagged)
            },
            "benign_cases": {kind: total for kind, (_, total) in sorted(self.benign_flagged.items())},
        }


def flagged(result: IntentResult, include_uncertain: bool = True) -> frozenset[str]:
    return result.categories | result.uncertain if include_uncertain else result.categories


def evaluate(
    cases: Iterable[Case], detect: Callable[[str], IntentResult], include_uncertain: bool = True
) -> Report:
    report = Report()
    for case in cases:
        found = flagged(detect(case.text), include_uncertain)
        for name in INTENT_CATEGORIES:
            counts = report.per_category[name]
            if name in case.labels:
                counts.tp += name in found
                counts.fn += name not in found
            elif name in found:
                counts.fp += 1
        language = report.per_language[case.lang]
        if case.labels:
            hit = bool(found)
            report.any_prohibited.tp += hit
            report.any_prohibited.fn += not hit
            language.tp += hit
            language.fn += not hit
            if not case.labels <= found:
                report.misses.append((case, found))
        else:
            report.benign_flagged[case.kind][1] += 1
            if found:
                report.benign_flagged[case.kind][0] += 1
                report.any_prohibited.fp += 1
                language.fp += 1
                report.misses.append((case, found))
    return report
