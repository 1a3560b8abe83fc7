"""Google-signed ID tokens sent as bearer tokens (Cloud Run, Cloud Functions, Pub/Sub push)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from audmw.errors import ConfigurationError
from audmw.providers import Provider, Recognition, UnverifiedToken
from audmw.values import comma_strings


def preset(*, allowed_emails: str | Iterable[str] | None = None) -> dict[str, Any]:
    """Google-signed ID tokens sent as bearer tokens (Cloud Run, Cloud Functions, Pub/Sub push).

    ``audience`` is the URL the caller requested the token for (the service URL). Any Google
    account can obtain such a token for any audience, so ``allowed_emails`` (the callers'
    service accounts) is required. Google writes ``iss`` as ``https://accounts.google.com`` or
    as the legacy ``accounts.google.com``; both are accepted.
    """
    emails = comma_strings(allowed_emails, "allowed_emails")
    if not emails:
        raise ConfigurationError(
            "audmw: the google preset needs allowed_emails= (AUDMW_ALLOWED_EMAILS): any Google "
            "account can get an ID token for any audience, so name the calling service accounts"
        )
    return {
        "issuer": ("https://accounts.google.com", "accounts.google.com"),
        "jwks_uri": "https://www.googleapis.com/oauth2/v3/certs",
        "accept_id_tokens": True,
        "required_claims": {"email": list(emails), "email_verified": True},
        "algorithms": ("RS256",),
    }


def recognize(token: UnverifiedToken) -> Recognition | None:
    if token.host != "accounts.google.com":
        return None
    return Recognition(
        "google",
        "Google",
        "iss is https://accounts.google.com",
        (
            "Google signs ID tokens (aud = the service URL, for Cloud Run and IAP); Google's "
            "OAuth access tokens are opaque and cannot be verified locally",
        ),
    )


PROVIDER = Provider(name="google", preset=preset, recognize=recognize)
