"""The ASGI application: OpenAI routes, admin routes, one pipeline behind them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from accord.api import admin_routes, openai_routes
from accord.api.errors import APIError
from accord.api.middleware import AccessLogSwitch, RequestIdMiddleware, note
from accord.config import Settings, load_settings
from accord.services import Services


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, APIError)
    if exc.code is not None:
        note(request.scope, "code", exc.code)
    return Response(
        orjson.dumps(exc.body()), status_code=exc.status, media_type="application/json", headers=exc.headers
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error = APIError(exc.status_code, str(exc.detail), code="not_found" if exc.status_code == 404 else None)
    if exc.status_code == 405:
        error = APIError(
            405, f"Method {request.method} is not allowed on {request.url.path}.", code="method_not_allowed"
        )
    return await _api_error(request, error)


def create_app(settings: Settings | None = None, services: Services | None = None) -> Starlette:
    """Build the app; `services` is built (and closed) by the app's lifespan unless given."""
    settings = settings or load_settings()
    access = AccessLogSwitch()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services or await Services.start(settings)
        access.enabled = app.state.services.deployment.gateway.access_log
        try:
            yield
        finally:
            if owned:
                await app.state.services.close()

    routes: list[BaseRoute] = [*openai_routes.routes, *admin_routes.routes, *Services.extra_routes()]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={APIError: _api_error, HTTPException: _http_error},
    )
    app.add_middleware(RequestIdMiddleware, access=access)
    return app
