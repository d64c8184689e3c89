"""The `accord` command: set up a home, serve the gateway, manage keys, models and the ledger."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shlex
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from accord.config import Settings, load_settings
from accord.deployment import (
    DEFAULT_DEPLOYMENT,
    Deployment,
    DeploymentError,
    describe_yaml_error,
    load_deployment,
    parse_deployment,
)
from accord.identity.directory import MAX_KEY_LIFETIME_DAYS
from accord.principal import AgencyKind, Role

T = TypeVar("T")

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
keys_app = typer.Typer(no_args_is_help=True, help="Issue and revoke API keys.")
models_app = typer.Typer(no_args_is_help=True, help="Declare the models Accord serves.")
app.add_typer(keys_app, name="keys")
app.add_typer(models_app, name="models")


def _run(factory: Callable[[Settings], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(factory(load_settings()))


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=code)


# -- init -------------------------------------------------------------------------------------

DEMO_NATIONS = {
    "NATO": "North Atlantic Treaty Organization",
    "USA": "United States of America",
    "DEU": "Germany",
    "FRA": "France",
    "POL": "Poland",
}
DEMO_ORGANISATIONS = [
    ("NATO", "NSPA Logistics", AgencyKind.CIVIL),
    ("USA", "Army Materiel Command", AgencyKind.MILITARY),
    ("USA", "Defense Intelligence Agency", AgencyKind.INTELLIGENCE),
    ("DEU", "Bundesamt für Ausrüstung", AgencyKind.CIVIL),
    ("DEU", "Bundespolizei", AgencyKind.LAW_ENFORCEMENT),
    ("FRA", "Direction de la maintenance aéronautique", AgencyKind.MILITARY),
    ("POL", "Agencja Uzbrojenia", AgencyKind.MILITARY),
    ("POL", "Logistics Contractor sp. z o.o.", AgencyKind.CONTRACTOR),
]


@app.command()
def init(
    demo: Annotated[bool, typer.Option(help="Create a demo alliance on an empty directory.")] = True,
) -> None:
    """Create ACCORD_HOME (config, keys, database), migrate, and on first use create a demo alliance."""
    from accord.services import bootstrap_home

    settings = load_settings()
    created = asyncio.run(bootstrap_home(settings, demo=demo))
    typer.echo(f"Accord home: {settings.home}")
    typer.echo(f"Database:    {_safe_url(settings.database_url)}")
    if not created:
        typer.echo("Directory already set up; demo keys were shown when it was created.")
        typer.echo(
            "Create another key with: accord keys create --nation N --organisation O "
            "--agency-kind K --role user"
        )
        return
    admin_key, user_key = created
    host = os.environ.get("ACCORD_HOST", "127.0.0.1")
    port = os.environ.get("ACCORD_PORT", "8080")
    base = f"http://{host}:{port}/v1"
    typer.echo("")
    typer.echo("Demo alliance created. These keys are shown ONCE; Accord stores only their hashes.")
    typer.echo(f"  operator key (NATO, all admin roles): {admin_key}")
    typer.echo(f"  user key (USA, Army Materiel Command): {user_key}")
    typer.echo("")
    typer.echo("Call it with curl:")
    prompt = "Draft a two-line note confirming Tuesday's fuel delivery."
    payload = {"model": "smollm2-135m-instruct", "messages": [{"role": "user", "content": prompt}]}
    curl = ["curl", "-s", f"{base}/chat/completions", "-H", f"Authorization: Bearer {user_key}"]
    curl += ["-H", "Content-Type: application/json", "-d", json.dumps(payload)]
    typer.echo("  " + shlex.join(curl))
    typer.echo("")
    typer.echo("or with the openai Python client:")
    typer.echo(
        "  from openai import OpenAI\n"
        f'  client = OpenAI(base_url="{base}", api_key="{user_key}")\n'
        '  stream = client.chat.completions.create(model="smollm2-135m-instruct", stream=True,\n'
        '      messages=[{"role": "user", "content": "Summarise: convoy leaves at 06:00."}])\n'
        "  for chunk in stream:\n"
        '      print(chunk.choices[0].delta.content or "", end="") if chunk.choices else None'
    )


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# -- serve ------------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str, typer.Option(envvar="ACCORD_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="ACCORD_PORT", min=1, max=65535)] = 8080,
    log_level: Annotated[str, typer.Option()] = "info",
) -> None:
    """Serve the gateway (one process; run more replicas behind a load balancer to scale)."""
    import uvicorn

    from accord.app import create_app
    from accord.logs import configure_logging

    settings = load_settings()
    _check_before_serving(settings)
    configure_logging(log_level)
    typer.echo(f"Accord serving on http://{host}:{port}/v1 (Ctrl-C to stop)")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        log_level=log_level,
        access_log=False,
        log_config=None,
    )


def _deployment_or_fail(settings: Settings, load: Callable[[Settings], Deployment]) -> Deployment:
    """The deployment ``load`` reads, or one line naming what is wrong (never a value from the file)."""
    try:
        return load(settings)
    except DeploymentError as error:
        _fail(str(error))
    except UnicodeDecodeError:
        _fail(f"{settings.deployment_file}: not UTF-8 text")
    except OSError as error:
        _fail(f"{error.filename or settings.deployment_file}: {error.strerror or type(error).__name__}")


def _check_before_serving(settings: Settings) -> None:
    """Refuse, in one line and with status 2, what would otherwise fail inside the server's
    start-up, where the error would be logged with its traceback (and its values)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from accord.services import load_deployment_or_default

    try:
        make_url(settings.database_url)
    except ArgumentError:
        _fail("ACCORD_DATABASE_URL is not a database URL")  # not shown: it may hold a password
    _deployment_or_fail(settings, load_deployment_or_default)


