"""The checks between identify and forward, and the record after: Accord's reason to exist.

Order matters: kill switches first (cheapest, and an operator's word is final), then classification
markings (spillage must stop before any other component sees the text), then personal data, intent
and volume, then the policy decision. Any exception in here refuses the request (fail closed).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from accord.api.errors import APIError
from accord.backends.base import JSON
from accord.incidents.service import IncidentService, spillage_message
from accord.inspect.markings import ClassificationResult, MarkingDetected, StreamGuard
from accord.inspect.personal_data import PersonalDataDetector
from accord.inspect.text import Segment, TextView
from accord.inspection import Inspector
from accord.ledger.log import Ledger
from accord.ledger.pseudonym import Pseudonymiser
from accord.ledger.record import RequestRecord
from accord.pipeline import Exchange, GuardTripped, Verdict
from accord.policy.killswitch import KillSwitchBoard
from accord.policy.reviews import ReviewQueue

log = logging.getLogger("accord.protections")

_OUTCOME_FOR_LEDGER = {"refused_output": "refused"}


def _fail_closed(stage: str, error: BaseException) -> APIError:
    log.error("%s failed (%s); refusing the request", stage, type(error).__name__)
    return APIError(
        503,
        f"Accord could not complete its {stage} check, so the request was refused. Retry later.",
        code="inspection_unavailable",
        type="server_error",
    )


class GatewayProtections:
    def __init__(
        self,
        *,
        inspector: Inspector,
        holdback_chars: int,
        incidents: IncidentService,
        killswitches: KillSwitchBoard,
        reviews: ReviewQueue,
        ledger: Ledger,
        pseudonymiser: Pseudonymiser,
    ) -> None:
        self._inspector = inspector
        self._holdback = holdback_chars
        self._incidents = incidents
        self._killswitches = killswitches
        self._reviews = reviews
        self._ledger = ledger
        self._pseudonymiser = pseudonymiser

    # -- admit ---------------------------------------------------------------------------------

    async def admit(self, exchange: Exchange) -> Verdict:
        blocked = self._killswitch_verdict(exchange)
        if blocked is not None:
            return blocked
        try:
            evaluation = await self._inspector.evaluate(
                exchange.principal,
                exchange.route,
                exchange.model.name,
                exchange.model.is_external,
                exchange.view.joined,
            )
        except Exception as error:
            raise _fail_closed("inspection", error) from error
        if evaluation.decision is None:  # above the ceiling: spillage
            return await self._spillage(
                exchange, evaluation.classification, "request", exchange.view.segments
            )
        decision = evaluation.decision
        common: dict[str, Any] = dict(
            codes=decision.codes,
            policy_ids=decision.policy_ids,
            bundle_version=decision.bundle_version,
            findings=evaluation.summary(),
        )
        reason = " ".join(decision.reasons) or "The request conflicts with the usage agreement."
        if decision.outcome == "deny":
            code = decision.codes[0] if decision.codes else "policy_denied"
            return Verdict(outcome="deny", error=APIError(403, reason, code=code), **common)
        if decision.outcome == "review":
            try:
                review_id = await self._reviews.park(
                    principal=exchange.principal,
                    route=exchange.route,
                    model=exchange.model.name,
                    body=exchange.body,
                    codes=decision.codes,
                    policy_ids=decision.policy_ids,
                )
            except Exception as error:
                raise _fail_closed("review queue", error) from error
            message = (
                f"{reason} The request is parked for a human approver as review {review_id}. "
                f"Fetch the answer once approved: GET /v1/accord/reviews/{review_id}."
            )
            parked = APIError(403, message, code="policy_review_required", extra={"review_id": review_id})
            return Verdict(outcome="review", error=parked, **common)
        if decision.outcome == "redact":
            try:
                redacted = _redact_body(exchange, self._inspector.personal_data)
            except Exception as error:
                raise _fail_closed("redaction", error) from error
            return Verdict(outcome="redact", upstream_body=redacted, **common)
        return Verdict(outcome="allow", **common)

    async def admit_approved(self, exchange: Exchange, review_id: str) -> Verdict:
        """A human approved this request: kill switches, markings and redaction still apply, the
        policy's deny and review rules do not."""
        blocked = self._killswitch_verdict(exchange)
        if blocked is not None:
            return blocked
        engine = self._inspector.policy.current
        redacting = (
            exchange.model.is_external
            and engine.settings.redaction.redact_personal_data_for_external_backends
        )
        try:
            classification = await self._inspector.classify(exchange.view.joined)
            personal = self._inspector.personal_data.scan(exchange.view.joined) if redacting else None
        except Exception as error:
            raise _fail_closed("classification", error) from error
        if classification.exceeds(self._inspector.ceiling_rank):
            return await self._spillage(exchange, classification, "request", exchange.view.segments)
        common: dict[str, Any] = dict(
            codes=("review_approved",), findings={"review_id": review_id}, bundle_version=engine.version
        )
        if personal is not None and any(personal.counts().values()):
            try:
                upstream_body = _redact_body(exchange, self._inspector.personal_data)
            except Exception as error:
                raise _fail_closed("redaction", error) from error
            return Verdict(outcome="redact", upstream_body=upstream_body, **common)
        return Verdict(outcome="allow", **common)

    def _killswitch_verdict(self, exchange: Exchange) -> Verdict | None:
        switch = self._killswitches.blocked(exchange.principal, exchange.model.name)
        if switch is None:
            return None
        status = 503 if switch.scope in ("global", "model") else 403
        return Verdict(
            outcome="deny",
            codes=(switch.code,),
            # An operator's switch does not lift on retry: tell the SDK not to hammer it.
            error=APIError(
                status,
                switch.message,
                code=switch.code,
                type="server_error" if status == 503 else None,
                headers={"x-should-retry": "false"},
            ),
        )

    async def _spillage(
        self,
        exchange: Exchange,
        classification: ClassificationResult,
        direction: str,
        segments: tuple[Segment, ...],
    ) -> Verdict:
        try:
            incident = await self._incidents.open(
                request_id=exchange.request_id,
                principal=exchange.principal,
                route=exchange.route,
                model=exchange.model.name,
                direction=direction,
                result=classification,
                segments=[(segment.path, segment.text) for segment in segments],
            )
        except Exception as error:
            raise _fail_closed("spillage quarantine", error) from error
        message = spillage_message(incident.id)
        findings = {
            "classification": classification.to_json() | {"spans": len(classification.hits)},
            "incident": incident.id,
            "direction": direction,
        }
        return Verdict(
            outcome="deny",
            codes=("classification_exceeds_ceiling",),
            findings=findings,
            error=APIError(
                403, message, code="classification_exceeds_ceiling", extra={"incident_id": incident.id}
            ),
        )

    # -- output --------------------------------------------------------------------------------

    def output_guard(self, exchange: Exchange) -> _OutputGuard:
        return _OutputGuard(self, exchange)

    # -- record --------------------------------------------------------------------------------

    async def record(
        self, exchange: Exchange, verdict: Verdict, outcome: str, usage: JSON | None = None
    ) -> None:
        ledger_outcome = _OUTCOME_FOR_LEDGER.get(outcome, outcome)
        if verdict.outcome == "review" and outcome == "refused":
            ledger_outcome = "parked_for_review"
        usage = usage or {}
        record = RequestRecord(
            time=datetime.now(UTC),
            request_id=exchange.request_id,
            principal=self._pseudonymiser.pseudonym(exchange.principal.id),
            nation=exchange.principal.nation,
            organisation=exchange.principal.organisation,
            agency_kind=exchange.principal.agency_kind.value,
            route=exchange.route,
            model=exchange.model.name,
            decision=verdict.outcome,
            codes=verdict.codes,
            policy_ids=verdict.policy_ids,
            bundle_version=verdict.bundle_version or self._inspector.policy.current.version,
            findings=verdict.findings,
            content_hash=self._pseudonymiser.content_hash(exchange.view.joined),
            outcome=ledger_outcome,
            prompt_tokens=_int(usage.get("prompt_tokens", usage.get("input_tokens"))),
            completion_tokens=_int(usage.get("completion_tokens", usage.get("output_tokens"))),
        )
        await self._ledger.append(record)


