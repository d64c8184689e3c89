"""Administration of the directory: nations, organisations, principals and API keys.

Operators manage every nation; a tenant admin manages only their own (enforced in the directory).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from accord.api.auth import require_principal
from accord.api.body import read_json
from accord.api.errors import APIError
from accord.identity.directory import MAX_KEY_LIFETIME_DAYS, DirectoryError
from accord.principal import AgencyKind, Role

ADMINS = (Role.OPERATOR, Role.TENANT_ADMIN)


def _json(payload: object, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


async def _body(request: Request) -> dict[str, Any]:
    body = await read_json(request)  # at most ADMIN_MAX_BODY_BYTES, else 413
    if not isinstance(body, dict):
        raise APIError(400, "The request body must be a JSON object.")
    return body


def _field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise APIError(400, f"'{name}' is required and must be a non-empty string.", param=name)
    return value.strip()


def _agency_kind(body: dict[str, Any]) -> AgencyKind:
    value = _field(body, "agency_kind")
    try:
        return AgencyKind(value)
    except ValueError as error:
        kinds = ", ".join(kind.value for kind in AgencyKind)
        raise APIError(400, f"agency_kind must be one of: {kinds}.", param="agency_kind") from error


def _directory_error(error: DirectoryError) -> APIError:
    return APIError(error.status, error.message, code=error.code)


async def list_nations(request: Request) -> Response:
    await require_principal(request, Role.OPERATOR, Role.TENANT_ADMIN, Role.OVERSEER)
    return _json({"data": await request.app.state.services.directory.list_nations()})


async def create_nation(request: Request) -> Response:
    actor = await require_principal(request, Role.OPERATOR)
    body = await _body(request)
    code, name = _field(body, "code"), str(body.get("name") or body["code"])
    try:
        nation = await request.app.state.services.directory.create_nation(actor, code, name)
    except DirectoryError as error:
        raise _directory_error(error) from error
    return _json(nation, status=201)


async def create_organisation(request: Request) -> Response:
    actor = await require_principal(request, *ADMINS)
    body = await _body(request)
    try:
        organisation = await request.app.state.services.directory.create_organisation(
            actor, _field(body, "nation"), _field(body, "name"), _agency_kind(body)
        )
    except DirectoryError as error:
        raise _directory_error(error) from error
    return _json(organisation, status=201)


async def list_principals(request: Request) -> Response:
    actor = await require_principal(request, *ADMINS)
    nation = request.query_params.get("nation")
    data = await request.app.state.services.directory.list_principals(actor, nation)
    return _json({"data": data})


async def create_key(request: Request) -> Response:
    actor = await require_principal(request, *ADMINS)
    body = await _body(request)
    raw_roles = body.get("roles", ["user"])
    if not isinstance(raw_roles, list) or not all(isinstance(role, str) for role in raw_roles):
        raise APIError(400, "'roles' must be an array of role names.", param="roles")
    try:
        roles = frozenset(Role(role) for role in raw_roles) or frozenset({Role.USER})
    except ValueError as error:
        raise APIError(
            400, f"roles must be among: {', '.join(r.value for r in Role)}.", param="roles"
        ) from error
    expires_at = None
    days = body.get("expires_in_days")
    if days is not None:
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_KEY_LIFETIME_DAYS:
            raise APIError(
                400,
                f"'expires_in_days' must be an integer from 1 to {MAX_KEY_LIFETIME_DAYS}.",
                param="expires_in_days",
            )
        expires_at = datetime.now(UTC) + timedelta(days=days)
    try:
        created = await request.app.state.services.directory.create_key(
            actor,
            nation=_field(body, "nation"),
            organisation=_field(body, "organisation"),
            agency_kind=_agency_kind(body),
            roles=roles,
            name=str(body.get("name") or "api key"),
            expires_at=expires_at,
            principal_id=body.get("principal_id") if isinstance(body.get("principal_id"), str) else None,
        )
    except DirectoryError as error:
        raise _directory_error(error) from error
    principal = created.principal
    return _json(
        {
            "id": created.key_id,
            "key": created.key,
            "principal": {
                "id": principal.id,
                "nation": principal.nation,
                "organisation": principal.organisation,
                "agency_kind": principal.agency_kind.value,
                "roles": sorted(role.value for role in principal.roles),
            },
            "expires_at": created.expires_at.isoformat() if created.expires_at else None,
            "note": "This key is shown once. Store it now; Accord keeps only its hash.",
        },
        status=201,
    )


async def revoke_key(request: Request) -> Response:
    actor = await require_principal(request, *ADMINS)
    try:
        await request.app.state.services.directory.revoke_key(actor, request.path_params["key_id"])
    except DirectoryError as error:
        raise _directory_error(error) from error
    return _json({"id": request.path_params["key_id"], "revoked": True})


async def whoami(request: Request) -> Response:
    principal = await require_principal(request)
    return _json(
        {
            "id": principal.id,
            "nation": principal.nation,
            "organisation": principal.organisation,
            "agency_kind": principal.agency_kind.value,
            "roles": sorted(role.value for role in principal.roles),
        }
    )


routes = [
    Route("/admin/whoami", whoami, methods=["GET"]),
    Route("/admin/nations", list_nations, methods=["GET"]),
    Route("/admin/nations", create_nation, methods=["POST"]),
    Route("/admin/organisations", create_organisation, methods=["POST"]),
    Route("/admin/principals", list_principals, methods=["GET"]),
    Route("/admin/keys", create_key, methods=["POST"]),
    Route("/admin/keys/{key_id}", revoke_key, methods=["DELETE"]),
]
