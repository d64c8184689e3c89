"""``accord incidents``: the security officer's console for spillage incidents.

Each command acts as the directory principal named by ``--as`` (the service refuses anyone without
the security_officer role) and records its acts in the ledger, like the HTTP routes. The act
functions take the `Principal` and the service, so they run the same from tests. Output is JSON.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer
from cryptography.hazmat.primitives.asymmetric import x25519

from accord.config import load_settings
from accord.incidents import quarantine
from accord.incidents.errors import IncidentAccessDenied, IncidentError
from accord.incidents.quarantine import QuarantineKeyError
from accord.incidents.records import IncidentStatus
from accord.incidents.service import IncidentService
from accord.ledger.log import LedgerUnavailable
from accord.principal import Principal
from accord.services import admin_session

PASSPHRASE_ENV = "ACCORD_INCIDENT_KEY_PASSPHRASE"


incidents_app = typer.Typer(help="Spillage incidents (security officers only).", no_args_is_help=True)

AsOption = Annotated[str, typer.Option("--as", help="Principal id of the acting security officer.")]


async def list_incidents(
    service: IncidentService, actor: Principal, status: IncidentStatus | None
) -> list[dict[str, Any]]:
    return [incident.to_json() for incident in await service.list(actor, status=status)]


async def show_incident(
    service: IncidentService,
    actor: Principal,
    incident_id: str,
    private_key: x25519.X25519PrivateKey | None = None,
) -> dict[str, Any]:
    shown = (await service.get(incident_id, actor)).to_json()
    if private_key is not None:
        shown["quarantined_text"] = (await service.decrypt(incident_id, private_key, actor)).to_json()
    return shown


@incidents_app.command("list")
def list_command(
    as_: AsOption,
    status: Annotated[IncidentStatus | None, typer.Option(help="Only incidents in this status.")] = None,
) -> None:
    """List incidents, newest first (metadata only)."""
    _emit(lambda service, actor: list_incidents(service, actor, status), as_)


@incidents_app.command("show")
def show_command(
    incident_id: str,
    as_: AsOption,
    decrypt: Annotated[bool, typer.Option(help="Also decrypt the quarantined text (recorded).")] = False,
    key: Annotated[Path | None, typer.Option(help="The security officers' private key (PEM).")] = None,
) -> None:
    """Show one incident; with --decrypt --key, also the quarantined text."""
    if decrypt and key is None:
        _fail("--decrypt needs --key PATH to the security officers' private key")
    private_key = _load_private_key(key) if decrypt and key is not None else None
    _emit(lambda service, actor: show_incident(service, actor, incident_id, private_key), as_)


@incidents_app.command("annotate")
def annotate_command(incident_id: str, text: str, as_: AsOption) -> None:
    """Add a note in your own words (never paste the spilled text)."""
    _emit(lambda service, actor: _json(service.annotate(incident_id, actor, text)), as_)


@incidents_app.command("close")
def close_command(
    incident_id: str,
    as_: AsOption,
    resolution: Annotated[str, typer.Option(help="How the incident was resolved.")],
) -> None:
    """Close an incident with a resolution."""
    _emit(lambda service, actor: _json(service.close(incident_id, actor, resolution)), as_)


@incidents_app.command("purge")
def purge_command(incident_id: str, as_: AsOption) -> None:
    """Destroy the quarantined text for good; the incident record stays."""
    _emit(lambda service, actor: _json(service.purge(incident_id, actor)), as_)


@incidents_app.command("keygen")
def keygen_command(
    out: Annotated[Path, typer.Option(help="Where to write the private key (for the security officers).")],
    passphrase: Annotated[
        str,
        typer.Option(
            prompt="Passphrase for the private key (empty for none)",
            hide_input=True,
            confirmation_prompt=True,
            envvar=PASSPHRASE_ENV,
        ),
    ] = "",
) -> None:
    """Create the quarantine key pair and install the public key in this deployment's keys directory."""
    settings = load_settings()
    public_path = settings.keys_dir / quarantine.PUBLIC_KEY_FILE
    try:
        paths = quarantine.generate_key_pair(out, public_path, passphrase=passphrase.encode() or None)
    except FileExistsError:
        _fail(f"{out} already exists; refusing to overwrite a private key")
    quarantine.ensure_hash_key(settings)
    key_id = quarantine.key_id(quarantine.load_public_key(paths.public_key))
    _print(
        {
            "private_key": str(paths.private_key),
            "public_key": str(paths.public_key),
            "key_id": key_id,
            "passphrase_protected": bool(passphrase),
        }
    )


def _emit(act: Callable[[IncidentService, Principal], Coroutine[Any, Any, Any]], principal_id: str) -> None:
    try:
        result = asyncio.run(_as_principal(act, principal_id))
    except (IncidentError, QuarantineKeyError, LedgerUnavailable) as exc:
        _fail(str(exc))
    _print(result)


async def _as_principal(
    act: Callable[[IncidentService, Principal], Coroutine[Any, Any, Any]], principal_id: str
) -> Any:
    """Run `act` as a principal from the directory, with every admin act recorded in the ledger."""
    settings = load_settings()
    async with admin_session(settings) as session:
        actor = await session.directory.principal(principal_id)
        if actor is None:
            raise IncidentAccessDenied(f"no principal {principal_id} in the directory")
        service = IncidentService.from_settings(settings, session.engine, session.audit, environ={})
        return await act(service, actor)


async def _json(pending: Coroutine[Any, Any, Any]) -> Any:
    return (await pending).to_json()


def _load_private_key(path: Path) -> x25519.X25519PrivateKey:
    passphrase: bytes | None = None
    try:
        encrypted = b"ENCRYPTED" in path.read_bytes()
    except OSError as exc:
        _fail(f"cannot read {path}: {exc.strerror}")
    if encrypted:
        given = os.environ.get(PASSPHRASE_ENV) or typer.prompt("Private key passphrase", hide_input=True)
        passphrase = given.encode()
    try:
        return quarantine.load_private_key(path, passphrase)
    except quarantine.QuarantineKeyError as exc:
        _fail(str(exc))


def _print(value: object) -> None:
    typer.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def _fail(message: str) -> NoReturn:
    typer.echo(orjson.dumps({"error": message}).decode(), err=True)
    raise typer.Exit(1)
