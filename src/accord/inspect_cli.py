"""`accord inspect`: the gateway's inspection and decision on JSON lines, without a server.

Each input line is ``{"id": ..., "text": ..., "principal": {"agency_kind", "nation", "organisation"},
"model": ..., "external": ...}``. ``principal`` is optional (a civil NATO principal by default);
``model`` names a model of the deployment, whose name and ``external`` flag the policy then sees, and
``external`` (a boolean) says directly whether the text would leave for an external model (give one
of them; the default is a local model). Each output line reports the decision, codes, policy ids,
the classification with its spans, intent scores with evidence, and personal-data counts. A line
that cannot be read gets ``{"line": N, "error": ...}`` and the command exits 1. Volume is counted
across the lines of one run per principal, as the gateway counts it across requests.
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
from accord.deployment import DEFAULT_DEPLOYMENT, Deployment, load_deployment, parse_deployment
from accord.inspect.markings import MarkingScanner, ceiling_rank
from accord.inspect.personal_data import PersonalDataDetector
from accord.inspect.volume import InMemoryVolumeTracker
from accord.inspection import Evaluation, Inspector, load_intent_detector
from accord.policy.store import PolicyStore
from accord.principal import AgencyKind, Principal

DEFAULT_PRINCIPAL = {"agency_kind": "civil", "nation": "NATO", "organisation": "inspect"}


def _principal(raw: Any) -> Principal:
    # A malformed principal is an error, not the default: a typo must not turn an intelligence
    # principal into a civil one and show a decision the gateway would not make.
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise TypeError("principal must be an object")
    unknown = sorted(set(raw) - set(DEFAULT_PRINCIPAL))
    if unknown:
        raise ValueError(f"unknown principal field(s) {', '.join(unknown)}")
    fields = {**DEFAULT_PRINCIPAL, **raw}
    nation, organisation = str(fields["nation"]).upper(), str(fields["organisation"])
    return Principal(
        id=f"inspect:{nation}/{organisation}/{fields['agency_kind']}",
        nation=nation,
        organisation=organisation,
        agency_kind=AgencyKind(str(fields["agency_kind"])),
    )


def _target(item: dict[str, Any], deployment: Deployment) -> tuple[str, bool]:
    """The model name and external flag the policy sees, as the gateway would for that model."""
    model, external = item.get("model"), item.get("external")
    if model is not None and external is not None:
        raise ValueError("give model or external, not both")
    if model is not None:
        config = next((entry for entry in deployment.models if entry.name == model), None)
        if config is None:
            raise ValueError(f"model {model!r} is not declared in the deployment")
        return config.name, config.is_external
    if external is not None and not isinstance(external, bool):
        raise TypeError("external must be true or false")
    return "inspect", bool(external)


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
            if not isinstance(item, dict):
                raise TypeError("each line must be a JSON object")
            if "text" not in item:
                raise ValueError("missing field 'text'")
            text = item["text"]
            if not isinstance(text, str):
                raise TypeError("text must be a string")
            principal = _principal(item.get("principal"))
            model, external = _target(item, deployment)
        except (ValueError, KeyError, TypeError) as error:
            failures += 1
            sink.write(json.dumps({"line": number, "error": f"invalid input: {error}"}) + "\n")
            continue
        evaluation = await inspector.evaluate(principal, "chat", model, external, text)
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
