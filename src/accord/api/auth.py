"""Who is calling: an Accord API key or an OIDC bearer token from a trusted identity provider."""

from __future__ import annotations

from starlette.requests import Request

from accord.api.errors import APIError
from accord.api.middleware import note
from accord.identity.directory import CredentialRejected
from accord.identity.keys import PREFIX
from accord.identity.oidc import TokenRejected
from accord.principal import Principal, Role


def _unauthorised(message: str) -> APIError:
    return APIError(401, message, code="invalid_api_key", headers={"www-authenticate": "Bearer"})


async def authenticate(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorised("You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.")
    services = request.app.state.services
    principal: Principal
    if token.startswith(PREFIX):
        try:
            principal = await services.directory.authenticate_key(token)
        except CredentialRejected as error:
            raise _unauthorised(f"Incorrect API key provided: {error}.") from error
    elif services.oidc.enabled:
        try:
            principal = services.oidc.verify(token)
        except TokenRejected as error:
            raise _unauthorised(f"Bearer token rejected: {error}.") from error
    else:
        raise _unauthorised("Incorrect API key provided.")
    note(request.scope, "principal", principal.id)  # the id only: never the key or token
    return principal


async def require_principal(request: Request, *roles: Role) -> Principal:
    """Authenticate, then require at least one of `roles` (none given: any authenticated caller)."""
    principal = await authenticate(request)
    if roles and not any(principal.has_role(role) for role in roles):
        wanted = ", ".join(role.value for role in roles)
        raise APIError(403, f"This needs one of the roles: {wanted}.", code="insufficient_role")
    return principal
