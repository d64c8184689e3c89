"""Throughput and latency of the marking scanner.

Run: .venv/bin/python benchmarks/markings_bench.py [--quick]

Prints MB/s (64 KB documents, best of three passes) on mixed multilingual text (Greek, Polish,
German...) and on ASCII-only English text,
p50/p99 latency for 2 KB prompts (clean and marked) and the cost of a stream push, and writes
JSON to benchmarks/results/markings_bench.json. One core, one thread.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

from accord.inspect.markings import MarkingScanner, StreamGuard

ROOT = Path(__file__).resolve().parents[1]
PROSE = [
    "The convoy of twelve fuel trucks departs the northern depot at 0400 and refuels before noon.",
    "Please review the attached spreadsheet of spare parts and confirm the delivery dates by Friday.",
    "The secret to good logistics is knowing where every pallet is at any given moment.",
    "Our official policy is to keep the restricted area near the hangar clear of private vehicles.",
    "Der Konvoi verlässt das Nordlager um 4 Uhr und wird vor Mittag am Versorgungspunkt betankt.",
    "Le convoi quitte le dépôt nord à 4 heures et sera ravitaillé au point de soutien avancé.",
    "Konwój wyjeżdża z północnego składu o 4:00 i zostanie zatankowany przed południem.",
    "def load(path):\n    with open(path) as handle:\n        return json.load(handle)",
    "Summary: 14 vehicles, 3 trailers, 2 recovery trucks; ETA 1130Z at grid 32U NB 123 456.",
    "The candidate should be confidential about client data and hold a valid driving licence.",
    "Η φάλαγγα αναχωρεί από την βόρεια αποθήκη στις 0400 και θα ανεφοδιαστεί πριν το μεσημέρι.",
]


ASCII_PROSE = [p for p in PROSE if p.isascii()]


def prompt(rng: random.Random, size: int, pool: list[str] = PROSE) -> str:
    parts: list[str] = []
    total = 0
    while total < size:
        parts.append(rng.choice(pool))
        total += len(parts[-1]) + 1
    return "\n".join(parts)[:size]


def throughput(scanner: MarkingScanner, corpus: str, document: int = 64 * 1024) -> float:
    """MB/s over the corpus cut into request-sized documents; best of three passes."""
    documents = [corpus[i : i + document] for i in range(0, len(corpus), document)]
    megabytes = len(corpus.encode()) / 1e6
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for text in documents:
            scanner.scan(text)
        best = min(best, time.perf_counter() - started)
    return megabytes / best


def latencies(scanner: MarkingScanner, texts: list[str], repeat: int) -> tuple[float, float]:
    samples: list[float] = []
    for _ in range(repeat):
        for text in texts:
            start = time.perf_counter_ns()
            scanner.scan(text)
            samples.append((time.perf_counter_ns() - start) / 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller corpus for a fast check")
    args = parser.parse_args()
    rng = random.Random(7)
    started = time.perf_counter()
    scanner = MarkingScanner.load()
    load_seconds = time.perf_counter() - started

    size = (4 if args.quick else 16) * 1024 * 1024
    mixed = throughput(scanner, prompt(rng, size))
    english = throughput(scanner, prompt(rng, size, ASCII_PROSE))

    clean = [prompt(rng, 2048) for _ in range(200)]
    marked = [f"SECRET//NOFORN\n(S//NF) {text[:1900]}\nSECRET//NOFORN" for text in clean]
    repeat = 5 if args.quick else 25
    clean_p50, clean_p99 = latencies(scanner, clean, repeat)
    marked_p50, marked_p99 = latencies(scanner, marked, repeat)

    stream_text = "\n".join(clean[:20])
    started = time.perf_counter()
    guard = StreamGuard(scanner, ceiling_rank=0)
    chunks = 0
    for index in range(0, len(stream_text), 16):
        guard.push(stream_text[index : index + 16])
        chunks += 1
    guard.finish()
    per_chunk = (time.perf_counter() - started) / chunks * 1e6

    figures = {
        "load_seconds": round(load_seconds, 2),
        "throughput_mixed_mb_s": round(mixed, 1),
        "throughput_ascii_mb_s": round(english, 1),
        "corpus_mb": round(size / 1e6, 1),
        "document_kb": 64,
        "clean_2kb_p50_us": round(clean_p50, 1),
        "clean_2kb_p99_us": round(clean_p99, 1),
        "marked_2kb_p50_us": round(marked_p50, 1),
        "marked_2kb_p99_us": round(marked_p99, 1),
        "stream_push_16_chars_us": round(per_chunk, 1),
    }
    for name, value in figures.items():
        print(f"{name:26s} {value}")
    out = ROOT / "benchmarks" / "results" / "markings_bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
