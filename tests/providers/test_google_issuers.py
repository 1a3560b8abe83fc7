"""Issuer identifiers without a scheme (Google's legacy ``accounts.google.com``)."""

from __future__ import annotations

import pytest

from audmw import ConfigurationError, Settings, TokenValidator
from audmw.testing import LocalIssuer

from .conftest import MakeValidator, refusal
from .test_google_rfc9068 import CALLER, SERVICE_URL, google_id_token

AUD = "https://api.example.com"
JWKS = "https://keys.example.com/jwks.json"


def test_an_issuer_without_a_scheme_needs_jwks_uri() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings(issuer="accounts.google.com", audience=AUD)
    message = str(caught.value)
    assert "'accounts.google.com' is not an https:// URL" in message
    assert "cannot be discovered" in message
    assert "set jwks_uri" in message


def test_an_issuer_without_a_scheme_is_kept_exactly_with_jwks_uri() -> None:
    settings = Settings(
        issuer="https://accounts.google.com, accounts.google.com", audience=AUD, jwks_uri=JWKS
    )
    assert settings.issuer == ("https://accounts.google.com", "accounts.google.com")


@pytest.mark.parametrize(
    "issuer",
    [
        "http://accounts.google.com",  # a URL still follows the URL rules
        "ftp://accounts.google.com",
        "accounts.google.com:443",  # a scheme "accounts.google.com", not a host and port
    ],
)
def test_jwks_uri_does_not_relax_url_issuers(issuer: str) -> None:
    with pytest.raises(ConfigurationError, match="https://"):
        Settings(issuer=issuer, audience=AUD, jwks_uri=JWKS)


@pytest.mark.parametrize("issuer", ["accounts google.com", "accounts.google.com\x00"])
def test_an_identifier_with_spaces_or_controls_is_refused(issuer: str) -> None:
    with pytest.raises(ConfigurationError, match="spaces or control characters"):
        Settings(issuer=[issuer], audience=AUD, jwks_uri=JWKS)


def test_google_preset_accepts_both_issuer_forms() -> None:
    settings = Settings.for_provider("google", audience=SERVICE_URL, allowed_emails=CALLER)
    assert settings.issuer == ("https://accounts.google.com", "accounts.google.com")
    assert settings.jwks_uri == "https://www.googleapis.com/oauth2/v3/certs"
    # Without its key set the legacy form has nowhere to get keys from: refused, saying why.
    with pytest.raises(ConfigurationError, match="set jwks_uri"):
        Settings.for_provider("google", audience=SERVICE_URL, allowed_emails=CALLER, jwks_uri=None)


@pytest.fixture
def cloud_run(preset: MakeValidator) -> TokenValidator:
    return preset("google", audience=SERVICE_URL, allowed_emails=CALLER)


@pytest.mark.parametrize("iss", ["https://accounts.google.com", "accounts.google.com"])
def test_google_token_with_either_iss(
    issuer: LocalIssuer, cloud_run: TokenValidator, iss: str
) -> None:
    token = cloud_run.validate(google_id_token(issuer, iss=iss))
    assert token.issuer == iss
    assert token.subject == "112233445566778899001"


@pytest.mark.parametrize(
    "iss",
    [
        "https://accounts.google.com/",
        "accounts.google.com/",
        "http://accounts.google.com",
        "Accounts.Google.com",
        "//accounts.google.com",
        "evil.example.com",
    ],
)
def test_google_iss_is_still_compared_exactly(
    issuer: LocalIssuer, cloud_run: TokenValidator, iss: str
) -> None:
    assert refusal(cloud_run, google_id_token(issuer, iss=iss)).reason == "iss_mismatch"
