"""The OpenAI-compatible surface. Thin: parse, call the pipeline, render."""

from __future__ import annotations

import time

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from accord.api.auth import authenticate
from accord.api.errors import APIError


def _json(payload: object, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _model_object(name: str, created: int) -> dict[str, object]:
    return {"id": name, "object": "model", "created": created, "owned_by": "accord"}


async def list_models(request: Request) -> Response:
    principal = await authenticate(request)
    services = request.app.state.services
    created = services.started_at
    data = [_model_object(model.name, created) for model in services.models.visible_to(principal)]
    return _json({"object": "list", "data": data})


async def retrieve_model(request: Request) -> Response:
    principal = await authenticate(request)
    services = request.app.state.services
    name = request.path_params["model"]
    model = services.models.config(name)
    if model is None or not services.models.allowed(principal, model):
        raise APIError(
            404,
            f"The model `{name}` does not exist or you do not have access to it.",
            param="model",
            code="model_not_found",
        )
    return _json(_model_object(model.name, services.started_at))


def _pipeline_route(route: str) -> object:
    async def endpoint(request: Request) -> Response:
        return await request.app.state.services.pipeline.handle(request, route)  # type: ignore[no-any-return]

    endpoint.__name__ = f"{route}_endpoint"
    return endpoint


async def health(request: Request) -> Response:
    return _json({"status": "ok", "time": int(time.time())})


routes = [
    Route("/v1/models", list_models, methods=["GET"]),
    Route("/v1/models/{model:path}", retrieve_model, methods=["GET"]),
    Route("/v1/chat/completions", _pipeline_route("chat"), methods=["POST"]),  # type: ignore[arg-type]
    Route("/v1/completions", _pipeline_route("completions"), methods=["POST"]),  # type: ignore[arg-type]
    Route("/v1/embeddings", _pipeline_route("embeddings"), methods=["POST"]),  # type: ignore[arg-type]
    Route("/v1/responses", _pipeline_route("responses"), methods=["POST"]),  # type: ignore[arg-type]
    Route("/healthz", health, methods=["GET"]),
]
