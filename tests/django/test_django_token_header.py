"""Google IAP's signed header: the middleware (sync and async) and DRF read the named header."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import AsyncClient, Client, override_settings
from django_support import MIDDLEWARE

from audmw.testing import LocalIssuer

IAP_HEADER = "x-goog-iap-jwt-assertion"
IAP_ISSUER = "https://cloud.google.com/iap"
IAP_AUDIENCE = "/projects/123456789012/global/backendServices/987654321"


@pytest.fixture(autouse=True)
def iap(issuer: LocalIssuer) -> Iterator[None]:
    """The google-iap preset in ``settings.AUDMW``, its keys served by the LocalIssuer."""
    value = {
        "PROVIDER": "google-iap",
        "PROJECT_NUMBER": "123456789012",
        "BACKEND_SERVICE_ID": "987654321",
        "JWKS_URI": issuer.jwks_uri,
    }
    with override_settings(AUDMW=value):
        yield


def iap_token(issuer: LocalIssuer, **claims: Any) -> str:
    shape: dict[str, Any] = {
        "iss": IAP_ISSUER,
        "aud": IAP_AUDIENCE,
        "sub": "accounts.google.com:1122334455",
        "email": "alice@example.com",
        "typ": None,
        "alg": "ES256",
    }
    shape.update(claims)
    return issuer.mint(**shape)


def test_token_in_the_iap_header_is_accepted(issuer: LocalIssuer, effects: list[str]) -> None:
    response = Client().get("/any", headers={IAP_HEADER: iap_token(issuer)})
    assert response.status_code == 200
    assert response.json()["sub"] == "accounts.google.com:1122334455"
    assert effects == ["any"]


def test_authorization_bearer_is_not_read(issuer: LocalIssuer, effects: list[str]) -> None:
    client = Client()
    response = client.get("/any", headers={"Authorization": f"Bearer {iap_token(issuer)}"})
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert effects == []
    # An unknown URL is judged the same way before its 404 goes out.
    unknown = client.get("/nowhere", headers={"Authorization": f"Bearer {iap_token(issuer)}"})
    assert unknown.status_code == 401
    assert client.get("/nowhere", headers={IAP_HEADER: iap_token(issuer)}).status_code == 404


def test_a_malformed_iap_header_is_a_bad_request(issuer: LocalIssuer, effects: list[str]) -> None:
    response = Client().get("/any", headers={IAP_HEADER: f"Bearer {iap_token(issuer)}"})
    assert response.status_code == 400
    assert 'error="invalid_request"' in response["WWW-Authenticate"]
    assert effects == []


@pytest.mark.anyio
async def test_async_middleware_reads_the_iap_header(
    issuer: LocalIssuer, effects: list[str]
) -> None:
    client = AsyncClient()
    token = iap_token(issuer, scopes="read:messages")
    accepted = await client.get("/async-read", headers={IAP_HEADER: token})
    refused = await client.get("/async-read", headers={"Authorization": f"Bearer {token}"})
    assert accepted.status_code == 200
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == "Bearer"
    assert effects == ["async read"]


def test_drf_authentication_reads_the_iap_header(issuer: LocalIssuer, effects: list[str]) -> None:
    token = iap_token(issuer, scopes="read:messages")
    client = Client()
    # Without the middleware: DRF's AudienceAuthentication reads the header itself.
    with override_settings(MIDDLEWARE=[m for m in MIDDLEWARE if not m.startswith("audmw")]):
        accepted = client.get("/drf/messages", headers={IAP_HEADER: token})
        refused = client.get("/drf/messages", headers={"Authorization": f"Bearer {token}"})
    assert accepted.status_code == 200
    assert accepted.json()["sub"] == "accounts.google.com:1122334455"
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == "Bearer"
    assert effects == ["drf get"]
