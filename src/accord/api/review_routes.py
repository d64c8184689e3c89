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
        try:
            body = await services.reviews.claim_for_execution(review_id, principal)
        except ReviewError as error:  # another fetch of the same review got there first
            raise _in_progress(review_id) from error
        try:
            result = await services.pipeline.run_approved(
                request.state.request_id, principal, review.route, body, review_id
            )
        except BaseException:
            # Not carried out (kill switch, upstream failure, marking): the approval stands, retry later.
            await services.reviews.release_claim(review_id)
            raise
        await services.reviews.store_result(review_id, result)
        payload.update(status="completed", result=result)
    elif status == "running":
        raise _in_progress(review_id)
    elif status == "completed":
        payload["result"] = await services.reviews.result(review_id, principal)
    return Response(orjson.dumps(payload), media_type="application/json")


def _in_progress(review_id: str) -> APIError:
    return APIError(
        409,
        f"Review {review_id} is being carried out by another request; fetch it again shortly.",
        code="review_in_progress",
        headers={"retry-after": "1"},
    )


routes = [Route("/v1/accord/reviews/{review_id}", review_result, methods=["GET"])]
