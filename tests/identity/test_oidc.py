from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from accord.identity.oidc import OIDCProvider, OIDCVerifier, TokenRejected
from accord.principal import AgencyKind, Role

ISSUER = "https://idp.example.nato.int"


def _keypair() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, public.decode()


@pytest.fixture(scope="module")
def keys() -> tuple[rsa.RSAPrivateKey, str]:
    return _keypair()


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": "accord",
        "sub": "user-42",
        "iat": now,
        "exp": now + 300,
        "nation": "deu",
        "organisation": "Bundesamt für Ausrüstung",
        "agency_kind": "civil",
        "roles": ["user", "tenant_admin", "not-a-role"],
    }
    claims.update(overrides)
    return claims


def _verifier(public_pem: str) -> OIDCVerifier:
    return OIDCVerifier([OIDCProvider(issuer=ISSUER, audience="accord", static_keys=(public_pem,))])


def test_valid_token_maps_claims_onto_principal(keys: tuple[rsa.RSAPrivateKey, str]) -> None:
    private, public = keys
    token = jwt.encode(_claims(), private, algorithm="RS256")
    principal = _verifier(public).verify(token)
    assert principal.nation == "DEU"
    assert principal.organisation == "Bundesamt für Ausrüstung"
    assert principal.agency_kind is AgencyKind.CIVIL
    assert principal.roles == frozenset({Role.USER, Role.TENANT_ADMIN})
    assert principal.id.startswith("oidc_") and "user-42" not in principal.id


def test_expired_token_is_rejected(keys: tuple[rsa.RSAPrivateKey, str]) -> None:
    private, public = keys
    token = jwt.encode(_claims(exp=int(time.time()) - 3600), private, algorithm="RS256")
    with pytest.raises(TokenRejected, match="expired"):
        _verifier(public).verify(token)


def test_wrong_audience_is_rejected(keys: tuple[rsa.RSAPrivateKey, str]) -> None:
    private, public = keys
    token = jwt.encode(_claims(aud="another-service"), private, algorithm="RS256")
    with pytest.raises(TokenRejected, match="audience"):
        _verifier(public).verify(token)


def test_wrong_signature_is_rejected(keys: tuple[rsa.RSAPrivateKey, str]) -> None:
    _, public = keys
    impostor, _ = _keypair()
    token = jwt.encode(_claims(), impostor, algorithm="RS256")
    with pytest.raises(TokenRejected, match="signature"):
        _verifier(public).verify(token)


def test_untrusted_issuer_and_unsigned_tokens_are_rejected(keys: tuple[rsa.RSAPrivateKey, str]) -> None:
    private, public = keys
    with pytest.raises(TokenRejected, match="issuer"):
        _verifier(public).verify(jwt.encode(_claims(iss="https://evil.example"), private, algorithm="RS256"))
    unsigned = jwt.encode(_claims(), key=None, algorithm="none")  # type: ignore[arg-type]
    with pytest.raises(TokenRejected):
        _verifier(public).verify(unsigned)


def test_missing_agency_kind_is_rejected(keys: tuple[rsa.RSAPrivateKey, str]) -> None:
    private, public = keys
    token = jwt.encode(_claims(agency_kind="spies"), private, algorithm="RS256")
    with pytest.raises(TokenRejected, match="claim"):
        _verifier(public).verify(token)
