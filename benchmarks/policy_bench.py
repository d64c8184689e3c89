"""Decision latency of the default policy bundle for typical inputs: p50/p95 in microseconds."""

from __future__ import annotations

import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

from accord.policy.engine import PolicyEngine, PolicyInput
from accord.principal import AgencyKind, Principal

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000


def main() -> None:
    engine = PolicyEngine.load()
    base = PolicyInput(Principal("u1", "FRA", "army", AgencyKind.MILITARY), "chat", "llama", True, 0, "NU")
    cases = {
        "allow": base,
        "deny": dataclasses.replace(base, intent_categories=frozenset({"bulk_collection"})),
        "review": dataclasses.replace(base, intent_categories=frozenset({"targeted_surveillance"})),
        "redact": dataclasses.replace(base, personal_data_counts={"email": 2}),
    }
    results: dict[str, dict[str, float]] = {}
    for name, inp in cases.items():
        for _ in range(100):
            engine.decide(inp)
        samples = []
        for _ in range(ROUNDS):
            start = time.perf_counter_ns()
            engine.decide(inp)
            samples.append((time.perf_counter_ns() - start) / 1000)
        samples.sort()
        results[name] = {
            "p50_us": round(statistics.median(samples), 1),
            "p95_us": round(samples[int(len(samples) * 0.95)], 1),
        }
        print(f"{name:7s} p50 {results[name]['p50_us']:8.1f} us   p95 {results[name]['p95_us']:8.1f} us")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "policy_bench.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
