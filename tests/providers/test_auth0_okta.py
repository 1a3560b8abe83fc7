"""Auth0 and Okta custom authorization servers."""

from __future__ import annotations

from typing import Any

import pytest

from audmw import ConfigurationError, Settings, TokenValidator
from audmw.testing import LocalIssuer

from .conftest import MakeValidator, refusal

DOMAIN = "example-tenant.us.auth0.com"
AUTH0_ISSUER = f"https://{DOMAIN}/"
API = "https://orders.example.com"
OKTA_ORG = "https://dev-123456.okta.com"
OKTA_ISSUER = f"{OKTA_ORG}/oauth2/default"


def auth0_token(issuer: LocalIssuer, **claims: Any) -> str:
    shape: dict[str, Any] = {
        "iss": AUTH0_ISSUER,
        "sub": "auth0|64f1c2e3a4b5c6d7e8f9a0b1",
        "aud": [API, f"https://{DOMAIN}/userinfo"],
        "azp": "Zx8bQWc1K2vT9fLmNpQrStUv",
        "scope": "openid profile read:orders",
        "client_id": None,
        "typ": "JWT",
    }
    shape.update(claims)
    return issuer.mint(**shape)


@pytest.fixture
def auth0(preset: MakeValidator) -> TokenValidator:
    return preset("auth0", domain=DOMAIN, audience=API)


def test_auth0_token_with_userinfo_in_aud_is_accepted(
    issuer: LocalIssuer, auth0: TokenValidator
) -> None:
    token = auth0.validate(auth0_token(issuer, permissions=["write:orders"]))
    assert token.scopes == {"openid", "profile", "read:orders", "write:orders"}
    assert token.client_id == "Zx8bQWc1K2vT9fLmNpQrStUv"


def test_auth0_machine_token_and_rfc9068_profile(
    issuer: LocalIssuer, auth0: TokenValidator
) -> None:
    machine = auth0_token(
        issuer,
        sub="Zx8bQWc1K2vT9fLmNpQrStUv@clients",
        aud=API,
        gty="client-credentials",
        scope="read:orders",
        azp=None,
        client_id="Zx8bQWc1K2vT9fLmNpQrStUv",
        typ="at+jwt",
    )
    assert auth0.validate(machine).client_id == "Zx8bQWc1K2vT9fLmNpQrStUv"


def test_auth0_permissions_can_be_left_out(issuer: LocalIssuer, preset: MakeValidator) -> None:
    validator = preset("auth0", domain=DOMAIN, audience=API, permissions=False)
    assert (
        "write:orders"
        not in validator.validate(auth0_token(issuer, permissions=["write:orders"])).scopes
    )


def test_auth0_userinfo_only_audience_names_the_fix(
    issuer: LocalIssuer, auth0: TokenValidator
) -> None:
    error = refusal(auth0, auth0_token(issuer, aud=f"https://{DOMAIN}/userinfo"))
    assert error.reason == "aud_mismatch"
    assert error.hint is not None
    assert "audience=" in error.hint


def test_auth0_opaque_token_names_the_fix(auth0: TokenValidator) -> None:
    error = refusal(auth0, "k3vT9fLmNpQrStUvWxYz0a1b2c3d4e5f")
    assert error.reason == "not_a_jwt"
    assert error.hint is not None
    assert "audience" in error.hint


def test_auth0_issuer_needs_its_trailing_slash(issuer: LocalIssuer, auth0: TokenValidator) -> None:
    error = refusal(auth0, auth0_token(issuer, iss=f"https://{DOMAIN}"))
    assert error.reason == "iss_mismatch"
    assert error.hint is not None
    assert "trailing slash" in error.hint


@pytest.mark.parametrize(
    "domain", [DOMAIN, f"https://{DOMAIN}", f"https://{DOMAIN}/", "login.example.com"]
)
def test_auth0_domain_forms(domain: str) -> None:
    settings = Settings.for_provider("auth0", domain=domain, audience=API)
    host = domain.removeprefix("https://").rstrip("/")
    assert settings.issuer == (f"https://{host}/",)
    assert settings.jwks_uri == f"https://{host}/.well-known/jwks.json"


def okta_token(issuer: LocalIssuer, **claims: Any) -> str:
    shape: dict[str, Any] = {
        "iss": OKTA_ISSUER,
        "aud": "api://default",
        "sub": "alice@example.com",
        "cid": "0oa1b2c3d4e5f6g7h8i9",
        "uid": "00u1a2b3c4d5e6f7g8h9",
        "scp": ["openid", "orders:read"],
        "ver": 1,
        "client_id": None,
        "typ": None,
    }
    shape.update(claims)
    return issuer.mint(**shape)


@pytest.fixture
def okta(preset: MakeValidator) -> TokenValidator:
    return preset("okta", domain=OKTA_ORG)


def test_okta_custom_server_token_is_accepted(issuer: LocalIssuer, okta: TokenValidator) -> None:
    token = okta.validate(okta_token(issuer))
    assert token.scopes == {"openid", "orders:read"}
    assert token.client_id == "0oa1b2c3d4e5f6g7h8i9"
    assert token.audience == ("api://default",)


def test_okta_other_server_needs_its_audience(issuer: LocalIssuer, preset: MakeValidator) -> None:
    with pytest.raises(ConfigurationError, match="no audience"):
        Settings.for_provider("okta", domain=OKTA_ORG, authorization_server="aus1orders")
    validator = preset(
        "okta", domain=OKTA_ORG, authorization_server="aus1orders", audience="api://orders"
    )
    token = okta_token(issuer, iss=f"{OKTA_ORG}/oauth2/aus1orders", aud="api://orders")
    assert validator.validate(token).issuer == f"{OKTA_ORG}/oauth2/aus1orders"
    assert refusal(validator, okta_token(issuer, aud="api://orders")).reason == "iss_mismatch"


def test_okta_org_server_token_is_explained(issuer: LocalIssuer, okta: TokenValidator) -> None:
    org = okta_token(issuer, iss=OKTA_ORG, aud=OKTA_ORG)
    error = refusal(okta, org)
    assert error.reason == "iss_mismatch"
    assert error.hint is not None
    assert "org authorization server" in error.hint
    typed = okta_token(issuer, iss=OKTA_ORG, typ="application/okta-internal-at+jwt")
    error = refusal(okta, typed)
    assert error.reason == "typ_not_allowed"
    assert error.hint is not None
    assert "org authorization server" in error.hint


def test_okta_org_server_cannot_be_configured() -> None:
    with pytest.raises(ConfigurationError, match="custom authorization_server"):
        Settings.for_provider("okta", domain=OKTA_ORG, authorization_server="")
