"""The hook through which administrative acts reach the ledger.

Services (keys, tenants, policy, kill switches, incidents, reviews) take an `AdminAudit` so that
every act is recorded before it takes effect; the gateway wires it to the ledger. If recording
fails the act must fail too, so implementations raise rather than swallow errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from accord.principal import Principal


class AdminAudit(Protocol):
    async def record_admin_act(
        self, actor: Principal | None, act: str, target: str, details: Mapping[str, object]
    ) -> None: ...


class MemoryAudit:
    """Keeps acts in a list: for the CLI's dry runs and for tests that assert what was recorded."""

    def __init__(self) -> None:
        self.acts: list[tuple[str | None, str, str, dict[str, object]]] = []

    async def record_admin_act(
        self, actor: Principal | None, act: str, target: str, details: Mapping[str, object]
    ) -> None:
        self.acts.append((actor.id if actor else None, act, target, dict(details)))
