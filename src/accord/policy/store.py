"""Holds the engine in force and swaps in a new bundle only after it validates in full.

Each replica reloads from its own ``policy_dir``: deploy the same bundle files to every replica and
compare ``/admin/policy`` versions to confirm they agree.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from accord.audit import AdminAudit
from accord.config import Settings
from accord.policy.engine import PolicyEngine, PolicyError, default_bundle_dir
from accord.principal import Principal

logger = logging.getLogger(__name__)


class PolicyStore:
    def __init__(self, settings: Settings, audit: AdminAudit) -> None:
        self._policy_dir = settings.policy_dir
        self._audit = audit
        self._engine: PolicyEngine | None = None
        self._watcher: asyncio.Task[None] | None = None

    async def start(self, watch: bool = True) -> None:
        """Load the bundle (raises `PolicyError`: the gateway must not start) and optionally watch it."""
        source = _source(self._policy_dir)
        engine = await asyncio.to_thread(PolicyEngine.load, source)
        await self._audit.record_admin_act(
            None, "policy.bundle_loaded", engine.version, {"source": str(source), "previous": None}
        )
        self._engine = engine
        if watch:
            self._watcher = asyncio.create_task(self.watch(), name="policy-watch")

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None

    @property
    def current(self) -> PolicyEngine:
        if self._engine is None:
            raise PolicyError("no policy bundle loaded")
        return self._engine

    async def reload(self, actor: Principal | None = None) -> PolicyEngine:
        """Validate the bundle on disk, then swap; if it fails, the old engine stays (`PolicyError`)."""
        source = _source(self._policy_dir)
        try:
            engine = await asyncio.to_thread(PolicyEngine.load, source)
        except PolicyError as exc:
            await self._audit.record_admin_act(
                actor,
                "policy.bundle_refused",
                self.current.version,
                {"source": str(source), "error": str(exc)},
            )
            raise
        await self._audit.record_admin_act(
            actor,
            "policy.bundle_loaded",
            engine.version,
            {"source": str(source), "previous": self.current.version, "policy_ids": list(engine.policy_ids)},
        )
        self._engine = engine
        return engine

    def fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        source = _source(self._policy_dir)
        try:
            return tuple(
                (p.name, p.stat().st_mtime_ns, p.stat().st_size)
                for p in sorted(source.iterdir())
                if p.is_file()
            )
        except OSError:
            return ()

    async def watch(self, interval: float = 1.0) -> None:
        """Poll the bundle's mtimes and reload on change; run as an asyncio task, cancel to stop."""
        seen = self.fingerprint()
        while True:
            await asyncio.sleep(interval)
            current = self.fingerprint()
            if current == seen:
                continue
            seen = current
            try:
                await self.reload()
            except PolicyError as exc:
                logger.warning("policy bundle refused, previous bundle stays in force: %s", exc)


def _source(policy_dir: Path) -> Path:
    return policy_dir if policy_dir.is_dir() else default_bundle_dir()
