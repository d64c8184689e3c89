"""``accord ledger ...``: export the overseer's bundle, verify one offline, prove an entry, show the
latest checkpoint. Output is JSON; ``verify`` exits 1 and names the first bad entry or checkpoint."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from accord.ledger.verify import DEFAULT_TIME_TOLERANCE, verify_bundle

if TYPE_CHECKING:
    from accord.ledger.log import Ledger

ledger_app = typer.Typer(help="The tamper-evident decision ledger.", no_args_is_help=True)
# `accord report --from … --to …`: the report is the group's own callback, with no subcommand.
report_app = typer.Typer(help="Transparency reports from the ledger.")


def _print(value: object) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


def _fail(message: str) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(1)


def _origin() -> str:
    """The deployment's ``gateway.origin`` (checkpoints name it and the key id covers it)."""
    from accord.config import load_settings
    from accord.deployment import DeploymentError, load_deployment

    path = load_settings().deployment_file
    if not path.exists():
        return "accord"
    try:
        return load_deployment(path).gateway.origin
    except DeploymentError as exc:
        _fail(f"cannot read {path}: {exc}")
        raise  # unreachable: _fail exits


async def _open_ledger() -> Ledger:
    from accord.config import load_settings
    from accord.ledger.log import Ledger

    return await Ledger.open(load_settings(), origin=_origin(), run_sequencer=False)


@ledger_app.command()
def export(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the bundle into.")],
    integrate: Annotated[bool, typer.Option(help="Sequence queued entries and sign first.")] = True,
) -> None:
    """Write the bundle the overseer verifies offline."""
    from accord.ledger.log import LedgerUnavailable

    async def run() -> dict[str, object]:
        ledger = await _open_ledger()
        try:
            if integrate:
                await ledger.integrate_now()
            return await ledger.export(out)
        finally:
            await ledger.close()

    try:
        _print(asyncio.run(run()))
    except LedgerUnavailable as exc:
        _fail(str(exc))


def _vkey(path: Path) -> str:
    """A key file: the vkey itself, or the JSON ``accord ledger public-key`` prints."""
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("{"):
        return str(json.loads(text)["vkey"])
    return text


def _note(path: Path) -> str:
    """A checkpoint file: the signed note itself, or the JSON ``accord ledger checkpoint`` prints."""
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("{"):
        return str(json.loads(text)["note"])
    return text


@ledger_app.command()
def verify(
    path: Annotated[Path, typer.Argument(help="Bundle directory.")],
    public_key: Annotated[
        Path | None, typer.Option(help="The signer's vkey to pin (or `public-key` JSON); recommended.")
    ] = None,
    trusted_checkpoint: Annotated[
        Path | None,
        typer.Option(help="A checkpoint kept from earlier: the note, or `accord ledger checkpoint` JSON."),
    ] = None,
    time_tolerance: Annotated[float, typer.Option(help="Seconds entry times may run backwards.")] = (
        DEFAULT_TIME_TOLERANCE
    ),
) -> None:
    """Verify a bundle offline: signatures, leaves, tree, consistency and time."""
    report = verify_bundle(
        path,
        public_key=_vkey(public_key) if public_key else None,
        trusted_checkpoint=_note(trusted_checkpoint) if trusted_checkpoint else None,
        time_tolerance=time_tolerance,
    )
    _print(report.to_json())
    if not report.ok:
        _fail(f"FAILED: {report.first_problem}")


def _print_proof(make: Callable[[Ledger], Awaitable[dict[str, object]]]) -> None:
    """Open the ledger without a sequencer, print the proof ``make`` builds, close it."""
    from accord.ledger.log import LedgerUnavailable, ProofUnavailable

    async def run() -> dict[str, object]:
        ledger = await _open_ledger()
        try:
            return await make(ledger)
        finally:
            await ledger.close()

    try:
        _print(asyncio.run(run()))
    except (LedgerUnavailable, ProofUnavailable) as exc:
        _fail(str(exc))


@ledger_app.command()
def prove(request_id: Annotated[str, typer.Argument(help="Request id (or entry id).")]) -> None:
    """Print an inclusion proof of one entry against the latest signed checkpoint."""
    _print_proof(lambda ledger: ledger.prove(request_id))


@ledger_app.command()
def consistency(
    old_size: Annotated[int, typer.Argument(help="Tree size of the checkpoint you trust.")],
) -> None:
    """Print a consistency proof from OLD_SIZE to the latest signed checkpoint."""
    _print_proof(lambda ledger: ledger.prove_consistency(old_size))


@ledger_app.command("public-key")
def public_key_command(
    origin: Annotated[
        str | None, typer.Option(help="The ledger's origin; default the deployment's gateway.origin.")
    ] = None,
) -> None:
    """Print the checkpoint verifier key (vkey) and its PEM form, for the overseer to pin."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from accord.config import load_settings
    from accord.ledger.checkpoint import CheckpointSigner
    from accord.ledger.keys import load_signing_key

    key = load_signing_key(load_settings().keys_dir)
    pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    _print({"vkey": CheckpointSigner(key, origin or _origin()).verifier.vkey, "pem": pem})


@ledger_app.command()
def checkpoint() -> None:
    """Print the latest signed checkpoint (JSON; the ``note`` field is the signed text)."""
    from accord.ledger.log import LedgerUnavailable

    async def run() -> dict[str, object] | None:
        ledger = await _open_ledger()
        try:
            latest = await ledger.latest_checkpoint()
            return None if latest is None else latest.to_json()
        finally:
            await ledger.close()

    try:
        latest = asyncio.run(run())
    except LedgerUnavailable as exc:
        _fail(str(exc))
    if latest is None:
        _fail("no checkpoint has been signed yet")
    _print(latest)
    sys.stdout.flush()


class ReportFormat(StrEnum):
    html = "html"
    csv = "csv"
    json = "json"


def _utc(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO 8601 date or time: {text!r}") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@report_app.callback(invoke_without_command=True)
def transparency(
    start: Annotated[str, typer.Option("--from", help="Start (ISO 8601, UTC if no offset), inclusive.")],
    end: Annotated[str, typer.Option("--to", help="End (ISO 8601, UTC if no offset), exclusive.")],
    output_format: Annotated[ReportFormat, typer.Option("--format")] = ReportFormat.html,
    out: Annotated[Path | None, typer.Option("--out", help="File to write; stdout if absent.")] = None,
    nation: Annotated[
        str | None, typer.Option(help="Limit to one nation (a tenant admin's view); default all.")
    ] = None,
) -> None:
    """Requests, refusals and reviews per nation, agency kind and code; spillage and kill switches."""
    from accord.ledger.log import LedgerUnavailable
    from accord.ledger.report import ReportScope, TransparencyReport

    report = TransparencyReport(start=_utc(start), end=_utc(end), scope=ReportScope(nation))

    async def run() -> None:
        ledger = await _open_ledger()
        try:
            report.checkpoint = await ledger.scan(report.visit)
        finally:
            await ledger.close()

    try:
        asyncio.run(run())
    except LedgerUnavailable as exc:
        _fail(str(exc))
    if output_format is ReportFormat.json:
        text = json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"
    elif output_format is ReportFormat.csv:
        text = report.to_csv()
    else:
        text = report.to_html()
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        _print({"path": str(out), "format": output_format.value, "requests": report.totals.requests})
