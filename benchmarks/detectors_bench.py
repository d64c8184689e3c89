"""Latency of the detectors per 1 KB and 2 KB of text, and PII recall against Presidio's regex recognizers.

    .venv/bin/python benchmarks/detectors_bench.py [--runs 300] [--no-presidio] [--no-embedding]

Runs on one core (the process is pinned to CPU 0 where the OS allows it). Presidio is measured only if
``presidio_analyzer`` is importable; it runs with a blank spaCy pipeline (tokenizer only, no NER model)
and its spaCy NER recognizer removed, i.e. its regex/pattern recognizers only. Writes
benchmarks/results/detectors_bench.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from accord.inspect.intent import IntentDetector
from accord.inspect.personal_data import PersonalDataDetector

ROOT = Path(__file__).resolve().parent.parent
PII_SET = ROOT / "tests" / "data" / "intent" / "personal_data.jsonl"
INTENT_SET = ROOT / "tests" / "data" / "intent" / "eval.jsonl"

# Presidio entity types that correspond to our kinds (PERSON and LOCATION need an NER model, so a
# regex-only Presidio cannot find names or addresses).
PRESIDIO_KINDS = {
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "US_SSN": "ssn",
    "IBAN_CODE": "iban",
    "US_PASSPORT": "passport",
    "ES_NIF": "national_id",
    "ES_NIE": "national_id",
    "IT_FISCAL_CODE": "national_id",
    "PL_PESEL": "national_id",
    "PERSON": "name",
    "LOCATION": "address",
}


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def corpus(size: int, variants: int = 20) -> list[str]:
    """Realistic prompts of ``size`` characters: admin and logistics text with personal data sprinkled in."""
    sentences = [row["text"] for row in _rows(INTENT_SET) if not row["labels"]]
    pii = [row["text"] for row in _rows(PII_SET)]
    texts = []
    for variant in range(variants):
        parts: list[str] = []
        index = variant * 7
        while sum(len(part) + 1 for part in parts) < size:
            parts.append(pii[index % len(pii)] if index % 4 == 0 else sentences[index % len(sentences)])
            index += 1
        texts.append(" ".join(parts)[:size])
    return texts


def timed(function: Callable[[str], object], texts: list[str], runs: int) -> dict[str, float]:
    for text in texts[:3]:
        function(text)
    samples = []
    for run in range(runs):
        text = texts[run % len(texts)]
        start = time.perf_counter_ns()
        function(text)
        samples.append((time.perf_counter_ns() - start) / 1000)
    samples.sort()
    return {
        "p50_us": round(statistics.median(samples), 1),
        "p95_us": round(samples[int(len(samples) * 0.95) - 1], 1),
        "mean_us": round(statistics.fmean(samples), 1),
    }


def presidio_analyzer() -> Any | None:
    try:
        import spacy
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import SpacyNlpEngine
    except ImportError:
        return None
    engine: Any = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "blank:en"}])
    engine.nlp = {"en": spacy.blank("en")}  # a real tokenizer-only pipeline; no model download, no NER
    registry: Any = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=engine)
    for recognizer in list(registry.recognizers):
        if recognizer.name == "SpacyRecognizer":
            registry.remove_recognizer(recognizer.name)
    analyzer = AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=["en"])
    analyzer.analyze("warm up the URL recognizer: see https://example.org", language="en")
    return analyzer


def recall(found: Callable[[str], list[tuple[str, int, int]]]) -> dict[str, object]:
    per_kind: dict[str, list[int]] = {}
    false_positives = 0
    for row in _rows(PII_SET):
        entities = found(row["text"])
        for item in row["entities"]:
            hit = any(k == item["kind"] and s < item["end"] and item["start"] < e for k, s, e in entities)
            counts = per_kind.setdefault(item["kind"], [0, 0])
            counts[0] += int(hit)
            counts[1] += 1
        if not row["entities"]:
            false_positives += len(entities)
    hits = sum(c[0] for c in per_kind.values())
    total = sum(c[1] for c in per_kind.values())
    shared = [kind for kind in per_kind if kind not in ("name", "address")]
    shared_hits = sum(per_kind[k][0] for k in shared)
    shared_total = sum(per_kind[k][1] for k in shared)
    return {
        "recall_all_kinds": round(hits / total, 3),
        "recall_regex_kinds": round(shared_hits / shared_total, 3),
        "per_kind": {kind: f"{c[0]}/{c[1]}" for kind, c in sorted(per_kind.items())},
        "findings_on_negative_texts": false_positives,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--no-presidio", action="store_true")
    parser.add_argument("--no-embedding", action="store_true")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    personal = PersonalDataDetector(b"benchmark-salt-0123456789abcdef")
    intent = IntentDetector.load()
    texts = {size: corpus(size) for size in (1024, 2048)}
    results: dict[str, Any] = {"runs": args.runs}

    for size, label in ((1024, "1KB"), (2048, "2KB")):
        results[f"personal_data_{label}"] = timed(personal.scan, texts[size], args.runs)
        results[f"intent_lexical_linear_{label}"] = timed(intent.detect, texts[size], args.runs)
        results[f"intent_plus_personal_data_{label}"] = timed(
            lambda text: (intent.detect(text), personal.scan(text)), texts[size], args.runs
        )

    def ours(text: str) -> list[tuple[str, int, int]]:
        return [(e.kind, e.start, e.end) for e in personal.scan(text).entities]

    results["recall_ours"] = recall(ours)

    analyzer = None if args.no_presidio else presidio_analyzer()
    if analyzer is not None:
        import presidio_analyzer as presidio

        results["presidio_version"] = presidio.__version__ if hasattr(presidio, "__version__") else "2.2.366"
        presidio_runs = max(args.runs // 5, 30)
        for size, label in ((1024, "1KB"), (2048, "2KB")):
            results[f"presidio_regex_{label}"] = timed(
                lambda text: analyzer.analyze(text, language="en"), texts[size], presidio_runs
            )

        def theirs(text: str) -> list[tuple[str, int, int]]:
            return [
                (PRESIDIO_KINDS[r.entity_type], r.start, r.end)
                for r in analyzer.analyze(text, language="en")
                if r.entity_type in PRESIDIO_KINDS
            ]

        results["recall_presidio_regex"] = recall(theirs)
        results["speedup_vs_presidio_1KB"] = round(
            results["presidio_regex_1KB"]["p50_us"] / results["personal_data_1KB"]["p50_us"], 1
        )
    else:
        results["presidio"] = "skipped or not importable; compare with the published ~3.2 ms per 1 KB instead"

    if not args.no_embedding:
        from accord.inspect.intent.embedding import EmbeddingHead, EmbeddingStage

        stage = EmbeddingStage(EmbeddingHead.load())
        start = time.perf_counter()
        stage.scores("warm up")
        results["embedding_first_call_ms"] = round((time.perf_counter() - start) * 1000, 1)
        short = [row["text"] for row in _rows(INTENT_SET)]
        results["embedding_short_sentence"] = timed(stage.scores, short, 100)
        results["embedding_2KB"] = timed(stage.scores, texts[2048], 30)

    for name, value in results.items():
        print(f"{name}: {json.dumps(value, ensure_ascii=False)}")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "detectors_bench.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
