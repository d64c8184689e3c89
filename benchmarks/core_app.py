"""Benchmark-only server: the gateway's core path with every protection replaced by a pass-through.

    ACCORD_HOME=... .venv/bin/python benchmarks/core_app.py --port 8081

Same process shape as ``accord serve`` (one uvicorn worker, uvloop, httptools) and the same
`Pipeline`: authentication, rate limit, validation, model resolution, the backend client and the
response rendering. Only the `Protections` object differs: it allows everything, releases output
unheld and records nothing. It exists so the benchmark can show what the protections cost; it lives
in benchmarks/ and the product has no switch that turns protections off.
"""

from __future__ import annotations

import argparse

import uvicorn

from accord.api.auth import authenticate
from accord.api.errors import APIError
from accord.app import create_app
from accord.backends.base import JSON
from accord.config import load_settings
from accord.inspect.text import TextView
from accord.logs import configure_logging
from accord.pipeline import Exchange, Pipeline, Verdict
from accord.ratelimit import RateLimiter
from accord.services import Services


class PassThroughGuard:
    """Releases every character at once and never refuses."""

    async def check(self, view: TextView) -> APIError | None:
        return None

    def push(self, text: str) -> int:
        return len(text)

    def finish(self) -> int:
        return 0

    async def refuse(self) -> APIError:
        raise AssertionError("a pass-through guard never trips")


class PassThroughProtections:
    """Allows every request and records nothing: the benchmark's 'core only' variant."""

    async def admit(self, exchange: Exchange) -> Verdict:
        return Verdict(outcome="allow")

    async def admit_approved(self, exchange: Exchange, review_id: str) -> Verdict:
        return Verdict(outcome="allow")

    def output_guard(self, exchange: Exchange) -> PassThroughGuard:
        return PassThroughGuard()

    async def record(
        self, exchange: Exchange, verdict: Verdict, outcome: str, usage: JSON | None = None
    ) -> None:
        return None


async def serve(host: str, port: int) -> None:
    settings = load_settings()
    services = await Services.start(settings)
    try:
        limits = services.deployment.gateway.rate_limit
        services.pipeline = Pipeline(
            authenticate=authenticate,
            models=services.models,
            protections=PassThroughProtections(),
            rate_limiter=RateLimiter(limits.requests_per_minute, limits.burst),
            max_body_bytes=services.deployment.gateway.max_body_bytes,
        )
        config = uvicorn.Config(
            create_app(settings, services),
            host=host,
            port=port,
            loop="none",  # already on uvloop (below)
            http="httptools",
            log_level="warning",
            access_log=False,
            log_config=None,
        )
        await uvicorn.Server(config).serve()
    finally:
        await services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args()
    configure_logging("warning")
    import uvloop

    uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
