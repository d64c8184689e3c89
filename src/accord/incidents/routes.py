"""The security officers' HTTP API for spillage incidents.

Decryption over HTTP exists only when the deployment gave this server the private key
(``ACCORD_INCIDENT_DECRYPT_KEY``); otherwise it answers 409 and officers decrypt offline with
``accord incidents show ID --decrypt --key PATH``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from accord.api.auth import require_principal
from accord.api.body import read_json
from accord.api.errors import APIError
from accord.incidents.errors import (
    IncidentAccessDenied,
    IncidentError,
    IncidentInputError,
    IncidentKeyMismatch,
    IncidentNotFound,
    IncidentStateError,
)
from accord.incidents.records import IncidentStatus
from accord.incidents.service import IncidentService
from accord.principal import Principal, Role


def _json(payload: object, status: int = 200) -> Response:
    # Incident pages are never cached: the decrypt answer carries the spilled text itself.
    return Response(
        orjson.dumps(payload),
        status_code=status,
        media_type="application/json",
        headers={"cache-control": "no-store"},
    )


async def _officer(request: Request) -> tuple[IncidentService, Principal]:
    principal = await require_principal(request, Role.SECURITY_OFFICER)
    service: IncidentService = request.app.state.services.incidents
    return service, principal


def _api_error(error: IncidentError) -> APIError:
    if isinstance(error, IncidentNotFound):
        return APIError(404, str(error), code="incident_not_found")
    if isinstance(error, IncidentAccessDenied):
        return APIError(403, str(error), code="insufficient_role")
    if isinstance(error, IncidentInputError):
        return APIError(400, str(error), code="invalid_incident_note")
    if isinstance(error, IncidentKeyMismatch):
        return APIError(
            409,
            "The quarantine private key configured on this server does not open this incident's text; "
            "it was sealed to another key pair. Decrypt offline with the matching key.",
            code="decryption_key_mismatch",
        )
    if isinstance(error, IncidentStateError):
        return APIError(409, str(error), code="incident_state_conflict")
    return APIError(503, str(error), code="incident_store_unavailable", type="server_error")


async def _text_field(request: Request, name: str) -> str:
    body = await read_json(request)  # at most ADMIN_MAX_BODY_BYTES, else 413
    value = body.get(name) if isinstance(body, dict) else None
    if not isinstance(value, str) or not value.strip():
        raise APIError(400, f"'{name}' is required and must be a non-empty string.", param=name)
    return value


async def list_incidents(request: Request) -> Response:
    service, principal = await _officer(request)
    status = request.query_params.get("status")
    since = request.query_params.get("since")
    try:
        filters: dict[str, Any] = {
            "status": IncidentStatus(status) if status else None,
            "since": datetime.fromisoformat(since) if since else None,
        }
    except ValueError as error:
        raise APIError(400, f"Invalid filter: {error}.", param="status" if status else "since") from error
    try:
        incidents = await service.list(principal, **filters)
    except IncidentError as error:
        raise _api_error(error) from error
    return _json({"object": "list", "data": [incident.to_json() for incident in incidents]})


async def get_incident(request: Request) -> Response:
    service, principal = await _officer(request)
    try:
        incident = await service.get(request.path_params["incident_id"], principal)
    except IncidentError as error:
        raise _api_error(error) from error
    return _json(incident.to_json())


async def decrypt_incident(request: Request) -> Response:
    service, principal = await _officer(request)
    if service.server_private_key is None:
        raise APIError(
            409,
            "This server does not hold the quarantine private key, so it cannot decrypt. "
            "Decrypt offline with 'accord incidents show ID --decrypt --key PATH --as PRINCIPAL_ID'.",
            code="decryption_not_configured",
        )
    try:
        text = await service.decrypt(
            request.path_params["incident_id"], service.server_private_key, principal
        )
    except IncidentError as error:
        raise _api_error(error) from error
    return _json(text.to_json())


async def annotate_incident(request: Request) -> Response:
    service, principal = await _officer(request)
    text = await _text_field(request, "text")
    try:
        incident = await service.annotate(request.path_params["incident_id"], principal, text)
    except IncidentError as error:
        raise _api_error(error) from error
    return _json(incident.to_json(), 201)


async def close_incident(request: Request) -> Response:
    service, principal = await _officer(request)
    resolution = await _text_field(request, "resolution")
    try:
        incident = await service.close(request.path_params["incident_id"], principal, resolution)
    except IncidentError as error:
        raise _api_error(error) from error
    return _json(incident.to_json())


async def purge_incident(request: Request) -> Response:
    service, principal = await _officer(request)
    try:
        incident = await service.purge(request.path_params["incident_id"], principal)
    except IncidentError as error:
        raise _api_error(error) from error
    return _json(incident.to_json())


routes = [
    Route("/admin/incidents", list_incidents, methods=["GET"]),
    Route("/admin/incidents/{incident_id}", get_incident, methods=["GET"]),
    Route("/admin/incidents/{incident_id}/decrypt", decrypt_incident, methods=["POST"]),
    Route("/admin/incidents/{incident_id}/notes", annotate_incident, methods=["POST"]),
    Route("/admin/incidents/{incident_id}/close", close_incident, methods=["POST"]),
    Route("/admin/incidents/{incident_id}/purge", purge_incident, methods=["POST"]),
]
