from __future__ import annotations

import asyncio
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from accord.audit import MemoryAudit
from accord.config import Settings, load_settings
from accord.incidents.cli import PASSPHRASE_ENV, incidents_app
from accord.incidents.quarantine import PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, ensure_quarantine_keys
from accord.incidents.service import IncidentService
from accord.principal import AgencyKind, Role
from accord.services import admin_session

from .test_service import SPILLED, open_spill


@dataclass
class Console:
    home: Path
    officer_id: str
    user_id: str
    incident_id: str
    runner: CliRunner

    def run(self, *args: str, passphrase: str = "") -> Any:
        env = {"ACCORD_HOME": str(self.home), PASSPHRASE_ENV: passphrase}
        result = self.runner.invoke(incidents_app, list(args), env=env)
        if result.exit_code != 0:
            return {"exit_code": result.exit_code, "stderr": result.stderr}
        return orjson.loads(result.stdout)


async def _populate(settings: Settings) -> tuple[str, str, str]:
    async with admin_session(settings) as session:
        await session.directory.create_nation(None, "NOR", "Norway")
        await session.directory.create_organisation(None, "NOR", "FOH", AgencyKind.MILITARY)
        officer = await session.directory.create_key(
            None,
            nation="NOR",
            organisation="FOH",
            agency_kind=AgencyKind.MILITARY,
            roles=frozenset({Role.SECURITY_OFFICER}),
            name="officer",
        )
        user = await session.directory.create_key(
            None,
            nation="NOR",
            organisation="FOH",
            agency_kind=AgencyKind.MILITARY,
            roles=frozenset({Role.USER}),
            name="user",
        )
        service = IncidentService.from_settings(settings, session.engine, MemoryAudit(), environ={})
        incident = await open_spill(service, user.principal)
        return officer.principal.id, user.principal.id, incident.id


@pytest.fixture
def console(tmp_path: Path) -> Console:
    settings = load_settings({"ACCORD_HOME": str(tmp_path)})
    ensure_quarantine_keys(settings)
    officer_id, user_id, incident_id = asyncio.run(_populate(settings))
    return Console(settings.home, officer_id, user_id, incident_id, CliRunner())


def test_officer_lists_shows_and_decrypts(console: Console) -> None:
    [listed] = console.run("list", "--as", console.officer_id, "--status", "open")
    assert listed["id"] == console.incident_id

    shown = console.run("show", console.incident_id, "--as", console.officer_id)
    assert shown["marking"] == "SECRET//NOFORN" and "quarantined_text" not in shown

    key = console.home / "keys" / PRIVATE_KEY_FILE
    decrypted = console.run(
        "show", console.incident_id, "--as", console.officer_id, "--decrypt", "--key", str(key)
    )
    assert decrypted["quarantined_text"]["segments"][1]["text"] == SPILLED


def test_officer_annotates_closes_and_purges(console: Console) -> None:
    noted = console.run("annotate", console.incident_id, "Spoke to the user.", "--as", console.officer_id)
    assert noted["status"] == "investigating" and noted["notes"][0]["text"] == "Spoke to the user."
    closed = console.run(
        "close", console.incident_id, "--resolution", "Contained.", "--as", console.officer_id
    )
    assert closed["status"] == "closed"
    purged = console.run("purge", console.incident_id, "--as", console.officer_id)
    assert purged["status"] == "purged" and purged["quarantined"] is False


def test_users_and_strangers_are_refused(console: Console) -> None:
    refused = console.run("show", console.incident_id, "--as", console.user_id)
    assert refused["exit_code"] == 1 and "not a security officer" in refused["stderr"]
    unknown = console.run("list", "--as", "prn_nobody")
    assert unknown["exit_code"] == 1 and "no principal" in unknown["stderr"]


def test_decrypt_needs_a_key(console: Console) -> None:
    refused = console.run("show", console.incident_id, "--as", console.officer_id, "--decrypt")
    assert refused["exit_code"] == 1 and "--key" in refused["stderr"]


def test_keygen_writes_a_protected_private_key_and_installs_the_public_key(console: Console) -> None:
    out = console.home / "officers" / "quarantine.pem"
    created = console.run("keygen", "--out", str(out), passphrase="s3cret")
    assert created["passphrase_protected"] is True
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert Path(created["public_key"]) == console.home / "keys" / PUBLIC_KEY_FILE
    # Blobs sealed before the rotation open only with the key of their time.
    wrong = console.run(
        "show",
        console.incident_id,
        "--as",
        console.officer_id,
        "--decrypt",
        "--key",
        str(out),
        passphrase="s3cret",
    )
    assert wrong["exit_code"] == 1 and "wrong private key" in wrong["stderr"]
    again = console.run("keygen", "--out", str(out), passphrase="other")
    assert again["exit_code"] == 1 and "refusing to overwrite" in again["stderr"]
