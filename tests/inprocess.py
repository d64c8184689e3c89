"""The real gateway app (`create_app`, wired from a deployment file on SQLite) run in-process in
front of the fake upstream, for tests that need to reach inside it (its services, its log lines)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.types import ASGIApp

from accord.app import create_app
from accord.config import Settings
from accord.principal import AgencyKind, Role
from accord.services import Services, admin_session, bootstrap_home
from accord.testing.fake_upstream import FakeUpstream


def echo_deployment(upstream_url: str, *, access_log: bool = True) -> str:
    """`fake-chat` answers with the prompt (the fake upstream's `fake-echo`), `fake-plain` with a
    fixed sentence; both local to the alliance (`external: false`), so nothing is redacted.
    `fake-deu` is for German tenants only (the issued key is American); `fake-tools`, `fake-truncated`
    and `fake-html` behave as the fake upstream's modes of those names."""
    return f"""\
gateway:
  ceiling: NU
  access_log: {"true" if access_log else "false"}
models:
  - name: fake-chat
    backend: openai_compatible
    base_url: {upstream_url}
    upstream_model: fake-echo
    external: false
  - name: fake-plain
    backend: openai_compatible
    base_url: {upstream_url}
    external: false
  - name: fake-deu
    backend: openai_compatible
    base_url: {upstream_url}
    external: false
    allowed_nations: [DEU]
""" + "".join(
        f"""\
  - name: {mode}
    backend: openai_compatible
    base_url: {upstream_url}
    external: false
"""
        for mode in ("fake-tools", "fake-truncated", "fake-html")
    )


@dataclass
class InProcessGateway:
    client: httpx.AsyncClient
    key: str
    principal_id: str
    app: Starlette
    upstream: FakeUpstream

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.key}"}

    async def chat(self, model: str, text: str, **extra: Any) -> httpx.Response:
        body = {"model": model, "messages": [{"role": "user", "content": text}], **extra}
        return await self.client.post("/v1/chat/completions", json=body, headers=self.auth())


@asynccontextmanager
async def inprocess_gateway(
    home: Path, deployment: Callable[[str], str], wrap: Callable[[ASGIApp], ASGIApp] | None = None
) -> AsyncIterator[InProcessGateway]:
    """``deployment`` gets the fake upstream's base URL and returns the deployment file's text; one
    USA military user key is issued. ``wrap`` puts ASGI middleware around the app."""
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'accord.db'}", redis_url=None)
    with FakeUpstream() as upstream:
        home.mkdir(parents=True, exist_ok=True)
        (home / "accord.yaml").write_text(deployment(upstream.base_url), encoding="utf-8")
        await bootstrap_home(settings, demo=False)
        async with admin_session(settings) as session:
            created = await session.directory.create_key(
                None,
                nation="USA",
                organisation="Army Materiel Command",
                agency_kind=AgencyKind.MILITARY,
                roles=frozenset({Role.USER}),
                name="user",
            )
        app = create_app(settings)
        transport = httpx.ASGITransport(app=wrap(app) if wrap else app, client=("10.1.2.3", 4567))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://accord.test") as client,
        ):
            yield InProcessGateway(client, created.key, created.principal.id, app, upstream)
