"""Google ID tokens as bearer tokens, IAP signed headers, and the generic RFC 9068 profile."""

from __future__ import annotations

from typing import Any

import pytest

from audmw import ConfigurationError, Settings, TokenValidator
from audmw.testing import LocalIssuer

from .conftest import MakeValidator, refusal

SERVICE_URL = "https://orders-abc123-ew.a.run.app"
CALLER = "scheduler@my-project.iam.gserviceaccount.com"
IAP_AUDIENCE = "/projects/123456789012/global/backendServices/987654321"


def google_id_token(issuer: LocalIssuer, **claims: Any) -> str:
    shape: dict[str, Any] = {
        "iss": "https://accounts.google.com",
        "aud": SERVICE_URL,
        "sub": "112233445566778899001",
        "azp": "112233445566778899001",
        "email": CALLER,
        "email_verified": True,
        "client_id": None,
        "jti": None,
        "typ": "JWT",
    }
    shape.update(claims)
    return issuer.mint(**shape)


@pytest.fixture
def cloud_run(preset: MakeValidator) -> TokenValidator:
    return preset("google", audience=SERVICE_URL, allowed_emails=CALLER)


def test_google_id_token_of_an_allowed_caller(
    issuer: LocalIssuer, cloud_run: TokenValidator
) -> None:
    assert cloud_run.validate(google_id_token(issuer)).subject == "112233445566778899001"
    # A user's ID token carries at_hash; the preset accepts ID tokens on purpose.
    assert cloud_run.validate(google_id_token(issuer, at_hash="x1y2z3"))


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"email": "someone@gmail.com"}, "claim_mismatch"),
        ({"email": None}, "claim_missing"),
        ({"email_verified": "true"}, "claim_mismatch"),
        ({"email_verified": False}, "claim_mismatch"),
        ({"aud": "https://other-service.a.run.app"}, "aud_mismatch"),
    ],
)
def test_google_id_token_refusals(
    issuer: LocalIssuer, cloud_run: TokenValidator, claims: dict[str, Any], reason: str
) -> None:
    assert refusal(cloud_run, google_id_token(issuer, **claims)).reason == reason


def test_google_preset_needs_the_callers() -> None:
    with pytest.raises(ConfigurationError, match="allowed_emails"):
        Settings.for_provider("google", audience=SERVICE_URL)


def iap_token(issuer: LocalIssuer, **claims: Any) -> str:
    shape: dict[str, Any] = {
        "iss": "https://cloud.google.com/iap",
        "aud": IAP_AUDIENCE,
        "sub": "accounts.google.com:112233445566778899001",
        "email": "alice@example.com",
        "hd": "example.com",
        "google": {"access_levels": []},
        "client_id": None,
        "jti": None,
        "typ": None,
        "alg": "ES256",
    }
    shape.update(claims)
    return issuer.mint(**shape)


def test_iap_assertion(issuer: LocalIssuer, preset: MakeValidator) -> None:
    validator = preset("google-iap", project_number="123456789012", backend_service_id="987654321")
    assert (
        validator.validate(iap_token(issuer)).subject == "accounts.google.com:112233445566778899001"
    )
    assert refusal(validator, iap_token(issuer, alg="RS256")).reason == "alg_not_allowed"
    wrong = iap_token(issuer, aud="/projects/123456789012/apps/my-project")
    assert refusal(validator, wrong).reason == "aud_mismatch"
    app_engine = preset("google-iap", project_number="123456789012", project_id="my-project")
    assert app_engine.validate(wrong).audience == ("/projects/123456789012/apps/my-project",)


def test_iap_settings() -> None:
    with pytest.raises(ConfigurationError, match="exactly one"):
        Settings.for_provider("google-iap", project_number="1")
    with pytest.raises(ConfigurationError, match="not a number"):
        Settings.for_provider("google-iap", project_number="my-project", project_id="p")


@pytest.fixture
def generic(issuer: LocalIssuer, preset: MakeValidator) -> TokenValidator:
    return preset("rfc9068", issuer=issuer.issuer, audience="https://orders.example.com")


def test_rfc9068_token(issuer: LocalIssuer, generic: TokenValidator) -> None:
    token = issuer.mint(aud="https://orders.example.com", scopes="orders:read orders:write")
    assert generic.validate(token).scopes == {"orders:read", "orders:write"}
    # Duende IdentityServer sends scope as an array.
    as_array = issuer.mint(aud="https://orders.example.com", scope=["orders:read"])
    assert generic.validate(as_array).scopes == {"orders:read"}


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"typ": "JWT"}, "typ_not_allowed"),
        ({"typ": None}, "typ_not_allowed"),
        ({"client_id": None}, "claim_missing"),
    ],
)
def test_rfc9068_refusals(
    issuer: LocalIssuer, generic: TokenValidator, changes: dict[str, Any], reason: str
) -> None:
    token = issuer.mint(aud="https://orders.example.com", **changes)
    assert refusal(generic, token).reason == reason
