"""Where a caller whose request was parked for review fetches its answer once a human approved it."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from accord.api.auth import authenticate
from accord.api.errors import APIError
from accord.policy.reviews import ReviewError


async def review_result(request: Request) -> Response:
    principal = await authenticate(request)
    services = request.app.state.services
    review_id = request.path_params["review_id"]
    try:
        review = await services.reviews.get(review_id)
    except ReviewError as error:
        raise APIError(404, f"No review {review_id}.", code="review_not_found") from error
    if review.principal_id != principal.id:
        raise APIError(404, f"No review {review_id}.", code="review_not_found")
    status = review.status
    payload: dict[str, object] = {
        "id": review.id,
        "object": "accord.review",
        "status": status,
        "route": review.route,
        "model": review.model,
        "codes": list(review.codes),
        "comment": review.comment,
        "result": None,
    }
    if status == "approved":
        body = await services.reviews.claim_for_execution(review_id, principal)
        result = await services.pipeline.run_approved(
            request.state.request_id, principal, review.route, body, review_id
        )
        await services.reviews.store_result(review_id, result)
        payload.update(status="completed", result=result)
    elif status == "completed":
        payload["result"] = await services.reviews.result(review_id, principal)
    return Response(orjson.dumps(payload), media_type="application/json")


routes = [Route("/v1/accord/reviews/{review_id}", review_result, methods=["GET"])]
