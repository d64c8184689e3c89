"""The ledger over HTTP: the latest checkpoint and public key, inclusion proofs, transparency reports.

Who may see what: overseers, operators and security officers may prove any entry; a tenant admin
may prove requests from their own nation; any caller may prove their own requests (matched by the
pseudonym, so the ledger never needs the caller's identity). Reports are scoped as in
:mod:`accord.ledger.report`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from accord.api.auth import require_principal
from accord.api.errors import APIError
from accord.ledger.log import Ledger, LedgerUnavailable, ProofUnavailable
from accord.ledger.pseudonym import Pseudonymiser
from accord.ledger.report import ReportAccessDenied, ReportScope, TransparencyReport
from accord.principal import Principal, Role

_AUDITORS = (Role.OVERSEER, Role.OPERATOR, Role.SECURITY_OFFICER)


def _json(payload: object) -> Response:
    return Response(
        orjson.dumps(payload), media_type="application/json", headers={"cache-control": "no-store"}
    )


def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.services.ledger
    return ledger


def _unavailable(error: LedgerUnavailable) -> APIError:
    return APIError(503, f"The ledger is unavailable: {error}", code="ledger_unavailable")


async def latest_checkpoint(request: Request) -> Response:
    await require_principal(request)
    try:
        latest = await _ledger(request).latest_checkpoint()
    except LedgerUnavailable as error:
        raise _unavailable(error) from error
    if latest is None:
        raise APIError(404, "No checkpoint has been signed yet.", code="no_checkpoint")
    return _json(latest.to_json())


async def public_key(request: Request) -> Response:
    await require_principal(request)
    return _json({"vkey": _ledger(request).verifier.vkey})


def _may_see(principal: Principal, record: dict[str, object], pseudonymiser: Pseudonymiser) -> bool:
    if any(principal.has_role(role) for role in _AUDITORS):
        return True
    if record.get("kind") != "request":
        return False
    if principal.has_role(Role.TENANT_ADMIN) and record.get("nation") == principal.nation:
        return True
    return record.get("principal") == pseudonymiser.pseudonym(principal.id)


async def prove(request: Request) -> Response:
    principal = await require_principal(request)
    request_id = request.path_params["request_id"]
    try:
        proof = await _ledger(request).prove(request_id)
    except ProofUnavailable as error:
        raise APIError(404, str(error), code="entry_not_proven") from error
    except LedgerUnavailable as error:
        raise _unavailable(error) from error
    record = json.loads(str(proof["leaf"]))["record"]
    if not _may_see(principal, record, request.app.state.services.pseudonymiser):
        # The same answer as for an unknown id: a caller learns nothing about others' requests.
        raise APIError(404, f"no sequenced entry for {request_id!r}", code="entry_not_proven")
    return _json(proof)


async def consistency(request: Request) -> Response:
    await require_principal(request)
    try:
        old_size = int(request.query_params.get("from", ""))
    except ValueError as error:
        raise APIError(400, "'from' must be the tree size of a checkpoint you hold.", param="from") from error
    try:
        return _json(await _ledger(request).prove_consistency(old_size))
    except ProofUnavailable as error:
        raise APIError(404, str(error), code="entry_not_proven") from error
    except LedgerUnavailable as error:
        raise _unavailable(error) from error


def _time_param(request: Request, name: str) -> datetime:
    value = request.query_params.get(name)
    if not value:
        raise APIError(400, f"'{name}' (ISO 8601) is required.", param=name)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise APIError(400, f"'{name}' is not an ISO 8601 time.", param=name) from error
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


async def transparency_report(request: Request) -> Response:
    principal = await require_principal(request)
    try:
        scope = ReportScope.for_principal(principal)
    except ReportAccessDenied as error:
        raise APIError(403, str(error), code="insufficient_role") from error
    output = request.query_params.get("format", "json")
    if output not in ("json", "csv", "html"):
        raise APIError(400, "'format' must be json, csv or html.", param="format")
    report = TransparencyReport(
        start=_time_param(request, "from"), end=_time_param(request, "to"), scope=scope
    )
    try:
        report.checkpoint = await _ledger(request).scan(report.visit)
    except LedgerUnavailable as error:
        raise _unavailable(error) from error
    if output == "csv":
        return Response(report.to_csv(), media_type="text/csv")
    if output == "html":
        return Response(report.to_html(), media_type="text/html")
    return _json(report.to_json())


routes = [
    Route("/admin/ledger/checkpoint", latest_checkpoint, methods=["GET"]),
    Route("/admin/ledger/public-key", public_key, methods=["GET"]),
    Route("/admin/ledger/proofs/{request_id}", prove, methods=["GET"]),
    Route("/admin/ledger/consistency", consistency, methods=["GET"]),
    Route("/admin/reports/transparency", transparency_report, methods=["GET"]),
]
