"""The administration API: body size limit, key lifetime cap and the directory's rules over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from accord.api import admin_routes
from accord.api.body import ADMIN_MAX_BODY_BYTES
from accord.api.errors import APIError
from accord.audit import MemoryAudit
from accord.identity.directory import MAX_KEY_LIFETIME_DAYS, Directory
from accord.incidents.routes import routes as incident_routes
from accord.policy.routes import routes as policy_routes
from accord.principal import AgencyKind, Role
from accord.store.database import create_engine_for, migrate


@dataclass
class NoOIDC:
    enabled: bool = False


@dataclass
class Reviews:
    async def get(self, review_id: str) -> Any:
        return SimpleNamespace(id=review_id, nation="NATO")


@dataclass
class FakeServices:
    directory: Directory
    oidc: NoOIDC = field(default_factory=NoOIDC)
    reviews: Reviews = field(default_factory=Reviews)
    incidents: object = None
    killswitches: object = None


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, APIError)
    return Response(orjson.dumps(exc.body()), status_code=exc.status, media_type="application/json")


@dataclass
class Admin:
    client: httpx.AsyncClient
    headers: dict[str, str]
    directory: Directory


@pytest.fixture
async def admin(tmp_path: Path) -> AsyncIterator[Admin]:
    url = f"sqlite:///{tmp_path / 'accord.db'}"
    migrate(url)
    engine = create_engine_for(url)
    directory = Directory(engine, MemoryAudit(), cache_ttl=0.0)
    operator = await directory.create_key(
        None,
        nation="NATO",
        organisation="NSPA",
        agency_kind=AgencyKind.CIVIL,
        roles=frozenset({Role.OPERATOR, Role.SECURITY_OFFICER}),
        name="operator",
    )
    app = Starlette(
        routes=[*admin_routes.routes, *policy_routes, *incident_routes],
        exception_handlers={APIError: _api_error},
    )
    app.state.services = FakeServices(directory)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://accord.test") as client:
        yield Admin(client, {"authorization": f"Bearer {operator.key}"}, directory)
    engine.dispose()


ROUTES_WITH_BODIES = [
    "/admin/nations",
    "/admin/organisations",
    "/admin/keys",
    "/admin/killswitches",
    "/admin/reviews/rev_1/approve",
    "/admin/reviews/rev_1/deny",
    "/admin/incidents/inc_1/notes",
    "/admin/incidents/inc_1/close",
]


def _too_large(answer: httpx.Response) -> None:
    assert answer.status_code == 413, answer.text
    error = answer.json()["error"]
    assert error["code"] == "request_too_large" and error["type"] == "invalid_request_error"
    assert str(ADMIN_MAX_BODY_BYTES) in error["message"]


@pytest.mark.parametrize("path", ROUTES_WITH_BODIES)
async def test_a_declared_length_over_the_limit_is_refused_before_reading(admin: Admin, path: str) -> None:
    body = b'{"name": "' + b"x" * ADMIN_MAX_BODY_BYTES + b'"}'
    _too_large(await admin.client.post(path, content=body, headers=admin.headers))


@pytest.mark.parametrize("path", ROUTES_WITH_BODIES)
async def test_a_streamed_body_is_cut_off_once_over_the_limit(admin: Admin, path: str) -> None:
    sent = 0

    async def endless() -> AsyncIterator[bytes]:  # chunked: no content-length to check
        nonlocal sent
        yield b'{"name": "'
        for _ in range(10_000):  # 640 MB if it were all read
            sent += 1
            yield b"x" * 65536

    _too_large(await admin.client.post(path, content=endless(), headers=admin.headers))
    assert sent <= ADMIN_MAX_BODY_BYTES // 65536 + 1, "the reader kept reading past the limit"


async def test_a_body_of_exactly_the_limit_is_read(admin: Admin) -> None:
    body = b'{"code": "NOR"}'
    body += b" " * (ADMIN_MAX_BODY_BYTES - len(body))
    answer = await admin.client.post("/admin/nations", content=body, headers=admin.headers)
    assert answer.status_code == 201, answer.text


async def test_key_lifetime_is_capped(admin: Admin) -> None:
    body = {"nation": "DEU", "organisation": "Bundespolizei", "agency_kind": "law_enforcement"}
    for days in (100_000_000, MAX_KEY_LIFETIME_DAYS + 1, 0, 1.5, "30"):
        answer = await admin.client.post(
            "/admin/keys", json={**body, "expires_in_days": days}, headers=admin.headers
        )
        assert answer.status_code == 400, (days, answer.text)
        error = answer.json()["error"]
        assert error["param"] == "expires_in_days" and str(MAX_KEY_LIFETIME_DAYS) in error["message"]
    answer = await admin.client.post(
        "/admin/keys", json={**body, "expires_in_days": MAX_KEY_LIFETIME_DAYS}, headers=admin.headers
    )
    assert answer.status_code == 201, answer.text


async def test_keys_and_organisations_create_no_nation_the_nation_rule_refuses(admin: Admin) -> None:
    refused = await admin.client.post("/admin/nations", json={"code": "X1Y"}, headers=admin.headers)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_request"
    for path, body in (
        ("/admin/keys", {"nation": "D2", "organisation": "Heer", "agency_kind": "military"}),
        ("/admin/organisations", {"nation": "D3", "name": "Heer", "agency_kind": "military"}),
    ):
        answer = await admin.client.post(path, json=body, headers=admin.headers)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == refused.json()["error"]
    nations = await admin.client.get("/admin/nations", headers=admin.headers)
    assert [nation["code"] for nation in nations.json()["data"]] == ["NATO"]
