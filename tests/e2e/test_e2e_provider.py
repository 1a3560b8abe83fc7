"""The provider fixture itself: what the conformance suite relies on, and its failure messages."""

from __future__ import annotations

from pathlib import Path

import httpx
import jwt
import pytest

from audmw import Settings, TokenValidator
from e2e import provider as provider_module
from e2e.provider import API, OTHER_API, OidcProvider, ProviderUnavailable, find_node


def test_missing_node_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ProviderUnavailable, match=r"install Node\.js 20 or newer with npm"):
        find_node()


def test_missing_packages_say_how_to_install_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(provider_module, "HERE", tmp_path)
    with pytest.raises(ProviderUnavailable, match=r"npm ci --prefix tests/e2e"):
        find_node()


def test_tokens_are_rfc9068_jwts_for_the_requested_resource(oidc_provider: OidcProvider) -> None:
    token = oidc_provider.get_token(API, "read:messages read:reports")
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "RS256"
    assert claims["iss"] == oidc_provider.issuer
    assert claims["aud"] == API
    # Scopes are filtered to those of the resource server.
    assert claims["scope"] == "read:messages"
    assert claims["client_id"] == oidc_provider.client_id("RS256")

    other = jwt.decode(
        oidc_provider.get_token(OTHER_API, "read:reports"), options={"verify_signature": False}
    )
    assert other["aud"] == OTHER_API
    assert jwt.get_unverified_header(oidc_provider.get_token(API, alg="ES256"))["alg"] == "ES256"


def test_the_core_verifies_its_tokens_with_the_published_keys(
    oidc_provider: OidcProvider,
) -> None:
    validator = TokenValidator(Settings(issuer=oidc_provider.issuer, audience=API))
    for alg in ("RS256", "ES256"):
        token = validator.validate(oidc_provider.get_token(API, "admin", alg=alg))
        assert token.scopes == {"admin"}
        assert token.audience == (API,)
    jwks = httpx.get(oidc_provider.jwks_uri).json()["keys"]
    assert {key["kty"] for key in jwks} == {"RSA", "EC"}
    for key in jwks:
        assert not {"d", "p", "q", "dp", "dq", "qi", "key_ops"} & key.keys()


def test_without_resource_the_token_is_opaque(oidc_provider: OidcProvider) -> None:
    token = oidc_provider.get_token(None, "read:messages")
    assert "." not in token


def test_unknown_resource_is_refused_by_the_provider(oidc_provider: OidcProvider) -> None:
    response = oidc_provider.request_token(resource="https://unknown.example.com")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"
