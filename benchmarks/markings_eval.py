"""Evaluate the marking scanner on tests/data/markings/cases.jsonl; exit 1 if a target is missed.

Run: .venv/bin/python benchmarks/markings_eval.py [--show-failures] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from accord.inspect.markings import MarkingScanner

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "tests" / "data" / "markings" / "cases.jsonl"
TARGETS = {"plain_recall": 0.99, "evasion_recall": 0.95, "hard_negative_fp_rate": 0.01}


@dataclass
class Tally:
    total: int = 0
    good: int = 0

    def rate(self) -> float:
        return self.good / self.total if self.total else 1.0


@dataclass
class Report:
    recall: dict[str, dict[str, Tally]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(Tally))
    )
    precision: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    scheme_match: Tally = field(default_factory=Tally)
    negatives: Tally = field(default_factory=Tally)  # good = false positives
    failures: list[str] = field(default_factory=list)


def load_cases(path: Path = CASES) -> list[dict[str, object]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def evaluate(scanner: MarkingScanner, cases: list[dict[str, object]]) -> Report:
    report = Report()
    for item in cases:
        result = scanner.scan(str(item["text"]))
        if item["category"] == "hard_negative":
            report.negatives.total += 1
            if result.rank > 0:
                report.negatives.good += 1
                report.failures.append(f"FP {item['id']}: {result.to_json()['spans']}")
            if result.scheme is not None and result.rank > 0:
                report.precision[result.scheme].total += 1
            continue
        correct = bool(result.hits) and result.rank == item["rank"]
        for axis in ("category", "scheme", "kind"):
            tally = report.recall[axis][str(item[axis])]
            tally.total += 1
            tally.good += correct
        if result.hits and result.scheme is not None:
            report.precision[result.scheme].total += 1
            report.precision[result.scheme].good += correct and result.scheme == item["scheme"]
        if correct:
            report.scheme_match.total += 1
            report.scheme_match.good += result.scheme == item["scheme"]
        else:
            report.failures.append(
                f"MISS {item['id']}: expected {item['level']} got {result.to_json()['spans']}"
            )
    return report


def summary(report: Report) -> dict[str, float]:
    return {
        "plain_recall": report.recall["category"]["plain"].rate(),
        "evasion_recall": report.recall["category"]["evasion"].rate(),
        "hard_negative_fp_rate": report.negatives.rate() if report.negatives.total else 0.0,
        "scheme_accuracy": report.scheme_match.rate(),
    }


def targets_met(figures: dict[str, float]) -> list[str]:
    missed = []
    for name, target in TARGETS.items():
        value = figures[name]
        ok = value <= target if name.endswith("fp_rate") else value >= target
        if not ok:
            missed.append(
                f"{name}={value:.4f} (target {'<=' if name.endswith('fp_rate') else '>='} {target})"
            )
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--show-failures", action="store_true")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "markings_eval.json")
    args = parser.parse_args()
    scanner = MarkingScanner.load()
    cases = load_cases()
    report = evaluate(scanner, cases)
    figures = summary(report)
    print(f"cases: {len(cases)}")
    for axis in ("category", "kind", "scheme"):
        print(f"\nrecall by {axis}:")
        for name, tally in sorted(report.recall[axis].items()):
            print(f"  {name:16s} {tally.rate():.3f}  ({tally.good}/{tally.total})")
    print("\nprecision by reported scheme (correct level and scheme / reported):")
    for name, tally in sorted(report.precision.items()):
        print(f"  {name:16s} {tally.rate():.3f}  ({tally.good}/{tally.total})")
    print(f"\nhard negatives: {report.negatives.good} false positives / {report.negatives.total}")
    for name, value in figures.items():
        print(f"{name}: {value:.4f}")
    if args.show_failures:
        print("\n".join(report.failures))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"cases": len(cases), **figures}, indent=2) + "\n")
    missed = targets_met(figures)
    if missed:
        print("TARGETS MISSED: " + "; ".join(missed), file=sys.stderr)
        return 1
    print("all targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
