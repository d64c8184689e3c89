"""``accord policy``, ``accord reviews`` and ``accord killswitch``: every act runs as a named
principal from the directory and is recorded in the ledger, as it would be over HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, NoReturn

import typer

from accord.config import load_settings
from accord.policy.engine import PolicyEngine, PolicyError, default_bundle_dir
from accord.policy.killswitch import KillSwitchBoard, KillSwitchError
from accord.policy.reviews import ReviewError, ReviewQueue
from accord.principal import Principal

policy_app = typer.Typer(no_args_is_help=True)
reviews_app = typer.Typer(no_args_is_help=True)
killswitch_app = typer.Typer(no_args_is_help=True)

DIR_ARGUMENT = typer.Argument(None, help="Bundle directory (default: the packaged one).")
AS_OPTION = typer.Option(..., "--as", help="Principal id you act as (must exist in the directory).")


def _print(value: object) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


def _fail(message: str) -> NoReturn:
    typer.echo(json.dumps({"error": message}), err=True)
    raise typer.Exit(1)


@policy_app.command("validate")
def validate(directory: Path | None = DIR_ARGUMENT) -> None:
    """Load and validate a bundle exactly as the gateway would; exit 1 with the file at fault."""
    try:
        engine = PolicyEngine.load(directory)
    except PolicyError as exc:
        _fail(str(exc))
    _print({"valid": True, "version": engine.version, "policy_ids": list(engine.policy_ids)})


@policy_app.command("show")
def show() -> None:
    """The bundle this home would load: its source, version and policy ids."""
    settings = load_settings()
    source = settings.policy_dir if settings.policy_dir.is_dir() else default_bundle_dir()
    try:
        engine = PolicyEngine.load(source)
    except PolicyError as exc:
        _fail(str(exc))
    _print({"source": str(source), "version": engine.version, "policy_ids": list(engine.policy_ids)})


async def _as_principal(act: Callable[[Any, Principal], Coroutine[Any, Any, Any]], principal_id: str) -> Any:
    from accord.services import admin_session

    settings = load_settings()
    async with admin_session(settings) as session:
        actor = await session.directory.principal(principal_id)
        if actor is None:
            raise ReviewError(f"no principal {principal_id} in the directory")
        return await act(session, actor)


def _run(act: Callable[[Any, Principal], Coroutine[Any, Any, Any]], principal_id: str) -> None:
    try:
        result = asyncio.run(_as_principal(act, principal_id))
    except (ReviewError, KillSwitchError) as exc:
        _fail(str(exc))
    _print(result)


def _queue(session: Any) -> ReviewQueue:
    return ReviewQueue(session.engine, session.settings, session.audit)


def _board(session: Any) -> KillSwitchBoard:
    return KillSwitchBoard(session.engine, session.audit, redis_url=session.settings.redis_url)


@reviews_app.command("list")
def reviews_list(
    principal_id: str = AS_OPTION,
    status: str | None = typer.Option(None, help="pending, approved, denied, completed or expired"),
    nation: str | None = typer.Option(None),
) -> None:
    async def act(session: Any, actor: Principal) -> Any:
        return [r.to_json() for r in await _queue(session).list(status=status, nation=nation)]

    _run(act, principal_id)


@reviews_app.command("show")
def reviews_show(review_id: str, principal_id: str = AS_OPTION) -> None:
    async def act(session: Any, actor: Principal) -> Any:
        return (await _queue(session).get(review_id)).to_json()

    _run(act, principal_id)


@reviews_app.command("approve")
def reviews_approve(review_id: str, principal_id: str = AS_OPTION, comment: str = typer.Option(...)) -> None:
    async def act(session: Any, actor: Principal) -> Any:
        return (await _queue(session).approve(review_id, actor, comment)).to_json()

    _run(act, principal_id)


@reviews_app.command("deny")
def reviews_deny(review_id: str, principal_id: str = AS_OPTION, comment: str = typer.Option(...)) -> None:
    async def act(session: Any, actor: Principal) -> Any:
        return (await _queue(session).deny(review_id, actor, comment)).to_json()

    _run(act, principal_id)


@killswitch_app.command("engage")
def killswitch_engage(
    scope: str = typer.Option(..., help="global, model, nation or organisation"),
    target: str = typer.Option("", help="model name, nation code or organisation"),
    reason: str = typer.Option(...),
    principal_id: str = AS_OPTION,
) -> None:
    async def act(session: Any, actor: Principal) -> Any:
        return (await _board(session).engage(scope, target, reason, actor)).to_json()

    _run(act, principal_id)


@killswitch_app.command("release")
def killswitch_release(switch_id: str, principal_id: str = AS_OPTION) -> None:
    async def act(session: Any, actor: Principal) -> Any:
        return (await _board(session).release(switch_id, actor)).to_json()

    _run(act, principal_id)


@killswitch_app.command("list")
def killswitch_list(principal_id: str = AS_OPTION) -> None:
    async def act(session: Any, actor: Principal) -> Any:
        board = _board(session)
        await asyncio.to_thread(board.refresh)
        return [s.to_json() for s in board.active()]

    _run(act, principal_id)
