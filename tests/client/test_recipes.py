"""The README's provider recipes: each spelling of the target reaches the token endpoint as
that provider expects it, and the local issuer (which understands each) puts the API in
``aud``. The real providers cannot be reached offline; the parameters are what is tested."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from audmw.client import ClientCredentials, OnBehalfOf, TokenExchange
from audmw.testing import LocalIssuer, SigningKey

from .conftest import API, SECRET


def aud_of(token: str) -> Any:
    return jwt.decode(token, options={"verify_signature": False}).get("aud")


@pytest.mark.parametrize(
    ("recipe", "sent", "aud"),
    [
        pytest.param(
            {"resource": API, "scope": "read:messages"},
            {"resource": [API], "scope": ["read:messages"]},
            API,
            id="rfc8707",
        ),
        pytest.param({"audience": API}, {"audience": [API]}, API, id="auth0"),
        pytest.param(
            {"scope": "api://reports/.default"},
            {"scope": ["api://reports/.default"]},
            "api://reports",
            id="entra",
        ),
        pytest.param(
            {"scope": "read:messages"}, {"scope": ["read:messages"]}, API, id="okta-keycloak"
        ),
        pytest.param(
            {"scope": "https://api.example.com/read"},
            {"scope": ["https://api.example.com/read"]},
            API,
            id="cognito",
        ),
    ],
)
def test_client_credentials_recipes(
    issuer: LocalIssuer, recipe: dict[str, Any], sent: dict[str, list[str]], aud: str
) -> None:
    issuer.register_client("recipe", secret=SECRET)
    auth = ClientCredentials(
        token_url=issuer.token_url, client_id="recipe", client_secret=SECRET, **recipe
    )
    token = auth.token().access_token
    form = issuer.token_endpoint.log[-1]["form"]
    assert {name: form[name] for name in sent} == sent
    assert aud_of(token) == aud


def test_entra_with_a_key_puts_the_token_endpoint_in_the_assertion(
    issuer: LocalIssuer, client_key: SigningKey
) -> None:
    issuer.register_client("entra-app", keys=[client_key], assertion_audience="token_endpoint")
    auth = ClientCredentials(
        issuer=issuer.issuer,
        client_id="entra-app",
        private_key=client_key,
        assertion_audience="token_endpoint",
        scope="api://reports/.default",
    )
    assert aud_of(auth.token().access_token) == "api://reports"
    assertion = issuer.token_endpoint.log[-1]["form"]["client_assertion"][0]
    assert aud_of(assertion) == issuer.token_url


def test_entra_on_behalf_of_recipe(issuer: LocalIssuer) -> None:
    obo = OnBehalfOf(
        issuer=issuer.issuer,
        client_id="svc",
        client_secret=SECRET,
        auth_method="client_secret_post",
        scope="api://reports/.default",
    )
    assert aud_of(obo.token(issuer.mint(sub="alice")).access_token) == "api://reports"


def test_keycloak_token_exchange_recipe(issuer: LocalIssuer) -> None:
    exchange = TokenExchange(
        issuer=issuer.issuer, client_id="svc", client_secret=SECRET, audience="reports-api"
    )
    assert aud_of(exchange.token(issuer.mint(sub="alice")).access_token) == "reports-api"
    assert issuer.token_endpoint.log[-1]["form"]["audience"] == ["reports-api"]
