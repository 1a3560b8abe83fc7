"""Keycloak realms and roles; Amazon Cognito access tokens, which have no aud."""

from __future__ import annotations

import time
from typing import Any

import pytest

from audmw import ConfigurationError, Settings, TokenValidator
from audmw.requirements import Requirement
from audmw.testing import LocalIssuer
from audmw.testing.issuer import sign_compact

from .conftest import MakeValidator, refusal

KEYCLOAK_ISSUER = "https://sso.example.com/realms/shop"
API_CLIENT = "orders-api.v2"
POOL = "eu-west-1_AbCdEf123"
COGNITO_ISSUER = f"https://cognito-idp.eu-west-1.amazonaws.com/{POOL}"
APP_CLIENT = "5r2k8v1n9q3m7c4x6b0z1a2s3d"


def keycloak_token(issuer: LocalIssuer, **claims: Any) -> str:
    shape: dict[str, Any] = {
        "iss": KEYCLOAK_ISSUER,
        "aud": [API_CLIENT, "account"],
        "sub": "f0c1d2e3-a4b5-4c6d-8e7f-9a0b1c2d3e4f",
        "azp": "web-shop",
        "scope": "openid profile email",
        "realm_access": {"roles": ["offline_access", "customer"]},
        "resource_access": {
            API_CLIENT: {"roles": ["orders:admin"]},
            "account": {"roles": ["manage-account"]},
        },
        "client_id": None,
        "sid": "c0ffee00-0000-4000-8000-000000000000",
    }
    shape.update(claims)
    # Keycloak also puts typ "Bearer" in the body, which mint() reserves for the header.
    now = int(time.time())
    payload = {"exp": now + 300, "iat": now, "jti": "onrtac:1b2c", **shape, "typ": "Bearer"}
    payload = {name: value for name, value in payload.items() if value is not None}
    key = issuer.key_for("RS256")
    return sign_compact({"alg": "RS256", "typ": "JWT", "kid": key.kid}, payload, key.private_key)


@pytest.fixture
def keycloak(preset: MakeValidator) -> TokenValidator:
    return preset(
        "keycloak", base_url="https://sso.example.com", realm_name="shop", client_id=API_CLIENT
    )


def test_keycloak_roles_are_requirements(issuer: LocalIssuer, keycloak: TokenValidator) -> None:
    token = keycloak.validate(keycloak_token(issuer))
    assert {"customer", "orders:admin", "openid"} <= token.scopes
    # Roles of another client are not this API's.
    assert "manage-account" not in token.scopes
    Requirement.of(all_of=["customer", "orders:admin"]).check(token)


def test_client_ids_with_dots_when_a_sibling_claim_shares_the_prefix(
    issuer: LocalIssuer, keycloak: TokenValidator
) -> None:
    resource_access = {
        "orders-api": {"v2": {"roles": ["wrong"]}},
        API_CLIENT: {"roles": ["orders:admin"]},
    }
    token = keycloak.validate(keycloak_token(issuer, resource_access=resource_access))
    assert "orders:admin" in token.scopes
    assert "wrong" not in token.scopes


def test_keycloak_account_only_audience_names_the_mapper(
    issuer: LocalIssuer, keycloak: TokenValidator
) -> None:
    error = refusal(keycloak, keycloak_token(issuer, aud="account"))
    assert error.reason == "aud_mismatch"
    assert error.hint is not None
    assert "Audience mapper" in error.hint
    error = refusal(keycloak, keycloak_token(issuer, aud=None))
    assert error.reason == "aud_missing"
    assert error.hint is not None
    assert "Audience mapper" in error.hint


def test_keycloak_settings() -> None:
    settings = Settings.for_provider(
        "keycloak", base_url="https://sso.example.com/auth/", realm_name="shop", audience="x"
    )
    assert settings.issuer == ("https://sso.example.com/auth/realms/shop",)
    assert settings.jwks_uri == (
        "https://sso.example.com/auth/realms/shop/protocol/openid-connect/certs"
    )
    assert settings.scope_claims == ("scope", "realm_access.roles")
    with pytest.raises(ConfigurationError, match="no audience"):
        Settings.for_provider("keycloak", base_url="https://sso.example.com", realm_name="shop")


