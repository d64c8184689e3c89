"""OIDC bearer tokens from the alliance's identity providers, mapped onto Accord principals."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt

from accord.principal import AgencyKind, Principal, Role


class TokenRejected(Exception):
    """The token is not acceptable; the message is safe to show (it never contains the token)."""


@dataclass(frozen=True, slots=True)
class ClaimMapping:
    subject: str = "sub"
    nation: str = "nation"
    organisation: str = "organisation"
    agency_kind: str = "agency_kind"
    roles: str = "roles"
    name: str = "name"


@dataclass(frozen=True, slots=True)
class OIDCProvider:
    issuer: str
    audience: str
    jwks_url: str | None = None
    static_keys: Sequence[str] = ()  # PEM public keys
    algorithms: Sequence[str] = ("RS256", "ES256", "EdDSA")
    claims: ClaimMapping = field(default_factory=ClaimMapping)
    leeway_seconds: int = 30


class OIDCVerifier:
    """Checks signature, issuer, audience and expiry, then maps claims onto a Principal."""

    def __init__(self, providers: Sequence[OIDCProvider]) -> None:
        self._providers = {provider.issuer: provider for provider in providers}
        self._jwks = {
            provider.issuer: jwt.PyJWKClient(provider.jwks_url, cache_keys=True, lifespan=300)
            for provider in providers
            if provider.jwks_url
        }

    @property
    def enabled(self) -> bool:
        return bool(self._providers)

    def verify(self, token: str) -> Principal:
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as error:
            raise TokenRejected("malformed bearer token") from error
        provider = self._providers.get(str(unverified.get("iss", "")))
        if provider is None:
            raise TokenRejected("token issuer is not trusted")
        claims = self._decode(token, provider)
        return _principal_from_claims(claims, provider)

    def _decode(self, token: str, provider: OIDCProvider) -> dict[str, Any]:
        keys: list[Any] = list(provider.static_keys)
        jwks = self._jwks.get(provider.issuer)
        try:
            if jwks is not None:
                keys.insert(0, jwks.get_signing_key_from_jwt(token).key)
        except jwt.PyJWKClientError as error:
            if not keys:
                raise TokenRejected("signing key not found for token") from error
        last_error: jwt.PyJWTError | None = None
        for key in keys:
            try:
                return jwt.decode(
                    token,
                    key=key,
                    algorithms=list(provider.algorithms),
                    audience=provider.audience,
                    issuer=provider.issuer,
                    leeway=provider.leeway_seconds,
                    options={"require": ["exp", "iss", "aud", "sub"]},
                )
            except jwt.ExpiredSignatureError as error:
                raise TokenRejected("token has expired") from error
            except jwt.InvalidAudienceError as error:
                raise TokenRejected("token audience is not this gateway") from error
            except jwt.PyJWTError as error:
                last_error = error
        raise TokenRejected("token signature or claims are invalid") from last_error


def _principal_from_claims(claims: Mapping[str, Any], provider: OIDCProvider) -> Principal:
    mapping = provider.claims
    try:
        agency_kind = AgencyKind(str(claims[mapping.agency_kind]))
        nation = str(claims[mapping.nation]).upper()
        organisation = str(claims[mapping.organisation])
    except (KeyError, ValueError) as error:
        raise TokenRejected(f"token lacks a valid claim: {error}") from error
    raw_roles = claims.get(mapping.roles, ["user"])
    if isinstance(raw_roles, str):
        raw_roles = raw_roles.split()
    roles = frozenset(Role(role) for role in raw_roles if role in Role._value2member_map_)
    subject = f"{provider.issuer}|{claims[mapping.subject]}"
    principal_id = "oidc_" + hashlib.sha256(subject.encode()).hexdigest()[:24]
    return Principal(
        id=principal_id,
        nation=nation,
        organisation=organisation,
        agency_kind=agency_kind,
        roles=roles or frozenset({Role.USER}),
        name=str(claims.get(mapping.name, "")),
    )
