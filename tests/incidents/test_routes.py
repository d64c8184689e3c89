from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from accord.api.errors import APIError
from accord.audit import MemoryAudit
from accord.config import Settings
from accord.identity.directory import CredentialRejected
from accord.incidents.quarantine import PRIVATE_KEY_FILE, generate_key_pair
from accord.incidents.routes import routes
from accord.incidents.service import DECRYPT_KEY_ENV, IncidentService
from accord.principal import Principal

from .test_service import SEGMENTS, open_spill

OFFICER_KEY = "acc_officer"
USER_KEY = "acc_user"


class KeyDirectory:
    def __init__(self, principals: dict[str, Principal]) -> None:
        self._principals = principals

    async def authenticate_key(self, token: str) -> Principal:
        try:
            return self._principals[token]
        except KeyError:
            raise CredentialRejected("unknown key") from None


@dataclass
class NoOIDC:
    enabled: bool = False


@dataclass
class FakeServices:
    directory: KeyDirectory
    incidents: IncidentService
    oidc: NoOIDC


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, APIError)
    return Response(orjson.dumps(exc.body()), status_code=exc.status, media_type="application/json")


def client_for(service: IncidentService, officer: Principal, user: Principal) -> httpx.AsyncClient:
    app = Starlette(routes=routes, exception_handlers={APIError: _api_error})
    app.state.services = FakeServices(KeyDirectory({OFFICER_KEY: officer, USER_KEY: user}), service, NoOIDC())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://accord.test")


def auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


@pytest.fixture
def server_with_key(settings: Settings, engine: sa.Engine, audit: MemoryAudit) -> IncidentService:
    environ = {DECRYPT_KEY_ENV: str(settings.keys_dir / PRIVATE_KEY_FILE)}
    return IncidentService.from_settings(settings, engine, audit, environ=environ)


async def test_officer_workflow_over_http(
    server_with_key: IncidentService, audit: MemoryAudit, officer: Principal, user: Principal
) -> None:
    incident = await open_spill(server_with_key, user)
    base = f"/admin/incidents/{incident.id}"
    async with client_for(server_with_key, officer, user) as client:
        listed = (await client.get("/admin/incidents?status=open", headers=auth(OFFICER_KEY))).json()
        assert [item["id"] for item in listed["data"]] == [incident.id]

        shown = await client.get(base, headers=auth(OFFICER_KEY))
        assert shown.status_code == 200 and shown.json()["marking"] == "SECRET//NOFORN"
        assert "GLASS HERON" not in shown.text

        decrypted = await client.post(f"{base}/decrypt", headers=auth(OFFICER_KEY))
        assert decrypted.status_code == 200
        assert decrypted.headers["cache-control"] == "no-store"
        assert [(s["path"], s["text"]) for s in decrypted.json()["segments"]] == SEGMENTS
        assert audit.acts[-1][1:3] == ("incident.decrypt", incident.id)

        noted = await client.post(f"{base}/notes", headers=auth(OFFICER_KEY), json={"text": "User called."})
        assert noted.status_code == 201 and noted.json()["notes"][0]["text"] == "User called."
        empty = await client.post(f"{base}/notes", headers=auth(OFFICER_KEY), json={"text": " "})
        assert empty.status_code == 400

        purged = await client.post(f"{base}/purge", headers=auth(OFFICER_KEY))
        assert purged.json()["status"] == "purged"
        again = await client.post(f"{base}/decrypt", headers=auth(OFFICER_KEY))
        assert again.status_code == 409

        closed = await client.post(f"{base}/close", headers=auth(OFFICER_KEY), json={"resolution": "done"})
        assert closed.status_code == 409


async def test_users_are_refused_and_nothing_is_recorded(
    server_with_key: IncidentService, audit: MemoryAudit, officer: Principal, user: Principal
) -> None:
    incident = await open_spill(server_with_key, user)
    async with client_for(server_with_key, officer, user) as client:
        for method, path in [
            ("GET", "/admin/incidents"),
            ("GET", f"/admin/incidents/{incident.id}"),
            ("POST", f"/admin/incidents/{incident.id}/decrypt"),
            ("POST", f"/admin/incidents/{incident.id}/purge"),
        ]:
            response = await client.request(method, path, headers=auth(USER_KEY))
            assert response.status_code == 403, path
        assert (await client.get("/admin/incidents")).status_code == 401
    assert audit.acts == []


async def test_decrypt_without_a_server_key_is_a_conflict(
    service: IncidentService, audit: MemoryAudit, officer: Principal, user: Principal
) -> None:
    incident = await open_spill(service, user)
    async with client_for(service, officer, user) as client:
        response = await client.post(f"/admin/incidents/{incident.id}/decrypt", headers=auth(OFFICER_KEY))
        missing = await client.get("/admin/incidents/inc_nope", headers=auth(OFFICER_KEY))
    body: dict[str, Any] = response.json()
    assert response.status_code == 409
    assert body["error"]["code"] == "decryption_not_configured"
    assert "accord incidents show" in body["error"]["message"]
    assert audit.acts == []
    assert missing.status_code == 404


async def test_decrypt_with_another_key_pair_is_a_named_conflict(
    settings: Settings,
    engine: sa.Engine,
    audit: MemoryAudit,
    officer: Principal,
    user: Principal,
    tmp_path: Any,
) -> None:
    other = generate_key_pair(tmp_path / "other-private.pem", tmp_path / "other-public.pem")
    wrong = IncidentService.from_settings(
        settings, engine, audit, environ={DECRYPT_KEY_ENV: str(other.private_key)}
    )
    incident = await open_spill(wrong, user)
    async with client_for(wrong, officer, user) as client:
        response = await client.post(f"/admin/incidents/{incident.id}/decrypt", headers=auth(OFFICER_KEY))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "decryption_key_mismatch"
    assert "GLASS HERON" not in response.text
