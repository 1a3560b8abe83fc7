"""Google IAP's signed header: the extension reads the header the settings name."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from audmw.testing import LocalIssuer
from audmw_flask import Audmw, current_token

IAP_HEADER = "x-goog-iap-jwt-assertion"
IAP_ISSUER = "https://cloud.google.com/iap"
IAP_AUDIENCE = "/projects/123456789012/global/backendServices/987654321"


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


@pytest.fixture
def app(issuer: LocalIssuer) -> Flask:
    app = Flask(__name__)
    # The google-iap preset through app.config: AUDMW_PROVIDER and its own options.
    app.config.update(
        TESTING=True,
        AUDMW_PROVIDER="google-iap",
        AUDMW_PROJECT_NUMBER="123456789012",
        AUDMW_BACKEND_SERVICE_ID="987654321",
        AUDMW_JWKS_URI=issuer.jwks_uri,
    )

    @app.get("/whoami")
    def whoami() -> dict[str, Any]:
        return {"sub": current_token.subject}

    Audmw(app)
    return app


def test_token_in_the_iap_header_is_accepted(app: Flask, issuer: LocalIssuer) -> None:
    response = app.test_client().get("/whoami", headers={IAP_HEADER: iap_token(issuer)})
    assert response.status_code == 200
    assert response.json == {"sub": "accounts.google.com:1122334455"}


def test_authorization_bearer_is_not_read(app: Flask, issuer: LocalIssuer) -> None:
    response = app.test_client().get(
        "/whoami", headers={"Authorization": f"Bearer {iap_token(issuer)}"}
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_malformed_iap_header_is_a_bad_request(app: Flask, issuer: LocalIssuer) -> None:
    client = app.test_client()
    token = iap_token(issuer)
    scheme = client.get("/whoami", headers={IAP_HEADER: f"Bearer {token}"})
    assert scheme.status_code == 400
    assert 'error="invalid_request"' in scheme.headers["WWW-Authenticate"]
    # Werkzeug folds repeated headers into one comma-joined value: refused the same way.
    twice = client.get("/whoami", headers=[(IAP_HEADER, token), (IAP_HEADER, token)])
    assert twice.status_code == 400
