"""Precision and recall of the intent detector on the held-out evaluation set.

    .venv/bin/python benchmarks/intent_eval.py [--set eval|holdout|regression] [--embedding] [--decided-only]
                                               [--show-misses]

Writes the figures to benchmarks/results/intent_<set>.json as well.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from accord.inspect.intent import INTENT_CATEGORIES, IntentDetector
from accord.inspect.intent.evaluation import evaluate, load_cases

ROOT = Path(__file__).resolve().parent.parent
SETS = {
    "eval": ROOT / "tests" / "data" / "intent" / "eval.jsonl",
    # written after the lexicon and training data were frozen, never used for tuning
    "holdout": ROOT / "tests" / "data" / "intent" / "holdout.jsonl",
    # misses and false positives found by tests/e2e/test_policy_live.py, plus paraphrases of them
    "regression": ROOT / "tests" / "data" / "intent" / "regression.jsonl",
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--embedding", action="store_true", help="also run the embedding stage in the uncertain band"
    )
    parser.add_argument(
        "--decided-only", action="store_true", help="count only decided categories as flagged"
    )
    parser.add_argument("--show-misses", action="store_true")
    parser.add_argument("--set", choices=sorted(SETS), default="eval", help="which labelled set to score")
    args = parser.parse_args()
    detector = IntentDetector.load(embedding=args.embedding)
    cases = load_cases(SETS[args.set])
    report = evaluate(cases, detector.detect, include_uncertain=not args.decided_only)
    figures = report.to_json()
    stages = "lexical+linear" + ("+embedding" if args.embedding else "")
    print(
        f"intent evaluation ({args.set}): {len(cases)} cases, stages {stages}, flagged = "
        + ("decided" if args.decided_only else "decided or uncertain")
    )
    print(f"{'category':<24}{'precision':>10}{'recall':>8}{'tp':>5}{'fp':>5}{'fn':>5}")
    for name in INTENT_CATEGORIES:
        c = report.per_category[name]
        print(f"{name:<24}{c.precision:>10.3f}{c.recall:>8.3f}{c.tp:>5}{c.fp:>5}{c.fn:>5}")
    anyrow = report.any_prohibited
    print(f"{'any prohibited':<24}{anyrow.precision:>10.3f}{anyrow.recall:>8.3f}")
    print(f"{'language':<24}{'precision':>10}{'recall':>8}")
    for lang, c in sorted(report.per_language.items()):
        print(f"{lang:<24}{c.precision:>10.3f}{c.recall:>8.3f}")
    for kind, (flagged, total) in sorted(report.benign_flagged.items()):
        print(
            f"false-positive rate on benign {kind}: "
            f"{report.false_positive_rate(kind):.3f} ({flagged} of {total})"
        )
    if args.show_misses:
        for case, found in report.misses:
            print(
                f"MISS [{case.lang}/{case.kind}] labels={sorted(case.labels)} "
                f"flagged={sorted(found)}: {case.text}"
            )
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"intent_{args.set}.json").write_text(json.dumps({"stages": stages, **figures}, indent=2))


if __name__ == "__main__":
    main()