class _OutputGuard:
    """Scans model output; in streams a StreamGuard holds back a window of text before release."""

    def __init__(self, protections: GatewayProtections, exchange: Exchange) -> None:
        self._protections = protections
        self._exchange = exchange
        inspector = protections._inspector
        self._stream = StreamGuard(inspector.scanner, inspector.ceiling_rank, window=protections._holdback)
        self._seen: list[str] = []
        self._tripped: ClassificationResult | None = None

    async def check(self, view: TextView) -> APIError | None:
        try:
            result = await self._protections._inspector.classify(view.joined)
        except Exception as error:
            raise _fail_closed("output classification", error) from error
        if not result.exceeds(self._protections._inspector.ceiling_rank):
            return None
        verdict = await self._protections._spillage(self._exchange, result, "response", view.segments)
        return verdict.error

    def push(self, text: str) -> int:
        self._seen.append(text)
        try:
            return len(self._stream.push(text))
        except MarkingDetected as detected:
            self._tripped = detected.result
            raise GuardTripped() from detected

    def finish(self) -> int:
        try:
            return len(self._stream.finish())
        except MarkingDetected as detected:
            self._tripped = detected.result
            raise GuardTripped() from detected

    async def refuse(self) -> APIError:
        assert self._tripped is not None
        segments = (Segment("output", "".join(self._seen)),)
        verdict = await self._protections._spillage(self._exchange, self._tripped, "response", segments)
        assert verdict.error is not None
        return verdict.error


def _redact_body(exchange: Exchange, detector: PersonalDataDetector) -> JSON:
    """Mask personal data in every text field the model would read, keeping the body's shape."""

    def mask(value: Any) -> Any:
        if isinstance(value, str):
            return detector.redact(value)
        if isinstance(value, list):
            return [mask(item) for item in value]
        if isinstance(value, dict):
            return {key: (mask(item) if key in _TEXT_KEYS else item) for key, item in value.items()}
        return value

    body = dict(exchange.upstream_body)
    for key in ("messages", "prompt", "input"):
        if key in body:
            body[key] = mask(body[key])
    return body


_TEXT_KEYS = frozenset(
    {"content", "text", "arguments", "input", "prompt", "messages", "tool_calls", "function"}
)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
