"""The evaluation set's targets are part of the suite, so a regression in recall or precision fails."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from accord.inspect.markings import MarkingScanner

ROOT = Path(__file__).resolve().parents[3]


def _eval_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("markings_eval", ROOT / "benchmarks" / "markings_eval.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_evaluation_set_is_large_and_covers_every_category() -> None:
    cases = _eval_module().load_cases()
    categories = {str(case["category"]) for case in cases}
    assert len(cases) >= 500
    assert categories == {"plain", "evasion", "hard_negative"}
    assert len({case["id"] for case in cases}) == len(cases)


def test_the_scanner_meets_its_targets_on_the_evaluation_set(scanner: MarkingScanner) -> None:
    module = _eval_module()
    report = module.evaluate(scanner, module.load_cases())
    figures = module.summary(report)
    assert module.targets_met(figures) == [], report.failures[:20]
