"""Shared fixtures: real PostgreSQL and Redis when they run, a visible skip when they do not.

`ACCORD_REQUIRE_SERVICES=1` (set by `.ci/run`) turns those skips into failures, so CI cannot pass
by quietly skipping the database tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

POSTGRES_ADMIN_URL = os.environ.get(
    "ACCORD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("ACCORD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _unavailable(service: str, error: Exception) -> None:
    reason = f"{service} is not reachable ({type(error).__name__}: {error})"
    if os.environ.get("ACCORD_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}, and ACCORD_REQUIRE_SERVICES=1 requires it")
    pytest.skip(reason)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL to a fresh, empty PostgreSQL database, dropped after the test."""
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"accord_test_{secrets.token_hex(6)}"
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        admin.dispose()
        _unavailable("PostgreSQL", error)
    url = sa.engine.make_url(POSTGRES_ADMIN_URL).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis URL on a test database that is flushed before and after the test."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    except redis.exceptions.RedisError as error:
        client.close()
        _unavailable("Redis", error)
    try:
        yield REDIS_URL
    finally:
        client.flushdb()
        client.close()


# -- a live gateway, started the way an operator starts it ---------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveGateway:
    base_url: str
    home: Path
    log_path: Path
    upstream: object
    keys: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def root(self) -> str:
        return self.base_url.removesuffix("/v1")

    def env(self) -> dict[str, str]:
        return {**os.environ, "ACCORD_HOME": str(self.home)}

    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


LIVE_KEYS = {
    # name: (nation, organisation, agency kind, roles)
    "user": ("USA", "Army Materiel Command", "military", ("user",)),
    "deu_user": ("DEU", "Bundesamt für Ausrüstung", "civil", ("user",)),
    "intel": ("USA", "Defense Intelligence Agency", "intelligence", ("user",)),
    "operator": ("NATO", "NSPA Logistics", "civil", ("operator", "tenant_admin", "overseer")),
    "officer": ("NATO", "NATO Office of Security", "civil", ("security_officer",)),
    "deu_admin": ("DEU", "Bundesamt für Ausrüstung", "civil", ("tenant_admin",)),
    "approver": ("NATO", "NSPA Logistics", "civil", ("security_officer",)),
}


def live_deployment(upstream_url: str) -> str:
    return f"""\
gateway:
  ceiling: NU
  max_body_bytes: 262144
  rate_limit: {{requests_per_minute: 6000, burst: 500}}
models:
  - name: smollm2-135m-instruct
    backend: local
  - name: use-multilingual-v3
    backend: local_embeddings
  - name: fake-chat
    backend: openai_compatible
    base_url: {upstream_url}
    upstream_model: fake-echo
    external: false
  - name: fake-tools
    backend: openai_compatible
    base_url: {upstream_url}
  - name: fake-500
    backend: openai_compatible
    base_url: {upstream_url}
    retries: 0
  - name: fake-slow
    backend: openai_compatible
    base_url: {upstream_url}
    timeout_seconds: 1
  - name: fake-marked
    backend: openai_compatible
    base_url: {upstream_url}
  - name: fake-cloud
    backend: openai_compatible
    base_url: {upstream_url}
    upstream_model: fake-echo
    external: true
  - name: deu-only
    backend: openai_compatible
    base_url: {upstream_url}
    upstream_model: fake-echo
    allowed_nations: [DEU]
  - name: no-tools
    backend: openai_compatible
    base_url: {upstream_url}
    upstream_model: fake-echo
    unsupported_fields: [tools, tool_choice, response_format]
  - name: misconfigured
    backend: openai_compatible
    base_url: {upstream_url}
    api_key_env: ACCORD_TEST_VARIABLE_NEVER_SET
"""


async def _issue_live_keys(home: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    from accord.config import load_settings
    from accord.principal import AgencyKind, Role
    from accord.services import admin_session

    settings = load_settings({**(env or {}), "ACCORD_HOME": str(home)})
    keys: dict[str, str] = {}
    async with admin_session(settings) as session:
        for name, (nation, organisation, kind, roles) in LIVE_KEYS.items():
            created = await session.directory.create_key(
                None,
                nation=nation,
                organisation=organisation,
                agency_kind=AgencyKind(kind),
                roles=frozenset(Role(role) for role in roles),
                name=name,
            )
            keys[name] = created.key
    return keys


@contextlib.contextmanager
def launch_gateway(
    home: Path,
    deployment: str,
    *,
    upstream: object = None,
    extra_env: Mapping[str, str] | None = None,
    issue_keys: bool = True,
    keys: dict[str, str] | None = None,
) -> Iterator[LiveGateway]:
    """Start `accord serve` on a free port the way an operator does; stop it on exit.

    On first use of ``home`` it writes the deployment, runs `accord init --no-demo` and issues the
    `LIVE_KEYS`. Pass ``extra_env`` (e.g. ``ACCORD_DATABASE_URL``, ``ACCORD_REDIS_URL``) to start
    several replicas on shared services; pass ``keys`` to reuse keys issued by an earlier launch.
    """
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **(extra_env or {}), "ACCORD_HOME": str(home)}
    if not (home / "accord.yaml").exists():
        (home / "accord.yaml").write_text(deployment, encoding="utf-8")
        subprocess.run(
            [sys.executable, "-m", "accord", "init", "--no-demo"], env=env, check=True, capture_output=True
        )
    if keys is None:
        keys = asyncio.run(_issue_live_keys(home, env)) if issue_keys else {}
    port = free_port()
    log_path = home / f"gateway-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "accord", "serve", "--port", str(port), "--log-level", "debug"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    gateway = LiveGateway(f"http://127.0.0.1:{port}/v1", home, log_path, upstream, keys, process)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gateway exited early:\n{gateway.logs()}")
            try:
                if httpx.get(f"{gateway.root}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gateway did not start:\n{gateway.logs()}")
            time.sleep(0.1)
        yield gateway
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def live_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    """`accord init` + `accord serve` in a subprocess, in front of a fake upstream on loopback.

    Shared by the whole session: tests must not leave global state behind (kill switches, policy
    bundles). A test that needs such state launches its own gateway with `launch_gateway`.
    """
    from accord.testing.fake_upstream import FakeUpstream

    home = tmp_path_factory.mktemp("accord-home")
    with (
        FakeUpstream() as upstream,
        launch_gateway(home, live_deployment(upstream.base_url), upstream=upstream) as gateway,
    ):
        yield gateway
