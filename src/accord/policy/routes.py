"""Admin endpoints for approvers (reviews) and operators (kill switches, policy bundle)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from accord.api.auth import require_principal
from accord.api.body import read_json
from accord.api.errors import APIError
from accord.policy.engine import PolicyError
from accord.policy.killswitch import KillSwitchError
from accord.policy.reviews import STATUSES, ReviewError, ReviewForbidden, ReviewNotFound
from accord.principal import Role

APPROVERS = (Role.TENANT_ADMIN, Role.SECURITY_OFFICER, Role.OPERATOR)


def _json(payload: object, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


async def _body(request: Request) -> dict[str, Any]:
    data = await read_json(request, empty={})  # at most ADMIN_MAX_BODY_BYTES, else 413
    if not isinstance(data, dict):
        raise APIError(400, "The body must be a JSON object.", code="invalid_json")
    return data


async def list_reviews(request: Request) -> Response:
    principal = await require_principal(request, *APPROVERS)
    status = request.query_params.get("status")
    if status is not None and status not in STATUSES:
        raise APIError(400, f"status must be one of {', '.join(STATUSES)}.", param="status")
    global_view = principal.has_role(Role.SECURITY_OFFICER) or principal.has_role(Role.OPERATOR)
    nation = request.query_params.get("nation") if global_view else principal.nation
    reviews = await request.app.state.services.reviews.list(status=status, nation=nation)
    return _json({"object": "list", "data": [r.to_json() for r in reviews]})


async def _review_for(request: Request) -> tuple[Any, Any]:
    principal = await require_principal(request, *APPROVERS)
    review_id = request.path_params["review_id"]
    try:
        review = await request.app.state.services.reviews.get(review_id)
    except ReviewNotFound as error:
        raise APIError(404, f"No review {review_id}.", code="review_not_found") from error
    global_view = principal.has_role(Role.SECURITY_OFFICER) or principal.has_role(Role.OPERATOR)
    if not global_view and review.nation != principal.nation:
        raise APIError(404, f"No review {review_id}.", code="review_not_found")
    return principal, review


async def get_review(request: Request) -> Response:
    _, review = await _review_for(request)
    return _json(review.to_json())


async def _decide(request: Request, approve: bool) -> Response:
    principal, review = await _review_for(request)
    comment = str((await _body(request)).get("comment", ""))
    queue = request.app.state.services.reviews
    try:
        if approve:
            decided = await queue.approve(review.id, principal, comment)
        else:
            decided = await queue.deny(review.id, principal, comment)
    except ReviewForbidden as error:
        raise APIError(403, str(error), code="review_forbidden") from error
    except ReviewError as error:
        raise APIError(409, str(error), code="review_conflict") from error
    return _json(decided.to_json())


async def approve_review(request: Request) -> Response:
    return await _decide(request, approve=True)


async def deny_review(request: Request) -> Response:
    return await _decide(request, approve=False)


async def list_killswitches(request: Request) -> Response:
    await require_principal(request, Role.OPERATOR, Role.SECURITY_OFFICER)
    board = request.app.state.services.killswitches
    return _json({"object": "list", "data": [s.to_json() for s in board.active()]})


async def engage_killswitch(request: Request) -> Response:
    principal = await require_principal(request, Role.OPERATOR)
    body = await _body(request)
    reason = str(body.get("reason", "")).strip()
    if not reason:
        raise APIError(400, "A reason is required.", param="reason")
    try:
        switch = await request.app.state.services.killswitches.engage(
            str(body.get("scope", "")), str(body.get("target", "")), reason, principal
        )
    except KillSwitchError as error:
        raise APIError(400, str(error), code="invalid_killswitch") from error
    return _json(switch.to_json(), status=201)


async def release_killswitch(request: Request) -> Response:
    principal = await require_principal(request, Role.OPERATOR)
    try:
        switch = await request.app.state.services.killswitches.release(
            request.path_params["switch_id"], principal
        )
    except KillSwitchError as error:
        raise APIError(404, str(error), code="killswitch_not_found") from error
    return _json(switch.to_json())


async def show_policy(request: Request) -> Response:
    await require_principal(request, Role.OPERATOR, Role.SECURITY_OFFICER, Role.OVERSEER)
    engine = request.app.state.services.policy.current
    return _json({"version": engine.version, "source": engine.source, "policy_ids": list(engine.policy_ids)})


async def reload_policy(request: Request) -> Response:
    principal = await require_principal(request, Role.OPERATOR)
    try:
        engine = await request.app.state.services.policy.reload(principal)
    except PolicyError as error:
        raise APIError(
            422, f"Bundle refused; the previous bundle stays in force: {error}", code="policy_bundle_refused"
        ) from error
    return _json({"version": engine.version, "policy_ids": list(engine.policy_ids)})


routes = [
    Route("/admin/reviews", list_reviews, methods=["GET"]),
    Route("/admin/reviews/{review_id}", get_review, methods=["GET"]),
    Route("/admin/reviews/{review_id}/approve", approve_review, methods=["POST"]),
    Route("/admin/reviews/{review_id}/deny", deny_review, methods=["POST"]),
    Route("/admin/killswitches", list_killswitches, methods=["GET"]),
    Route("/admin/killswitches", engage_killswitch, methods=["POST"]),
    Route("/admin/killswitches/{switch_id}", release_killswitch, methods=["DELETE"]),
    Route("/admin/policy", show_policy, methods=["GET"]),
    Route("/admin/policy/reload", reload_policy, methods=["POST"]),
]