# -- keys -------------------------------------------------------------------------------------


@keys_app.command("create")
def keys_create(
    nation: Annotated[str, typer.Option(help="ISO 3166 alpha-3 code or an alliance body, e.g. NATO")],
    organisation: Annotated[str, typer.Option()],
    agency_kind: Annotated[AgencyKind, typer.Option("--agency-kind")],
    role: Annotated[list[Role], typer.Option(help="Repeat for several roles.")],
    name: Annotated[str, typer.Option()] = "api key",
    expires_in_days: Annotated[
        int | None,
        typer.Option(
            min=1, max=MAX_KEY_LIFETIME_DAYS, help=f"Key lifetime, at most {MAX_KEY_LIFETIME_DAYS} days."
        ),
    ] = None,
) -> None:
    """Create a principal with a new key (creating its nation and organisation if needed)."""
    from accord.identity.directory import DirectoryError
    from accord.services import admin_session

    expires_at = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None

    async def create(settings: Settings) -> Any:
        async with admin_session(settings) as session:
            return await session.directory.create_key(
                None,
                nation=nation,
                organisation=organisation,
                agency_kind=agency_kind,
                roles=frozenset(role),
                name=name,
                expires_at=expires_at,
            )

    try:
        created = _run(create)
    except DirectoryError as error:
        _fail(error.message, code=1)
    typer.echo(f"key id:    {created.key_id}")
    typer.echo(
        f"principal: {created.principal.id} ({created.principal.nation}/{created.principal.organisation}, "
        f"{created.principal.agency_kind.value}, {','.join(sorted(created.principal.roles))})"
    )
    typer.echo(created.key)


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke a key; replicas stop accepting it within seconds."""
    from accord.identity.directory import DirectoryError
    from accord.services import admin_session

    async def revoke(settings: Settings) -> None:
        async with admin_session(settings) as session:
            await session.directory.revoke_key(None, key_id)

    try:
        _run(revoke)
    except DirectoryError as error:
        _fail(error.message, code=1)
    typer.echo(f"revoked {key_id}")


@keys_app.command("list")
def keys_list(nation: Annotated[str | None, typer.Option()] = None) -> None:
    """List principals and their keys (never the keys themselves) as JSON."""
    from accord.identity.directory import DirectoryError
    from accord.services import admin_session

    async def listing(settings: Settings) -> Any:
        async with admin_session(settings) as session:
            return await session.directory.list_principals(None, nation)

    try:
        principals = _run(listing)
    except DirectoryError as error:
        _fail(error.message, code=1)
    typer.echo(json.dumps(principals, indent=2))


# -- models -----------------------------------------------------------------------------------


@models_app.command("add")
def models_add(
    name: str,
    backend: Annotated[str, typer.Option()] = "openai_compatible",
    base_url: Annotated[str | None, typer.Option("--base-url")] = None,
    api_key_env: Annotated[str | None, typer.Option("--api-key-env")] = None,
    api_key_file: Annotated[Path | None, typer.Option("--api-key-file")] = None,
    upstream_model: Annotated[str | None, typer.Option("--upstream-model")] = None,
    allow_nation: Annotated[list[str] | None, typer.Option("--allow-nation")] = None,
    external: Annotated[bool | None, typer.Option("--external/--internal")] = None,
) -> None:
    """Register a model in the deployment file (every tenant may use it unless --allow-nation is given)."""
    from ruamel.yaml.error import YAMLError

    settings = load_settings()
    path = settings.deployment_file
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else DEFAULT_DEPLOYMENT
    except UnicodeDecodeError:
        _fail(f"{path}: not UTF-8 text")
    except OSError as error:
        _fail(f"{path}: {error.strerror or type(error).__name__}")
    # Round-trip YAML: the operator's comments, order and quoting survive the edit.
    editor = YAML()
    editor.indent(mapping=2, sequence=4, offset=2)
    editor.width = 110
    try:
        data = editor.load(text) or CommentedMap()
    except YAMLError as error:
        _fail(describe_yaml_error(str(path), error))
    if not isinstance(data, CommentedMap) or not isinstance(data.get("models") or [], list):
        _fail(f"{path}: expected a mapping with a `models` list")
    models = data.get("models")
    if models is None:
        models = data["models"] = CommentedSeq()
    entry = CommentedMap(name=name, backend=backend)
    for key, value in (
        ("base_url", base_url),
        ("api_key_env", api_key_env),
        ("api_key_file", str(api_key_file) if api_key_file else None),
        ("upstream_model", upstream_model),
        ("external", external),
    ):
        if value is not None:
            entry[key] = value
    if allow_nation:
        entry["allowed_nations"] = [code.upper() for code in allow_nation]
    same = [
        index for index, model in enumerate(models) if isinstance(model, dict) and model.get("name") == name
    ]
    if same:
        models[same[0]] = entry  # replaced where it was
        for index in reversed(same[1:]):
            del models[index]
    else:
        models.append(entry)
    buffer = io.StringIO()
    editor.dump(data, buffer)
    new_text = buffer.getvalue()
    try:
        parse_deployment(new_text, source=str(path))
    except DeploymentError as error:
        _fail(str(error))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new_text, encoding="utf-8")
    typer.echo(f"model {name} registered in {path}; restart the gateway (or its replicas) to serve it")


@models_app.command("list")
def models_list() -> None:
    """Show the models of the deployment file as JSON (credentials are never inline)."""
    settings = load_settings()
    deployment = _deployment_or_fail(settings, lambda s: load_deployment(s.deployment_file))
    typer.echo(
        json.dumps(
            [model.model_dump(mode="json", exclude_defaults=True) for model in deployment.models], indent=2
        )
    )


def _mount_subcommands() -> None:
    from accord.incidents.cli import incidents_app
    from accord.inspect_cli import inspect_command
    from accord.ledger.cli import ledger_app, report_app
    from accord.policy.cli import killswitch_app, policy_app, reviews_app

    app.add_typer(ledger_app, name="ledger", help="Export, verify and prove the decision ledger.")
    app.add_typer(report_app, name="report", help="Transparency reports.")
    app.add_typer(policy_app, name="policy", help="Validate and inspect the policy bundle.")
    app.add_typer(reviews_app, name="reviews", help="Approve or deny parked requests.")
    app.add_typer(killswitch_app, name="killswitch", help="Switch off a model, a tenant or everything.")
    app.add_typer(incidents_app, name="incidents", help="Spillage incidents (security officers).")
    app.command("inspect")(inspect_command)


_mount_subcommands()


def main() -> None:
    app()
