"""`accord inspect`: the gateway's inspection and decision on JSON lines, without a server.

Each input line is ``{"id": ..., "text": ..., "principal": {"agency_kind", "nation", "organisation"}}``
(principal optional); each output line reports the decision, codes, policy ids, the classification
with its spans, intent scores with evidence, and personal-data counts. Volume is counted across the
lines of one run per principal, as the gateway counts it across requests.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from accord.audit import MemoryAudit
from accord.config import load_settings
from accord.deployment import DEFAULT_DEPLOYMENT, load_deployment, parse_deployment
from accord.inspect.markings import MarkingScanner, ceiling_rank
from accord.inspect.personal_data import PersonalDataDetector
from accord.inspect.volume import InMemoryVolumeTracker
from accord.inspection import Evaluation, Inspector, load_intent_detector
from accord.policy.store import PolicyStore
from accord.principal import AgencyKind, Principal

DEFAULT_PRINCIPAL = {"agency_kind": "civil", "nation": "NATO", "organisation": "inspect"}


def _principal(raw: Any) -> Principal:
    fields = {**DEFAULT_PRINCIPAL, **(raw if isinstance(raw, dict) else {})}
    nation, organisation = str(fields["nation"]).upper(), str(fields["organisation"])
    return Principal(
        id=f"inspect:{nation}/{organisation}/{fields['agency_kind']}",
        nation=nation,
        organisation=organisation,
        agency_kind=AgencyKind(str(fields["agency_kind"])),
    )


def report(item_id: Any, evaluation: Evaluation, ceiling: int) -> dict[str, Any]:
    classification = evaluation.classification.to_json()
    line: dict[str, Any] = {"id": item_id, "classification": classification}
    if evaluation.decision is None:
        line.update(decision="deny", codes=["classification_exceeds_ceiling"], policy_ids=[])
        return line
    decision = evaluation.decision
    line.update(
        decision=decision.outcome,
        codes=list(decision.codes),
        policy_ids=list(decision.policy_ids),
        reasons=list(decision.reasons),
        bundle_version=decision.bundle_version,
    )
    if evaluation.intent is not None:
        line["intent"] = evaluation.intent.to_json()
    if evaluation.personal_data is not None:
        line["personal_data"] = evaluation.personal_data.to_json()
    if evaluation.volume is not None:
        line["volume"] = dict(evaluation.volume.distinct)
    return line


async def _inspect_stream(source: IO[str], sink: IO[str]) -> int:
    settings = load_settings()
    deployment = (
        load_deployment(settings.deployment_file)
        if settings.deployment_file.exists()
        else parse_deployment(DEFAULT_DEPLOYMENT)
    )
    policy = PolicyStore(settings, MemoryAudit())
    await policy.start(watch=False)
    ceiling = ceiling_rank(deployment.gateway.ceiling)
    inspector = Inspector(
        scanner=MarkingScanner.load(),
        ceiling_rank=ceiling,
        personal_data=PersonalDataDetector(secrets.token_bytes(32)),
        intent=load_intent_detector(deployment.gateway.intent, policy.current.intent_thresholds),
        volume=InMemoryVolumeTracker(),
        policy=policy,
    )
    failures = 0
    for number, raw_line in enumerate(source, start=1):
        if not raw_line.strip():
            continue
        try:
            item = json.loads(raw_line)
            text = item["text"]
            if not isinstance(text, str):
                raise TypeError("text must be a string")
            principal = _principal(item.get("principal"))
        except (ValueError, KeyError, TypeError) as error:
            failures += 1
            sink.write(json.dumps({"line": number, "error": f"invalid input: {error}"}) + "\n")
            continue
        evaluation = await inspector.evaluate(principal, "chat", "inspect", False, text)
        sink.write(json.dumps(report(item.get("id"), evaluation, ceiling), ensure_ascii=False) + "\n")
    await policy.stop()
    return failures


def inspect_command(
    path: Annotated[Path | None, typer.Argument(help="JSON-lines file; standard input when omitted.")] = None,
) -> None:
    """Inspect JSON lines with the gateway's detectors and policy; print one JSON line per input."""
    if path is None:
        failures = asyncio.run(_inspect_stream(sys.stdin, sys.stdout))
    else:
        with path.open(encoding="utf-8") as source:
            failures = asyncio.run(_inspect_stream(source, sys.stdout))
    if failures:
        raise typer.Exit(code=1)
