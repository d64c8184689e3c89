"""The alliance's directory: nations, organisations, principals and their API keys.

Writes are rare and go to the database; the hot path only reads through a short-lived cache, so a
revocation takes effect everywhere within `cache_ttl` seconds (and at once on the replica that made it).
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from accord.audit import AdminAudit
from accord.identity.keys import new_key, parse_key, secret_matches
from accord.identity.tables import ApiKeyRow, NationRow, OrganisationRow, PrincipalRow
from accord.principal import AgencyKind, Principal, Role


class DirectoryError(Exception):
    """A management request that cannot be carried out; `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


# The longest key lifetime `accord keys create --expires-in-days` and `POST /admin/keys` accept.
MAX_KEY_LIFETIME_DAYS = 3650
_MAX_NAME = 200  # the directory's name columns are String(200)


def nation_code(code: str) -> str:
    """The canonical (upper-case) form of a nation code, or DirectoryError when it is not one.

    The one rule for every place a nation comes into being, explicitly (`create_nation`) or with
    an organisation or key: 3 to 16 ASCII letters, an ISO 3166 alpha-3 code or an alliance body.
    """
    code = code.strip()
    if not (code.isascii() and code.isalpha() and 3 <= len(code) <= 16):
        raise DirectoryError(
            "nation code must be 3 to 16 letters: ISO 3166 alpha-3 (e.g. DEU) or an alliance body (e.g. NATO)"
        )
    return code.upper()


def organisation_name(name: str) -> str:
    """An organisation's name without surrounding blanks, or DirectoryError when nothing is left."""
    name = name.strip()
    if not name:
        raise DirectoryError("organisation name must not be empty")
    if len(name) > _MAX_NAME:
        raise DirectoryError(f"organisation name must be at most {_MAX_NAME} characters")
    return name


def _display_name(name: str, what: str) -> str:
    if len(name) > _MAX_NAME:
        raise DirectoryError(f"{what} must be at most {_MAX_NAME} characters")
    return name


class CredentialRejected(Exception):
    """Unknown, expired or revoked credential; the message never contains the credential."""


@dataclass(frozen=True, slots=True)
class CreatedKey:
    key_id: str
    key: str
    principal: Principal
    expires_at: datetime | None


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes even for timezone-aware columns.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class Directory:
    def __init__(self, engine: Engine, audit: AdminAudit, *, cache_ttl: float = 2.0) -> None:
        self._engine = engine
        self._audit = audit
        self._cache_ttl = cache_ttl
        self._cache: dict[str, tuple[float, str, Principal, datetime | None]] = {}
        self._lock = threading.Lock()

    # -- the hot path ------------------------------------------------------------------------

    async def authenticate_key(self, token: str) -> Principal:
        parsed = parse_key(token)
        if parsed is None:
            raise CredentialRejected("invalid API key")
        cached = self._cache.get(parsed.key_id)
        now = time.monotonic()
        if cached is None or cached[0] < now:
            loaded = await asyncio.to_thread(self._load_key, parsed.key_id)
            if loaded is None:
                raise CredentialRejected("invalid API key")
            cached = (now + self._cache_ttl, *loaded)
            self._cache[parsed.key_id] = cached
        _, secret_hash, principal, expires_at = cached
        if not secret_matches(parsed.secret, secret_hash):
            raise CredentialRejected("invalid API key")
        if expires_at is not None and expires_at <= _now():
            raise CredentialRejected("API key has expired")
        return principal

    def _load_key(self, key_id: str) -> tuple[str, Principal, datetime | None] | None:
        with Session(self._engine) as session:
            row = session.execute(
                select(ApiKeyRow, PrincipalRow, OrganisationRow)
                .join(PrincipalRow, ApiKeyRow.principal_id == PrincipalRow.id)
                .join(OrganisationRow, PrincipalRow.organisation_id == OrganisationRow.id)
                .where(ApiKeyRow.id == key_id)
            ).one_or_none()
        if row is None:
            return None
        key, principal_row, organisation = row
        if key.revoked_at is not None or principal_row.disabled:
            return None
        principal = _to_principal(principal_row, organisation, credential_id=key.id)
        return key.secret_hash, principal, _aware(key.expires_at)

    # -- management --------------------------------------------------------------------------

    def ensure_nation(self, session: Session, code: str, name: str | None = None) -> NationRow:
        code = nation_code(code)
        nation = session.get(NationRow, code)
        if nation is None:
            nation = NationRow(code=code, name=name or code, created_at=_now())
            session.add(nation)
            session.flush()
        return nation

    def ensure_organisation(
        self, session: Session, nation: str, name: str, agency_kind: AgencyKind
    ) -> OrganisationRow:
        nation, name = nation_code(nation), organisation_name(name)
        self.ensure_nation(session, nation)
        organisation = session.execute(
            select(OrganisationRow).where(OrganisationRow.nation == nation, OrganisationRow.name == name)
        ).scalar_one_or_none()
        if organisation is None:
            organisation = OrganisationRow(
                id="org_" + secrets.token_hex(8),
                nation=nation,
                name=name,
                agency_kind=agency_kind.value,
                created_at=_now(),
            )
            session.add(organisation)
            session.flush()
        elif organisation.agency_kind != agency_kind.value:
            raise DirectoryError(
                f"organisation {name!r} of {nation} is of agency kind {organisation.agency_kind}, "
                f"not {agency_kind.value}",
                status=409,
                code="conflict",
            )
        return organisation

    async def create_key(
        self,
        actor: Principal | None,
        *,
        nation: str,
        organisation: str,
        agency_kind: AgencyKind,
        roles: frozenset[Role],
        name: str,
        expires_at: datetime | None = None,
        principal_id: str | None = None,
    ) -> CreatedKey:
        """Create a key for an existing principal, or a new principal (and its org, nation) with it."""
        nation, organisation = nation_code(nation), organisation_name(organisation)
        name = _display_name(name, "key name")
        _require_scope(actor, nation)
        if actor is not None and not actor.has_role(Role.OPERATOR):
            forbidden = roles - {Role.USER, Role.TENANT_ADMIN}
            if forbidden:
                raise DirectoryError(
                    "a tenant admin may grant only the user and tenant_admin roles",
                    status=403,
                    code="permission_denied",
                )
        created = await asyncio.to_thread(
            self._create_key, nation, organisation, agency_kind, roles, name, expires_at, principal_id
        )
        await self._audit.record_admin_act(
            actor,
            "key.create",
            created.key_id,
            {
                "principal": created.principal.id,
                "nation": created.principal.nation,
                "organisation": created.principal.organisation,
                "agency_kind": created.principal.agency_kind.value,
                "roles": sorted(role.value for role in created.principal.roles),
            },
        )
        return created

    def _create_key(
        self,
        nation: str,
        organisation: str,
        agency_kind: AgencyKind,
        roles: frozenset[Role],
        name: str,
        expires_at: datetime | None,
        principal_id: str | None,
    ) -> CreatedKey:
        with Session(self._engine) as session, session.begin():
            org = self.ensure_organisation(session, nation, organisation, agency_kind)
            if principal_id is None:
                principal_row = PrincipalRow(
                    id="prn_" + secrets.token_hex(8),
                    organisation_id=org.id,
                    name=name,
                    roles=",".join(sorted(role.value for role in roles)),
                    disabled=False,
                    created_at=_now(),
                )
                session.add(principal_row)
                session.flush()  # no ORM relationships: the principal row must exist before its key
            else:
                found = session.get(PrincipalRow, principal_id)
                if found is None or found.organisation_id != org.id:
                    raise DirectoryError("no such principal in that organisation", status=404)
                principal_row = found
            key_id, key, secret_hash = new_key()
            session.add(
                ApiKeyRow(
                    id=key_id,
                    principal_id=principal_row.id,
                    name=name,
                    secret_hash=secret_hash,
                    created_at=_now(),
                    expires_at=expires_at,
                )
            )
            session.flush()
            principal = _to_principal(principal_row, org, credential_id=key_id)
        return CreatedKey(key_id=key_id, key=key, principal=principal, expires_at=expires_at)

    async def revoke_key(self, actor: Principal | None, key_id: str) -> None:
        nation = await asyncio.to_thread(self._key_nation, key_id)
        if nation is None:
            raise DirectoryError(f"no API key {key_id}", status=404, code="not_found")
        _require_scope(actor, nation)
        await self._audit.record_admin_act(actor, "key.revoke", key_id, {"nation": nation})
        await asyncio.to_thread(self._revoke, key_id)
        with self._lock:
            self._cache.pop(key_id, None)

    def _key_nation(self, key_id: str) -> str | None:
        with Session(self._engine) as session:
            return session.execute(
                select(OrganisationRow.nation)
                .join(PrincipalRow, PrincipalRow.organisation_id == OrganisationRow.id)
                .join(ApiKeyRow, ApiKeyRow.principal_id == PrincipalRow.id)
                .where(ApiKeyRow.id == key_id)
            ).scalar_one_or_none()

    def _revoke(self, key_id: str) -> None:
        with Session(self._engine) as session, session.begin():
            key = session.get(ApiKeyRow, key_id)
            if key is not None and key.revoked_at is None:
                key.revoked_at = _now()

    async def create_nation(self, actor: Principal | None, code: str, name: str) -> dict[str, str]:
        if actor is not None and not actor.has_role(Role.OPERATOR):
            raise DirectoryError("only operators create nations", status=403, code="permission_denied")
        code = nation_code(code)
        name = _display_name(name.strip() or code, "nation name")
        await self._audit.record_admin_act(actor, "tenant.create", code, {"name": name})

        def create() -> None:
            with Session(self._engine) as session, session.begin():
                self.ensure_nation(session, code, name)

        await asyncio.to_thread(create)
        return {"code": code, "name": name}

    async def create_organisation(
        self, actor: Principal | None, nation: str, name: str, agency_kind: AgencyKind
    ) -> dict[str, str]:
        nation, name = nation_code(nation), organisation_name(name)
        _require_scope(actor, nation)
        await self._audit.record_admin_act(
            actor, "organisation.create", f"{nation}/{name}", {"agency_kind": agency_kind.value}
        )

        def create() -> dict[str, str]:
            with Session(self._engine) as session, session.begin():
                org = self.ensure_organisation(session, nation, name, agency_kind)
                return {"id": org.id, "nation": org.nation, "name": org.name, "agency_kind": org.agency_kind}

        return await asyncio.to_thread(create)

    async def list_nations(self) -> list[dict[str, str]]:
        def load() -> list[dict[str, str]]:
            with Session(self._engine) as session:
                rows = session.execute(select(NationRow).order_by(NationRow.code)).scalars()
                return [{"code": row.code, "name": row.name} for row in rows]

        return await asyncio.to_thread(load)

    async def list_principals(self, actor: Principal | None, nation: str | None) -> list[dict[str, object]]:
        if actor is not None and not actor.has_role(Role.OPERATOR):
            nation = actor.nation
        wanted = nation.upper() if nation else None

        def load() -> list[dict[str, object]]:
            with Session(self._engine) as session:
                query = select(PrincipalRow, OrganisationRow).join(
                    OrganisationRow, PrincipalRow.organisation_id == OrganisationRow.id
                )
                if wanted:
                    query = query.where(OrganisationRow.nation == wanted)
                result: list[dict[str, object]] = []
                for principal_row, org in session.execute(query.order_by(PrincipalRow.created_at)):
                    keys = session.execute(
                        select(ApiKeyRow).where(ApiKeyRow.principal_id == principal_row.id)
                    ).scalars()
                    result.append(
                        {
                            "id": principal_row.id,
                            "name": principal_row.name,
                            "nation": org.nation,
                            "organisation": org.name,
                            "agency_kind": org.agency_kind,
                            "roles": principal_row.roles.split(","),
                            "keys": [
                                {
                                    "id": key.id,
                                    "name": key.name,
                                    "created_at": _aware(key.created_at).isoformat(),  # type: ignore[union-attr]
                                    "expires_at": _iso(key.expires_at),
                                    "revoked_at": _iso(key.revoked_at),
                                }
                                for key in keys
                            ],
                        }
                    )
                return result

        return await asyncio.to_thread(load)

    async def principal(self, principal_id: str) -> Principal | None:
        def load() -> Principal | None:
            with Session(self._engine) as session:
                row = session.execute(
                    select(PrincipalRow, OrganisationRow)
                    .join(OrganisationRow, PrincipalRow.organisation_id == OrganisationRow.id)
                    .where(PrincipalRow.id == principal_id)
                ).one_or_none()
            return None if row is None else _to_principal(row[0], row[1])

        return await asyncio.to_thread(load)


def _iso(value: datetime | None) -> str | None:
    aware = _aware(value)
    return aware.isoformat() if aware else None


def _require_scope(actor: Principal | None, nation: str) -> None:
    """Operators act on every nation, tenant admins on their own; `None` is the local CLI."""
    if actor is None or actor.has_role(Role.OPERATOR):
        return
    if actor.has_role(Role.TENANT_ADMIN) and actor.nation == nation.upper():
        return
    raise DirectoryError(
        f"you may manage only your own nation ({actor.nation})", status=403, code="permission_denied"
    )


def _to_principal(row: PrincipalRow, org: OrganisationRow, credential_id: str | None = None) -> Principal:
    return Principal(
        id=row.id,
        nation=org.nation,
        organisation=org.name,
        agency_kind=AgencyKind(org.agency_kind),
        roles=frozenset(Role(role) for role in row.roles.split(",") if role),
        name=row.name,
        credential_id=credential_id,
    )
