"""Reading request bodies with a size limit, for every route.

The model routes read with the deployment's `gateway.max_body_bytes` (`Pipeline._read_json`). The
administration routes (`/admin/...`) take small JSON objects, so they read with a fixed, smaller
limit: the declared `Content-Length` is checked before anything is read, and the
bytes are counted as they arrive, so a chunked upload cannot get past it either.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from accord.api.errors import APIError

# 128 KiB: far above any admin body. The largest is an incident note or resolution (10,000
# characters), at most ~120,000 bytes even if every character is JSON-escaped as a surrogate pair.
ADMIN_MAX_BODY_BYTES = 128 * 1024


def too_large(limit: int) -> APIError:
    return APIError(
        413,
        f"The request body is larger than this gateway accepts on this route ({limit} bytes).",
        code="request_too_large",
    )


async def read_limited(request: Request, limit: int = ADMIN_MAX_BODY_BYTES) -> bytes:
    """The whole body, or `413 request_too_large` as soon as it is known to exceed ``limit``."""
    length = request.headers.get("content-length")
    if length is not None and length.isascii() and length.isdigit() and int(length) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int = ADMIN_MAX_BODY_BYTES, *, empty: Any = None) -> Any:
    """The body parsed as JSON (413 when too large, `400 invalid_json` when not JSON).

    With ``empty`` given, an empty body stands for that value (e.g. ``{}`` where every field is
    optional).
    """
    raw = await read_limited(request, limit)
    if not raw and empty is not None:
        return empty
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise APIError(400, "The request body is not valid JSON.", code="invalid_json") from error
