"""The targets of the brief, on the held-out evaluation set (lexical + linear stages only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.inspect.intent import INTENT_CATEGORIES, IntentDetector
from accord.inspect.intent.evaluation import Report, evaluate, load_cases

EVAL_SET = Path(__file__).resolve().parents[2] / "data" / "intent" / "eval.jsonl"


@pytest.fixture(scope="module")
def report() -> Report:
    return evaluate(load_cases(EVAL_SET), IntentDetector.load().detect)


def test_the_evaluation_set_is_broad_and_separate_from_training() -> None:
    from accord.inspect.intent.train import load_examples

    cases = load_cases(EVAL_SET)
    assert len(cases) >= 300
    assert {case.lang for case in cases} >= {"en", "fr", "de", "es", "it", "pl", "nl", "pt", "tr"}
    assert {case.kind for case in cases} == {"positive", "admin", "lookalike"}
    training = {example.text.strip().lower() for example in load_examples()}
    assert not [case.text for case in cases if case.text.strip().lower() in training]


@pytest.mark.parametrize("category", INTENT_CATEGORIES)
def test_recall_on_each_prohibited_category(report: Report, category: str) -> None:
    assert report.per_category[category].recall >= 0.95


def test_false_positives_on_benign_admin_and_logistics(report: Report) -> None:
    assert report.false_positive_rate("admin") <= 0.02


def test_false_positives_on_benign_look_alikes(report: Report) -> None:
    assert report.false_positive_rate("lookalike") <= 0.10
