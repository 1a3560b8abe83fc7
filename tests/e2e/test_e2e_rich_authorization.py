"""RFC 9396 end to end: oidc-provider's richAuthorizationRequests feature issues
``authorization_details`` in its JWT access tokens, and a Starlette app that requires an
entry of a type and amount lets the token through or answers 403 accordingly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from dpop_challenge import with_dpop
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from audmw import Settings, TokenValidator
from audmw.starlette import (
    AudienceMiddleware,
    TokenUser,
    require_app,
    require_authorization_details,
    require_user,
)
from e2e.provider import API, OidcProvider, TokenRequestFailed


def payment(amount: str) -> dict[str, Any]:
    return {
        "type": "payment_initiation",
        "actions": ["initiate"],
        "instructedAmount": {"currency": "EUR", "amount": amount},
        "creditorName": "Merchant A",
    }


def at_most_100_eur(entry: Mapping[str, Any]) -> bool:
    amount = entry["instructedAmount"]
    return amount["currency"] == "EUR" and float(amount["amount"]) <= 100


@require_authorization_details("payment_initiation", at_most_100_eur)
async def pay(request: Request) -> JSONResponse:
    user = request.user
    assert isinstance(user, TokenUser)
    entries = user.token.authorization_details_of("payment_initiation")
    return JSONResponse({"amounts": [entry["instructedAmount"]["amount"] for entry in entries]})


@require_app
async def batch(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


@require_user
async def profile(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


@pytest.fixture
def client(oidc_provider: OidcProvider) -> TestClient:
    settings = Settings(issuer=oidc_provider.issuer, audience=API)
    app = Starlette(
        routes=[Route("/pay", pay), Route("/batch", batch), Route("/profile", profile)],
        middleware=[Middleware(AudienceMiddleware, settings)],
    )
    return TestClient(app)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_provider_puts_the_entries_in_the_token(oidc_provider: OidcProvider) -> None:
    details = [payment("42.00"), {"type": "account_information", "actions": ["read"]}]
    token = oidc_provider.get_token(API, "read:messages", authorization_details=details)
    verified = TokenValidator(Settings(issuer=oidc_provider.issuer, audience=API)).validate(token)
    assert verified.authorization_details == tuple(details)
    assert verified.kind == "app"  # client credentials: sub is the client
    metadata = httpx.get(oidc_provider.issuer + "/.well-known/openid-configuration").json()
    assert set(metadata["authorization_details_types_supported"]) == {
        "payment_initiation",
        "account_information",
    }


def test_a_payment_within_the_limit_passes(oidc_provider: OidcProvider, client: TestClient) -> None:
    token = oidc_provider.get_token(API, authorization_details=[payment("99.99")])
    response = client.get("/pay", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json() == {"amounts": ["99.99"]}


@pytest.mark.parametrize(
    "details",
    [
        [payment("100.01")],
        [{"type": "account_information", "actions": ["read"]}],
        None,
    ],
    ids=["over-the-limit", "another-type", "none"],
)
def test_a_token_without_a_fitting_entry_is_refused(
    oidc_provider: OidcProvider, client: TestClient, details: list[dict[str, Any]] | None
) -> None:
    token = oidc_provider.get_token(API, authorization_details=details)
    response = client.get("/pay", headers=bearer(token))
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == with_dpop(
        'Bearer error="insufficient_authorization_details", error_description="The access '
        'token lacks the authorization details this resource requires"'
    )
    assert response.json()["error"] == "insufficient_authorization_details"


def test_an_unknown_type_is_refused_by_the_provider(oidc_provider: OidcProvider) -> None:
    with pytest.raises(TokenRequestFailed, match="invalid_authorization_details"):
        oidc_provider.get_token(API, authorization_details=[{"type": "wire_transfer"}])


def test_client_credentials_tokens_are_app_tokens(
    oidc_provider: OidcProvider, client: TestClient
) -> None:
    token = oidc_provider.get_token(API, "read:messages")
    assert client.get("/batch", headers=bearer(token)).status_code == 200
    refused = client.get("/profile", headers=bearer(token))
    assert refused.status_code == 403
    assert refused.json()["error_description"] == (
        "This resource requires an access token issued for a user"
    )
