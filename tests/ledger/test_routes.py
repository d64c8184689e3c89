from collections.abc import AsyncIterator
from dataclasses import replace
from types import SimpleNamespace

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from accord.api.errors import APIError
from accord.config import Settings
from accord.identity.directory import CredentialRejected
from accord.ledger.log import Ledger
from accord.ledger.pseudonym import Pseudonymiser
from accord.ledger.routes import routes
from accord.principal import AgencyKind, Principal, Role

from .ledger_samples import request_record

USER = Principal(id="user-1", nation="FRA", organisation="o", agency_kind=AgencyKind.CIVIL)
PRINCIPALS = {
    "acc_user": USER,
    "acc_other": replace(USER, id="user-2"),
    "acc_deu_admin": replace(USER, id="a", nation="DEU", roles=frozenset({Role.TENANT_ADMIN})),
    "acc_overseer": replace(USER, id="o", nation="NATO", roles=frozenset({Role.OVERSEER})),
}


class Directory:
    async def authenticate_key(self, token: str) -> Principal:
        try:
            return PRINCIPALS[token]
        except KeyError:
            raise CredentialRejected("unknown key") from None


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, APIError)
    return Response(orjson.dumps(exc.body()), status_code=exc.status, media_type="application/json")


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    pseudonymiser = Pseudonymiser.from_keys_dir(settings.keys_dir)
    ledger = await Ledger.open(settings, run_sequencer=False)
    for n in range(6):  # nations cycle USA, FRA, DEU
        record = request_record(n)
        await ledger.append(replace(record, principal=pseudonymiser.pseudonym("user-1" if n == 1 else "x")))
    await ledger.integrate_now()
    app = Starlette(routes=routes, exception_handlers={APIError: _api_error})
    app.state.services = SimpleNamespace(
        ledger=ledger, pseudonymiser=pseudonymiser, directory=Directory(), oidc=SimpleNamespace(enabled=False)
    )
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            yield http
    finally:
        await ledger.close()


def auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def test_checkpoint_and_key_need_a_caller(client: httpx.AsyncClient) -> None:
    assert (await client.get("/admin/ledger/checkpoint")).status_code == 401
    latest = await client.get("/admin/ledger/checkpoint", headers=auth("acc_user"))
    assert latest.status_code == 200 and latest.json()["tree_size"] == 6
    key = await client.get("/admin/ledger/public-key", headers=auth("acc_user"))
    assert key.json()["vkey"].startswith("accord+")


async def test_consistency_route(client: httpx.AsyncClient) -> None:
    answer = await client.get("/admin/ledger/consistency", params={"from": 3}, headers=auth("acc_user"))
    assert answer.status_code == 200 and answer.json()["tree_size"] == 6
    bad = await client.get("/admin/ledger/consistency", params={"from": "x"}, headers=auth("acc_user"))
    assert bad.status_code == 400
    ahead = await client.get("/admin/ledger/consistency", params={"from": 99}, headers=auth("acc_user"))
    assert ahead.status_code == 404


async def test_who_may_prove_what(client: httpx.AsyncClient) -> None:
    async def status(key: str, request_id: str) -> int:
        return (await client.get(f"/admin/ledger/proofs/{request_id}", headers=auth(key))).status_code

    assert await status("acc_overseer", "req-4") == 200
    assert await status("acc_user", "req-1") == 200  # their own request
    assert await status("acc_other", "req-1") == 404  # someone else's looks like nothing at all
    assert await status("acc_deu_admin", "req-2") == 200  # DEU request
    assert await status("acc_deu_admin", "req-1") == 404
    assert await status("acc_overseer", "req-missing") == 404
    proof = (await client.get("/admin/ledger/proofs/req-1", headers=auth("acc_user"))).json()
    assert proof["leaf_index"] == 1 and proof["tree_size"] == 6


async def test_transparency_report_scoping(client: httpx.AsyncClient) -> None:
    window = {"from": "2026-11-26T00:00:00Z", "to": "2026-11-27T00:00:00Z"}
    everyone = await client.get("/admin/reports/transparency", params=window, headers=auth("acc_overseer"))
    assert everyone.json()["totals"]["requests"] == 6
    deu = await client.get("/admin/reports/transparency", params=window, headers=auth("acc_deu_admin"))
    assert set(deu.json()["by_nation"]) == {"DEU"}
    user = await client.get("/admin/reports/transparency", params=window, headers=auth("acc_user"))
    assert user.status_code == 403
    html = await client.get(
        "/admin/reports/transparency", params={**window, "format": "html"}, headers=auth("acc_overseer")
    )
    assert html.headers["content-type"].startswith("text/html") and "<svg" in html.text
    bad = await client.get("/admin/reports/transparency", params={"from": "x"}, headers=auth("acc_overseer"))
    assert bad.status_code == 400
