"""Who is calling: the attributes every check downstream decides on."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class AgencyKind(StrEnum):
    MILITARY = "military"
    CIVIL = "civil"
    INTELLIGENCE = "intelligence"
    LAW_ENFORCEMENT = "law_enforcement"
    CONTRACTOR = "contractor"


class Role(StrEnum):
    USER = "user"
    TENANT_ADMIN = "tenant_admin"
    SECURITY_OFFICER = "security_officer"
    OVERSEER = "overseer"
    OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller.

    `nation` is an ISO 3166 alpha-3 code or an alliance body such as ``NATO``; tenancy is per nation.
    """

    id: str
    nation: str
    organisation: str
    agency_kind: AgencyKind
    roles: frozenset[Role] = field(default_factory=lambda: frozenset({Role.USER}))
    name: str = ""
    credential_id: str | None = None

    def has_role(self, role: Role) -> bool:
        return role in self.roles
