"""Build every part of a gateway process from its settings and deployment file, and take it down."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import TYPE_CHECKING

from accord.api.auth import authenticate
from accord.backends.registry import ModelRegistry
from accord.deployment import load_deployment
from accord.identity.directory import Directory
from accord.incidents.alerts import AlertDispatcher, WebhookConfig
from accord.incidents.service import IncidentService
from accord.inspect.markings import MarkingScanner, ceiling_rank
from accord.inspect.personal_data import PersonalDataDetector
from accord.inspect.volume import InMemoryVolumeTracker, RedisVolumeTracker, VolumeTracker
from accord.inspection import Inspector, load_intent_detector
from accord.ledger.keys import load_secret
from accord.ledger.log import Ledger
from accord.ledger.pseudonym import Pseudonymiser
from accord.ledger_audit import LedgerAudit
from accord.pipeline import Pipeline
from accord.policy.killswitch import KillSwitchBoard
from accord.policy.reviews import ReviewQueue
from accord.policy.store import PolicyStore
from accord.protections import GatewayProtections
from accord.ratelimit import RateLimiter
from accord.store.database import create_engine_for, migrate

if TYPE_CHECKING:
    from accord.services import Services

log = logging.getLogger("accord.wiring")


async def wire(services: Services) -> None:
    from accord.services import ensure_home, oidc_verifier

    settings = services.settings
    ensure_home(settings)
    if os.environ.get("ACCORD_MIGRATE_ON_START", "1") == "1":
        await asyncio.to_thread(migrate, settings.database_url)
    deployment = load_deployment(settings.deployment_file)
    engine = create_engine_for(settings.database_url)
    ledger = await Ledger.open(settings, origin=deployment.gateway.origin)
    pseudonymiser = Pseudonymiser.from_keys_dir(settings.keys_dir)
    audit = LedgerAudit(ledger, pseudonymiser)

    policy = PolicyStore(settings, audit)
    await policy.start()
    killswitches = KillSwitchBoard(engine, audit, redis_url=settings.redis_url)
    await killswitches.start()
    reviews = ReviewQueue(engine, settings, audit)
    alerts = AlertDispatcher(engine, WebhookConfig.from_env())
    incidents = IncidentService.from_settings(settings, engine, audit, alerts=alerts)
    volume: VolumeTracker = (
        RedisVolumeTracker(settings.redis_url) if settings.redis_url else InMemoryVolumeTracker()
    )
    inspector = Inspector(
        scanner=MarkingScanner.load(),
        ceiling_rank=ceiling_rank(deployment.gateway.ceiling),
        personal_data=PersonalDataDetector(load_secret(settings.keys_dir, "identifiers.key")),
        intent=load_intent_detector(deployment.gateway.intent, policy.current.intent_thresholds),
        volume=volume,
        policy=policy,
    )
    models = ModelRegistry(deployment)
    protections = GatewayProtections(
        inspector=inspector,
        holdback_chars=deployment.gateway.stream_holdback_chars,
        incidents=incidents,
        killswitches=killswitches,
        reviews=reviews,
        ledger=ledger,
        pseudonymiser=pseudonymiser,
    )
    limits = deployment.gateway.rate_limit
    services.deployment = deployment
    services.engine = engine
    services.ledger = ledger
    services.pseudonymiser = pseudonymiser
    services.audit = audit
    services.directory = Directory(engine, audit)
    services.oidc = oidc_verifier(deployment)
    services.policy = policy
    services.killswitches = killswitches
    services.reviews = reviews
    services.incidents = incidents
    services.inspector = inspector
    services.models = models
    services.volume = volume
    services.pipeline = Pipeline(
        authenticate=authenticate,
        models=models,
        protections=protections,
        rate_limiter=RateLimiter(limits.requests_per_minute, limits.burst),
        max_body_bytes=deployment.gateway.max_body_bytes,
    )
    services.tasks = [asyncio.create_task(alerts.run(), name="incident-alerts")]
    await audit.record_admin_act(
        None, "gateway.start", deployment.gateway.origin, {"policy_bundle": policy.current.version}
    )


async def unwire(services: Services) -> None:
    for task in getattr(services, "tasks", []):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    closers = []
    for name in ("policy", "killswitches"):
        part = getattr(services, name, None)
        if part is not None:
            closers.append(part.stop)
    inspector = getattr(services, "inspector", None)
    if inspector is not None:
        closers.append(inspector.intent.aclose)
    for name in ("models", "volume"):
        part = getattr(services, name, None)
        if part is not None:
            closers.append(part.aclose)
    for closer in closers:
        try:
            await closer()
        except Exception:  # shutting down: report and carry on closing the rest
            log.exception("error while closing %s", getattr(closer, "__qualname__", closer))
    ledger = getattr(services, "ledger", None)
    if ledger is not None:
        await ledger.close()
    engine = getattr(services, "engine", None)
    if engine is not None:
        engine.dispose()
