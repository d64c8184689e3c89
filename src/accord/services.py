"""Everything a gateway process holds, built once from the settings and closed on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from starlette.routing import BaseRoute

from accord.config import Settings
from accord.deployment import DEFAULT_DEPLOYMENT, Deployment, load_deployment
from accord.identity.directory import Directory
from accord.identity.oidc import ClaimMapping, OIDCProvider, OIDCVerifier
from accord.identity.tables import NationRow
from accord.ledger.log import Ledger
from accord.ledger.pseudonym import Pseudonymiser
from accord.ledger_audit import LedgerAudit
from accord.principal import AgencyKind, Role
from accord.store.database import create_engine_for, migrate

if TYPE_CHECKING:
    from accord.backends.registry import ModelRegistry
    from accord.incidents.service import IncidentService
    from accord.inspect.volume import VolumeTracker
    from accord.inspection import Inspector
    from accord.pipeline import Pipeline
    from accord.policy.killswitch import KillSwitchBoard
    from accord.policy.reviews import ReviewQueue
    from accord.policy.store import PolicyStore


def ensure_home(settings: Settings) -> None:
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not settings.deployment_file.exists():
        settings.deployment_file.write_text(DEFAULT_DEPLOYMENT, encoding="utf-8")


def oidc_verifier(deployment: Deployment) -> OIDCVerifier:
    return OIDCVerifier(
        [
            OIDCProvider(
                issuer=provider.issuer,
                audience=provider.audience,
                jwks_url=provider.jwks_url,
                static_keys=tuple(path.read_text(encoding="utf-8") for path in provider.static_keys),
                algorithms=provider.algorithms,
                claims=ClaimMapping(**provider.claims.model_dump()),
            )
            for provider in deployment.oidc
        ]
    )


@dataclass(slots=True)
class AdminSession:
    """What the CLI needs to manage the directory with every act recorded in the ledger."""

    settings: Settings
    engine: Engine
    ledger: Ledger
    audit: LedgerAudit
    directory: Directory


@contextlib.asynccontextmanager
async def admin_session(settings: Settings) -> AsyncIterator[AdminSession]:
    ensure_home(settings)
    await asyncio.to_thread(migrate, settings.database_url)
    engine = create_engine_for(settings.database_url)
    ledger = await Ledger.open(settings, run_sequencer=False)
    audit = LedgerAudit(ledger, Pseudonymiser.from_keys_dir(settings.keys_dir))
    try:
        yield AdminSession(settings, engine, ledger, audit, Directory(engine, audit))
    finally:
        await ledger.close()
        engine.dispose()


async def bootstrap_home(settings: Settings, *, demo: bool) -> tuple[str, str] | None:
    """Idempotent set-up; returns (operator key, user key) when it created the demo alliance."""
    from accord.incidents.quarantine import ensure_quarantine_keys

    ensure_home(settings)
    ensure_quarantine_keys(settings)
    async with admin_session(settings) as session:
        with Session(session.engine) as db:
            nations = db.execute(select(func.count()).select_from(NationRow)).scalar_one()
        if nations or not demo:
            return None
        return await _create_demo(session)


async def _create_demo(session: AdminSession) -> tuple[str, str]:
    from accord.cli import DEMO_NATIONS, DEMO_ORGANISATIONS

    for code, name in DEMO_NATIONS.items():
        await session.directory.create_nation(None, code, name)
    for nation, organisation, kind in DEMO_ORGANISATIONS:
        await session.directory.create_organisation(None, nation, organisation, kind)
    admin = await session.directory.create_key(
        None,
        nation="NATO",
        organisation="NSPA Logistics",
        agency_kind=AgencyKind.CIVIL,
        roles=frozenset({Role.OPERATOR, Role.SECURITY_OFFICER, Role.OVERSEER, Role.TENANT_ADMIN}),
        name="demo operator",
    )
    user = await session.directory.create_key(
        None,
        nation="USA",
        organisation="Army Materiel Command",
        agency_kind=AgencyKind.MILITARY,
        roles=frozenset({Role.USER}),
        name="demo user",
    )
    return admin.key, user.key


class Services:
    """The gateway's parts, wired together; `start` builds them, `close` releases them."""

    deployment: Deployment
    engine: Engine
    ledger: Ledger
    pseudonymiser: Pseudonymiser
    audit: LedgerAudit
    directory: Directory
    oidc: OIDCVerifier
    policy: PolicyStore
    killswitches: KillSwitchBoard
    reviews: ReviewQueue
    incidents: IncidentService
    inspector: Inspector
    models: ModelRegistry
    volume: VolumeTracker
    pipeline: Pipeline
    tasks: list[asyncio.Task[None]]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started_at = int(time.time())
        self.tasks = []

    @staticmethod
    def extra_routes() -> list[BaseRoute]:
        from accord.api.review_routes import routes as review_routes
        from accord.incidents.routes import routes as incident_routes
        from accord.ledger.routes import routes as ledger_routes
        from accord.policy.routes import routes as policy_routes

        return [*review_routes, *policy_routes, *incident_routes, *ledger_routes]

    @classmethod
    async def start(cls, settings: Settings) -> Services:
        from accord.wiring import wire

        services = cls(settings)
        await wire(services)
        return services

    async def close(self) -> None:
        from accord.wiring import unwire

        await unwire(self)


def load_deployment_or_default(settings: Settings) -> Deployment:
    ensure_home(settings)
    return load_deployment(settings.deployment_file)
