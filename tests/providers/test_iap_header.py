"""The google-iap preset reads the token from IAP's signed header, not from Authorization."""

from __future__ import annotations

import pytest
from core.crafting import sent

from audmw import Guard, Settings
from audmw.errors import InvalidRequest, MissingToken
from audmw.testing import LocalIssuer

from .test_google_rfc9068 import iap_token

IAP_OPTIONS = {"project_number": "123456789012", "backend_service_id": "987654321"}


def test_preset_names_the_iap_header(issuer: LocalIssuer) -> None:
    settings = Settings.for_provider("google-iap", jwks_uri=issuer.jwks_uri, **IAP_OPTIONS)
    assert settings.token_header == "x-goog-iap-jwt-assertion"
    guard = Guard(settings)
    assert guard.token_environ_key == "HTTP_X_GOOG_IAP_JWT_ASSERTION"
    token = iap_token(issuer)
    assert guard.authorize(sent([token])).subject == "accounts.google.com:112233445566778899001"
    with pytest.raises(InvalidRequest):
        guard.authorize(sent([f"Bearer {token}"]))  # IAP sends the bare JWT: no scheme is parsed
    with pytest.raises(MissingToken):
        guard.authorize(sent([]))


def test_preset_from_the_environment(issuer: LocalIssuer) -> None:
    environ = {
        "AUDMW_PROVIDER": "google-iap",
        "AUDMW_PROJECT_NUMBER": "123456789012",
        "AUDMW_PROJECT_ID": "my-project",
        "AUDMW_JWKS_URI": issuer.jwks_uri,
    }
    assert Settings.from_env(environ).token_header == "x-goog-iap-jwt-assertion"


def test_an_explicit_token_header_overrides_the_preset(issuer: LocalIssuer) -> None:
    # E.g. a proxy in front of the app that moves the assertion into Authorization.
    settings = Settings.for_provider(
        "google-iap", jwks_uri=issuer.jwks_uri, token_header="authorization", **IAP_OPTIONS
    )
    guard = Guard(settings)
    token = iap_token(issuer)
    assert guard.authorize(sent([f"Bearer {token}"])).issuer == "https://cloud.google.com/iap"
    with pytest.raises(MissingToken):
        guard.authorize(sent([token]))