def cognito_token(issuer: LocalIssuer, **claims: Any) -> str:
    shape: dict[str, Any] = {
        "iss": COGNITO_ISSUER,
        "aud": None,
        "sub": "4b1c2d3e-5f6a-7b8c-9d0e-1f2a3b4c5d6e",
        "client_id": APP_CLIENT,
        "token_use": "access",
        "scope": "orders-api/orders.read aws.cognito.signin.user.admin",
        "cognito:groups": ["admins"],
        "auth_time": 1_700_000_000,
        "origin_jti": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "event_id": "9a8b7c6d-5e4f-3a2b-1c0d-e9f8a7b6c5d4",
        "username": "alice",
        "version": 2,
        "typ": None,
    }
    shape.update(claims)
    return issuer.mint(**shape)


@pytest.fixture
def cognito(preset: MakeValidator) -> TokenValidator:
    return preset("cognito", user_pool_id=POOL, client_id=APP_CLIENT)


def test_cognito_access_token_is_accepted(issuer: LocalIssuer, cognito: TokenValidator) -> None:
    token = cognito.validate(cognito_token(issuer))
    assert token.scopes == {"orders-api/orders.read", "aws.cognito.signin.user.admin", "admins"}
    assert token.client_id == APP_CLIENT
    assert token.audience == (APP_CLIENT,)


def test_cognito_other_app_client_is_refused(issuer: LocalIssuer, cognito: TokenValidator) -> None:
    error = refusal(cognito, cognito_token(issuer, client_id="7other0client0id0000000000"))
    assert error.reason == "aud_mismatch"
    assert error.hint is not None
    assert "client_id" in error.hint
    error = refusal(cognito, cognito_token(issuer, client_id=None))
    assert error.reason == "aud_missing"


def test_cognito_id_token_is_refused(issuer: LocalIssuer, cognito: TokenValidator) -> None:
    id_token = cognito_token(
        issuer,
        token_use="id",
        aud=APP_CLIENT,
        client_id=None,
        scope=None,
        email="alice@example.com",
    )
    error = refusal(cognito, id_token)
    assert error.reason == "id_token"
    assert error.hint is not None
    assert "token_use" in error.hint


@pytest.mark.parametrize(
    ("token_use", "reason"), [("refresh", "claim_mismatch"), (None, "claim_missing")]
)
def test_cognito_token_use_must_be_access(
    issuer: LocalIssuer, cognito: TokenValidator, token_use: Any, reason: str
) -> None:
    assert refusal(cognito, cognito_token(issuer, token_use=token_use)).reason == reason


def test_cognito_settings() -> None:
    settings = Settings.for_provider("cognito", user_pool_id=POOL, client_id="a, b", groups=False)
    assert settings.issuer == (COGNITO_ISSUER,)
    assert settings.jwks_uri == f"{COGNITO_ISSUER}/.well-known/jwks.json"
    assert settings.audience == ("a", "b")
    assert settings.scope_claims == ("scope",)
    with pytest.raises(ConfigurationError, match="client_id"):
        Settings.for_provider("cognito", user_pool_id=POOL)
    with pytest.raises(ConfigurationError, match="region"):
        Settings.for_provider("cognito", user_pool_id="AbCdEf123", client_id="a")


def keycloak_id_token(issuer: LocalIssuer, **claims: Any) -> str:
    """A Keycloak ID token: body typ "ID", aud the client that logged in."""
    now = int(time.time())
    payload = {
        "iss": KEYCLOAK_ISSUER,
        "aud": API_CLIENT,
        "sub": "f0c1d2e3-a4b5-4c6d-8e7f-9a0b1c2d3e4f",
        "azp": API_CLIENT,
        "exp": now + 300,
        "iat": now,
        "typ": "ID",
        **claims,
    }
    key = issuer.key_for("RS256")
    return sign_compact({"alg": "RS256", "typ": "JWT", "kid": key.kid}, payload, key.private_key)


def test_keycloak_before_25_access_tokens_with_the_login_nonce_pass(
    issuer: LocalIssuer, keycloak: TokenValidator
) -> None:
    # Keycloak up to 24 copied the authorization request's nonce into access tokens too.
    assert keycloak.validate(keycloak_token(issuer, nonce="n-0S6_WzA2Mj")).subject


def test_keycloak_id_tokens_are_refused_by_their_typ_claim(
    issuer: LocalIssuer, keycloak: TokenValidator
) -> None:
    error = refusal(keycloak, keycloak_id_token(issuer))
    assert error.reason == "id_token"
    assert error.hint is not None
    assert "typ claim is 'ID'" in error.hint
    # With the nonce of the login too, still an ID token.
    assert refusal(keycloak, keycloak_id_token(issuer, nonce="n-1")).reason == "id_token"
