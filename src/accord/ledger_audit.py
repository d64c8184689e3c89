"""Administrative acts recorded as ledger leaves (the `AdminAudit` the services are given)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from accord.ledger.log import Ledger
from accord.ledger.pseudonym import Pseudonymiser
from accord.ledger.record import AdminRecord
from accord.principal import Principal


class LedgerAudit:
    def __init__(self, ledger: Ledger, pseudonymiser: Pseudonymiser) -> None:
        self._ledger = ledger
        self._pseudonymiser = pseudonymiser

    async def record_admin_act(
        self, actor: Principal | None, act: str, target: str, details: Mapping[str, object]
    ) -> None:
        # The local CLI acts as the operator of the machine it runs on.
        who = self._pseudonymiser.pseudonym(actor.id) if actor else "local-cli"
        enriched = dict(details)
        # A principal named in the details (the holder of a new key) gets the same pseudonym as in
        # its request leaves, so an overseer can link the two without learning who it is.
        if isinstance(enriched.get("principal"), str):
            enriched["principal"] = self._pseudonymiser.pseudonym(str(enriched["principal"]))
        if actor is not None:
            enriched.setdefault("actor_nation", actor.nation)
            enriched.setdefault("actor_roles", sorted(role.value for role in actor.roles))
        await self._ledger.append(
            AdminRecord(time=datetime.now(UTC), actor=who, act=act, target=target, details=enriched)
        )
