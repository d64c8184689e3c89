from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.audit import MemoryAudit
from accord.identity.directory import CredentialRejected, Directory, DirectoryError, nation_code
from accord.identity.tables import ApiKeyRow, NationRow
from accord.principal import AgencyKind, Principal, Role
from accord.store.database import create_engine_for, migrate


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/accord.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def directory(database_url: str) -> Directory:
    migrate(database_url)
    return Directory(create_engine_for(database_url), MemoryAudit(), cache_ttl=0.0)


def _admin(nation: str) -> Principal:
    return Principal(
        id="prn_admin",
        nation=nation,
        organisation="MoD",
        agency_kind=AgencyKind.MILITARY,
        roles=frozenset({Role.TENANT_ADMIN}),
    )


async def test_key_authenticates_to_its_principal(directory: Directory) -> None:
    created = await directory.create_key(
        None,
        nation="pol",
        organisation="Agencja Uzbrojenia",
        agency_kind=AgencyKind.MILITARY,
        roles=frozenset({Role.USER}),
        name="clerk",
    )
    principal = await directory.authenticate_key(created.key)
    assert principal.nation == "POL"
    assert principal.organisation == "Agencja Uzbrojenia"
    assert principal.agency_kind is AgencyKind.MILITARY
    assert principal.credential_id == created.key_id
    with Session(directory._engine) as session:
        stored = session.execute(select(ApiKeyRow.secret_hash)).scalar_one()
    assert created.key.split("_", 2)[2] not in stored


async def test_wrong_secret_revoked_and_expired_keys_are_rejected(directory: Directory) -> None:
    created = await directory.create_key(
        None,
        nation="FRA",
        organisation="DMAé",
        agency_kind=AgencyKind.MILITARY,
        roles=frozenset({Role.USER}),
        name="a",
    )
    with pytest.raises(CredentialRejected):
        await directory.authenticate_key(created.key[:-1] + ("A" if created.key[-1] != "A" else "B"))
    await directory.revoke_key(None, created.key_id)
    with pytest.raises(CredentialRejected):
        await directory.authenticate_key(created.key)
    expired = await directory.create_key(
        None,
        nation="FRA",
        organisation="DMAé",
        agency_kind=AgencyKind.MILITARY,
        roles=frozenset({Role.USER}),
        name="b",
        expires_at=datetime.now(UTC) - timedelta(seconds=1),
    )
    with pytest.raises(CredentialRejected, match="expired"):
        await directory.authenticate_key(expired.key)


async def test_tenant_admin_manages_only_own_nation(directory: Directory) -> None:
    admin = _admin("DEU")
    created = await directory.create_key(
        admin,
        nation="DEU",
        organisation="BAAINBw",
        agency_kind=AgencyKind.CIVIL,
        roles=frozenset({Role.USER}),
        name="x",
    )
    assert created.principal.nation == "DEU"
    with pytest.raises(DirectoryError) as refused:
        await directory.create_key(
            admin,
            nation="FRA",
            organisation="DGA",
            agency_kind=AgencyKind.CIVIL,
            roles=frozenset({Role.USER}),
            name="y",
        )
    assert refused.value.status == 403
    with pytest.raises(DirectoryError):
        await directory.create_key(
            admin,
            nation="DEU",
            organisation="BAAINBw",
            agency_kind=AgencyKind.CIVIL,
            roles=frozenset({Role.OPERATOR}),
            name="escalation",
        )
    other = await directory.create_key(
        None,
        nation="FRA",
        organisation="DGA",
        agency_kind=AgencyKind.CIVIL,
        roles=frozenset({Role.USER}),
        name="z",
    )
    with pytest.raises(DirectoryError):
        await directory.revoke_key(admin, other.key_id)
    listed = await directory.list_principals(admin, "FRA")
    assert {row["nation"] for row in listed} == {"DEU"}


async def test_management_acts_are_audited(directory: Directory) -> None:
    audit = directory._audit
    assert isinstance(audit, MemoryAudit)
    created = await directory.create_key(
        None,
        nation="ITA",
        organisation="Segredifesa",
        agency_kind=AgencyKind.MILITARY,
        roles=frozenset({Role.USER}),
        name="k",
    )
    await directory.revoke_key(None, created.key_id)
    assert [act[1] for act in audit.acts] == ["key.create", "key.revoke"]
    assert all(created.key not in str(act) for act in audit.acts)


async def test_organisation_agency_kind_conflict(directory: Directory) -> None:
    await directory.create_organisation(None, "USA", "DLA", AgencyKind.MILITARY)
    with pytest.raises(DirectoryError) as conflict:
        await directory.create_organisation(None, "USA", "DLA", AgencyKind.INTELLIGENCE)
    assert conflict.value.status == 409


async def _key(directory: Directory, nation: str, organisation: str) -> None:
    await directory.create_key(
        None,
        nation=nation,
        organisation=organisation,
        agency_kind=AgencyKind.CIVIL,
        roles=frozenset({Role.USER}),
        name="k",
    )


def _nations(directory: Directory) -> set[str]:
    with Session(directory._engine) as session:
        return set(session.execute(select(NationRow.code)).scalars())


@pytest.mark.parametrize("code", ["D1", "D2", "X1Y", "", "   ", "DEÜ", "ABCDEFGHIJKLMNOPQ"])
async def test_no_path_creates_a_nation_the_nation_rule_refuses(directory: Directory, code: str) -> None:
    with pytest.raises(DirectoryError) as explicit:
        await directory.create_nation(None, code, "x")
    with pytest.raises(DirectoryError) as with_key:
        await _key(directory, code, "Bundeswehr")
    with pytest.raises(DirectoryError) as with_organisation:
        await directory.create_organisation(None, code, "Bundeswehr", AgencyKind.CIVIL)
    assert explicit.value.message == with_key.value.message == with_organisation.value.message
    assert explicit.value.status == 400 and explicit.value.code == "invalid_request"
    assert _nations(directory) == set()
    audit = directory._audit
    assert isinstance(audit, MemoryAudit) and audit.acts == []  # refused before anything is recorded
    assert nation_code(" nato ") == "NATO"


@pytest.mark.parametrize("name", ["", "   ", "\t", "x" * 201])
async def test_organisation_names_must_not_be_blank(directory: Directory, name: str) -> None:
    with pytest.raises(DirectoryError) as refused:
        await _key(directory, "DEU", name)
    assert refused.value.status == 400
    with pytest.raises(DirectoryError):
        await directory.create_organisation(None, "DEU", name, AgencyKind.CIVIL)
    assert _nations(directory) == set()


async def test_organisation_names_are_trimmed(directory: Directory) -> None:
    await _key(directory, "deu", "  Bundeswehr ")
    (principal,) = await directory.list_principals(None, "DEU")
    assert principal["organisation"] == "Bundeswehr"
    created = await directory.create_organisation(None, "DEU", "Bundeswehr\n", AgencyKind.CIVIL)
    assert created["name"] == "Bundeswehr"
