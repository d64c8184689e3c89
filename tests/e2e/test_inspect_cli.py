"""`accord inspect` as an operator runs it: a subprocess reading JSON lines, one JSON line out per input.

The gateway and the CLI share one `Inspector`, so these decisions are the gateway's: allow, deny for
a marking (spillage) or a red line, review for targeted surveillance, redact for personal data bound
for an external model. Output schema and decisions as in docs/markings.md and docs/policy.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import live_deployment

pytestmark = pytest.mark.slow

SPILLAGE = "classification_exceeds_ceiling"
INTEL = {"agency_kind": "intelligence", "nation": "USA", "organisation": "Defense Intelligence Agency"}
MILITARY = {"agency_kind": "military", "nation": "USA", "organisation": "Army Materiel Command"}
BENIGN = "Draft a two-line note confirming Tuesday's fuel delivery to the Lyon depot."
TARGETED = (
    "Monitor the communications of this specific foreign national, Ahmed Karimov, and report his locations."
)
DOMESTIC = "Track the phone locations of all residents of Springfield and collect their messages."
PERSONAL = "Please email the delivery schedule to jan.kowalski@example.pl before noon."
LOOK_ALIKE = "What is the secret to good logistics? Vehicles must not enter the restricted area."

SPAN_KEYS = {"start", "end", "marking", "scheme", "level", "kind", "evasion"}
DECISION_KEYS = {
    "id",
    "classification",
    "decision",
    "codes",
    "policy_ids",
    "reasons",
    "bundle_version",
    "intent",
    "personal_data",
    "volume",
}
INTENT_CATEGORIES = {
    "domestic_surveillance",
    "targeted_surveillance",
    "bulk_collection",
    "autonomous_weapons",
    "automated_decision",
}


@dataclass(frozen=True)
class Run:
    returncode: int
    lines: list[dict[str, Any]]
    stderr: str


def inspect(home: Path, items: Iterable[object], *, from_file: bool = False) -> Run:
    """Run `python -m accord inspect` on JSON lines (strings are written as they are)."""
    text = "".join((item if isinstance(item, str) else json.dumps(item)) + "\n" for item in items)
    args = [sys.executable, "-m", "accord", "inspect"]
    if from_file:
        source = home / "input.jsonl"
        source.write_text(text, encoding="utf-8")
        args.append(str(source))
    done = subprocess.run(
        args,
        env={**os.environ, "ACCORD_HOME": str(home)},
        input=None if from_file else text,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return Run(done.returncode, [json.loads(line) for line in done.stdout.splitlines()], done.stderr)


@pytest.fixture(scope="module")
def bare_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """No deployment file: the CLI falls back to the default deployment and policy bundle."""
    return tmp_path_factory.mktemp("inspect-bare")


@pytest.fixture(scope="module")
def decisions(bare_home: Path) -> dict[str, dict[str, Any]]:
    """One run over the decision cases; each output line keyed by its id."""
    nato = "NATO SECRET\nThe convoy leaves Grafenwoehr at 06:00 with 14 tankers."
    run = inspect(
        bare_home,
        [
            {"id": "allow", "text": BENIGN},
            {"id": "allow-intel", "text": BENIGN, "principal": INTEL},
            {"id": "look-alike", "text": LOOK_ALIKE},
            {"id": "spill-nato", "text": nato},
            {"id": "spill-intel", "text": nato, "principal": INTEL},
            {"id": "spill-us", "text": "(S//NF) The convoy moves at 06:00.\n(U) The weather is fine."},
            {"id": "spill-deu", "text": "VS-VERTRAULICH\nDer Konvoi fährt um 06:00 Uhr ab."},
            {"id": "spill-fra", "text": "Diffusion Restreinte\nLe convoi part à 06h00."},
            {"id": "domestic", "text": DOMESTIC, "principal": MILITARY},
            {"id": "domestic-intel", "text": DOMESTIC, "principal": INTEL},
            {"id": "review", "text": TARGETED, "principal": MILITARY},
            {"id": "review-intel", "text": TARGETED, "principal": INTEL},
            {"id": "redact", "text": PERSONAL, "external": True},
            {"id": "personal-local", "text": PERSONAL, "external": False},
        ],
    )
    assert run.returncode == 0, run.stderr
    return {str(line["id"]): line for line in run.lines}


def test_every_input_line_gets_one_output_line_in_order(decisions: dict[str, dict[str, Any]]) -> None:
    assert list(decisions)[:3] == ["allow", "allow-intel", "look-alike"]
    assert len(decisions) == 14


@pytest.mark.parametrize("name", ["allow", "allow-intel", "look-alike", "personal-local"])
def test_allowed_lines(decisions: dict[str, dict[str, Any]], name: str) -> None:
    line = decisions[name]
    assert set(line) == DECISION_KEYS
    assert (line["decision"], line["codes"], line["policy_ids"]) == ("allow", [], ["allow_unclassified_work"])
    assert line["reasons"] == []
    assert line["classification"] == {"level": "NU", "rank": 0, "scheme": None, "spans": []}
    assert len(line["bundle_version"]) == 64 and int(line["bundle_version"], 16) >= 0
    intent = line["intent"]
    assert set(intent["scores"]) == INTENT_CATEGORIES
    assert all(0.0 <= score <= 1.0 for score in intent["scores"].values())
    assert intent["categories"] == [] and intent["uncertain"] == []
    assert {"start", "end", "signal", "category"} <= set(intent["evidence"][0])
    assert set(line["personal_data"]) >= {"entities", "distinct_identifiers", "counts"}
    assert set(line["volume"]) == {"1h", "24h"}


@pytest.mark.parametrize(
    ("name", "level", "rank", "scheme", "marking"),
    [
        ("spill-nato", "NS", 3, "NATO", "NATO SECRET"),
        ("spill-intel", "NS", 3, "NATO", "NATO SECRET"),
        ("spill-us", "NS", 3, "US", "SECRET"),
        ("spill-deu", "NC", 2, "DEU", "VS-VERTRAULICH"),
        ("spill-fra", "NR", 1, "FRA", "DIFFUSION RESTREINTE"),
    ],
)
def test_markings_above_the_ceiling_are_denied_before_any_policy(
    decisions: dict[str, dict[str, Any]], name: str, level: str, rank: int, scheme: str, marking: str
) -> None:
    line = decisions[name]
    # Spillage stops the evaluation: no intent, personal data or policy ids.
    assert set(line) == {"id", "classification", "decision", "codes", "policy_ids"}
    assert (line["decision"], line["codes"], line["policy_ids"]) == ("deny", [SPILLAGE], [])
    classification = line["classification"]
    assert (classification["level"], classification["rank"], classification["scheme"]) == (
        level,
        rank,
        scheme,
    )
    top = classification["spans"][0]
    assert set(top) == SPAN_KEYS
    assert (top["marking"], top["level"], top["scheme"], top["start"]) == (marking, level, scheme, 0)
    assert top["kind"] in ("banner", "portion")


def test_us_portion_marks_report_every_span_including_the_unclassified_one(
    decisions: dict[str, dict[str, Any]],
) -> None:
    spans = decisions["spill-us"]["classification"]["spans"]
    assert [(span["marking"], span["level"], span["kind"]) for span in spans] == [
        ("SECRET", "NS", "portion"),
        ("UNCLASSIFIED", "NU", "portion"),
    ]
    text = "(S//NF) The convoy moves at 06:00.\n(U) The weather is fine."
    assert text[spans[1]["start"] : spans[1]["end"]] == "(U)"


@pytest.mark.parametrize(
    ("name", "codes", "policy_ids"),
    [
        (
            "domestic",
            ["policy_bulk_collection", "policy_domestic_surveillance"],
            ["deny_bulk_collection", "deny_domestic_surveillance"],
        ),
        (
            "domestic-intel",
            ["policy_bulk_collection", "policy_domestic_surveillance", "policy_intelligence_surveillance"],
            ["deny_bulk_collection", "deny_domestic_surveillance", "deny_intelligence_surveillance"],
        ),
        ("review-intel", ["policy_intelligence_surveillance"], ["deny_intelligence_surveillance"]),
    ],
)
def test_red_lines_are_denied_with_every_matching_forbid(
    decisions: dict[str, dict[str, Any]], name: str, codes: list[str], policy_ids: list[str]
) -> None:
    line = decisions[name]
    assert line["decision"] == "deny"
    assert sorted(line["codes"]) == codes
    assert sorted(line["policy_ids"]) == policy_ids
    assert len(line["reasons"]) == len(codes) and all(line["reasons"])


def test_targeted_surveillance_is_parked_for_review_except_for_intelligence(
    decisions: dict[str, dict[str, Any]],
) -> None:
    review = decisions["review"]
    assert (review["decision"], review["codes"], review["policy_ids"]) == (
        "review",
        ["policy_targeted_surveillance_review"],
        ["review_targeted_surveillance"],
    )
    assert review["intent"]["categories"] == ["targeted_surveillance"]
    assert decisions["review-intel"]["intent"]["categories"] == ["targeted_surveillance"]
    assert decisions["review-intel"]["decision"] == "deny"


def test_personal_data_is_redacted_only_for_an_external_model(decisions: dict[str, dict[str, Any]]) -> None:
    redact = decisions["redact"]
    assert (redact["decision"], redact["codes"], redact["policy_ids"]) == (
        "redact",
        ["policy_redact_personal_data"],
        ["redact_personal_data_external"],
    )
    assert redact["personal_data"]["counts"] == {"email": 1}
    [entity] = redact["personal_data"]["entities"]
    assert PERSONAL[entity["start"] : entity["end"]] == "jan.kowalski@example.pl"
    assert "jan.kowalski" not in json.dumps(redact)  # reported by keyed hash, never the value
    assert decisions["personal-local"]["decision"] == "allow"


def test_a_model_of_the_deployment_decides_as_the_gateway_would(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "accord.yaml").write_text(live_deployment("http://127.0.0.1:9/v1"), encoding="utf-8")
    run = inspect(
        home,
        [
            {"id": "cloud", "text": PERSONAL, "model": "fake-cloud"},
            {"id": "on-premises", "text": PERSONAL, "model": "fake-chat"},
            {"id": "local", "text": PERSONAL, "model": "smollm2-135m-instruct"},
            {"id": "unknown", "text": PERSONAL, "model": "no-such-model"},
            {"id": "both", "text": PERSONAL, "model": "fake-cloud", "external": True},
        ],
        from_file=True,
    )
    assert run.returncode == 1
    assert [line.get("decision") for line in run.lines[:3]] == ["redact", "allow", "allow"]
    assert run.lines[3] == {
        "line": 4,
        "error": "invalid input: model 'no-such-model' is not declared in the deployment",
    }
    assert run.lines[4] == {"line": 5, "error": "invalid input: give model or external, not both"}


def test_volume_is_counted_per_principal_across_lines(bare_home: Path) -> None:
    def batch(n: int) -> str:
        return "Send the Tuesday fuel schedule to these drivers: " + " ".join(
            f"driver{n}x{i}@depot-logistics.example" for i in range(45)
        )

    other = {"agency_kind": "civil", "nation": "DEU", "organisation": "Bundesamt für Ausrüstung"}
    run = inspect(
        bare_home,
        [{"id": n, "text": batch(n)} for n in range(5)]
        + [{"id": "other", "text": batch(9), "principal": other}],
    )
    assert run.returncode == 0, run.stderr
    # 45 distinct identifiers a line stays under the per-request 50; the 1h window of 200 trips at 225.
    assert [line["volume"]["1h"] for line in run.lines] == [45, 90, 135, 180, 225, 45]
    assert [line["decision"] for line in run.lines] == ["allow"] * 4 + ["deny", "allow"]
    assert run.lines[4]["codes"] == ["policy_bulk_collection"]


def test_invalid_lines_get_an_error_line_and_a_non_zero_exit(bare_home: Path) -> None:
    run = inspect(
        bare_home,
        [
            {"id": "first", "text": BENIGN},
            "not json",
            "",
            {"id": "no-text"},
            {"id": "number", "text": 5},
            {"id": "kind", "text": BENIGN, "principal": {"agency_kind": "spy"}},
            {"id": "principal-string", "text": BENIGN, "principal": "intelligence"},
            {"id": "principal-typo", "text": BENIGN, "principal": {"agency": "intelligence"}},
            {"id": "external-string", "text": BENIGN, "external": "yes"},
            "[1, 2]",
            {"id": "last", "text": "NATO SECRET\nThe convoy leaves at 06:00."},
        ],
    )
    assert run.returncode == 1
    assert run.lines[0]["id"] == "first" and run.lines[0]["decision"] == "allow"
    assert run.lines[-1]["id"] == "last" and run.lines[-1]["decision"] == "deny"
    errors = run.lines[1:-1]
    # The blank line 3 is skipped without output; the others are numbered as in the file.
    assert [error["line"] for error in errors] == [2, 4, 5, 6, 7, 8, 9, 10]
    assert all(set(error) == {"line", "error"} for error in errors)
    assert all(error["error"].startswith("invalid input: ") for error in errors)
    messages = [error["error"].removeprefix("invalid input: ") for error in errors]
    assert messages[1:] == [
        "missing field 'text'",
        "text must be a string",
        "'spy' is not a valid AgencyKind",
        "principal must be an object",
        "unknown principal field(s) agency",
        "external must be true or false",
        "each line must be a JSON object",
    ]


def test_valid_input_exits_zero_from_a_file(bare_home: Path) -> None:
    run = inspect(bare_home, [{"id": "only", "text": BENIGN}], from_file=True)
    assert run.returncode == 0, run.stderr
    assert [(line["id"], line["decision"]) for line in run.lines] == [("only", "allow")]
