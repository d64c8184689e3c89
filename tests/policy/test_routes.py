from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from accord.api.errors import APIError
from accord.audit import MemoryAudit
from accord.config import Settings
from accord.identity.directory import CredentialRejected
from accord.policy.engine import default_bundle_dir
from accord.policy.killswitch import KillSwitchBoard
from accord.policy.reviews import ReviewQueue
from accord.policy.routes import routes
from accord.policy.store import PolicyStore
from accord.policy.tables import KillSwitchRow, KillSwitchVersion, ReviewRow
from accord.principal import AgencyKind, Principal, Role

PEOPLE = {
    "user": Principal("u1", "FRA", "army", AgencyKind.MILITARY),
    "fra_admin": Principal("a1", "FRA", "army", AgencyKind.MILITARY, frozenset({Role.TENANT_ADMIN})),
    "deu_admin": Principal("a2", "DEU", "bw", AgencyKind.CIVIL, frozenset({Role.TENANT_ADMIN})),
    "operator": Principal("op", "NATO", "ops", AgencyKind.CIVIL, frozenset({Role.OPERATOR})),
}


class KeyDirectory:
    async def authenticate_key(self, token: str) -> Principal:
        try:
            return PEOPLE[token.removeprefix("acc_")]
        except KeyError:
            raise CredentialRejected("unknown key") from None


@dataclass
class NoOIDC:
    enabled: bool = False


@dataclass
class FakeServices:
    directory: KeyDirectory
    oidc: NoOIDC
    policy: PolicyStore
    reviews: ReviewQueue
    killswitches: KillSwitchBoard


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, APIError)
    return Response(orjson.dumps(exc.body()), status_code=exc.status, media_type="application/json")


def auth(who: str) -> dict[str, str]:
    return {"authorization": f"Bearer acc_{who}"}


async def test_admin_routes(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'a.db'}", redis_url=None)
    shutil.copytree(default_bundle_dir(), settings.policy_dir)
    engine = sa.create_engine(settings.database_url)
    tables = [ReviewRow.__table__, KillSwitchRow.__table__, KillSwitchVersion.__table__]
    ReviewRow.metadata.create_all(engine, tables=tables)  # type: ignore[arg-type]
    audit = MemoryAudit()
    policy = PolicyStore(settings, audit)
    await policy.start(watch=False)
    services = FakeServices(
        KeyDirectory(), NoOIDC(), policy, ReviewQueue(engine, settings, audit), KillSwitchBoard(engine, audit)
    )
    review_id = await services.reviews.park(PEOPLE["user"], "chat", "m", ("c",), ("p",), {"x": 1})
    app = Starlette(routes=routes, exception_handlers={APIError: _api_error})
    app.state.services = services
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.get("/admin/reviews", headers=auth("user"))).status_code == 403
        listed = (await client.get("/admin/reviews", headers=auth("deu_admin"))).json()
        assert listed["data"] == []
        assert (await client.get(f"/admin/reviews/{review_id}", headers=auth("deu_admin"))).status_code == 404
        url = f"/admin/reviews/{review_id}/approve"
        approved = await client.post(url, json={"comment": "ok"}, headers=auth("fra_admin"))
        assert approved.status_code == 200 and approved.json()["status"] == "approved"
        assert (
            await client.post(url, json={"comment": "again"}, headers=auth("fra_admin"))
        ).status_code == 409

        engaged = await client.post(
            "/admin/killswitches",
            json={"scope": "nation", "target": "FRA", "reason": "drill"},
            headers=auth("operator"),
        )
        assert engaged.status_code == 201
        assert services.killswitches.blocked(PEOPLE["user"], "m") is not None
        listed = (await client.get("/admin/killswitches", headers=auth("operator"))).json()["data"]
        assert [s["id"] for s in listed] == [engaged.json()["id"]]
        released = await client.delete(
            f"/admin/killswitches/{engaged.json()['id']}", headers=auth("operator")
        )
        assert released.status_code == 200
        assert services.killswitches.blocked(PEOPLE["user"], "m") is None

        shown = (await client.get("/admin/policy", headers=auth("operator"))).json()
        assert "deny_bulk_collection" in shown["policy_ids"]
        (settings.policy_dir / "bundle.yaml").write_text("nonsense: [")
        refused = await client.post("/admin/policy/reload", headers=auth("operator"))
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "policy_bundle_refused"
        assert policy.current.version == shown["version"]
    engine.dispose()
