"""Opaque tokens through the Flask extension, checked at the issuer's introspection endpoint."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from audmw.testing import LocalIssuer
from audmw_flask import current_token

CLIENT, SECRET = "the-api", "introspection-secret-of-the-api"


@pytest.fixture
def app(issuer: LocalIssuer, make_app: Callable[..., Flask]) -> Flask:
    issuer.register_client(CLIENT, secret=SECRET)
    issuer.set_mode("ok")
    app = make_app(
        install=False,
        introspection="opaque",
        introspection_client_id=CLIENT,
        introspection_client_secret=SECRET,
    )

    @app.get("/whoami")
    def whoami() -> dict[str, str | None]:
        return {"sub": current_token.subject, "scope": " ".join(sorted(current_token.scopes))}

    from audmw_flask import Audmw

    Audmw(app)
    return app


def test_an_opaque_token_is_introspected_once(app: Flask, issuer: LocalIssuer) -> None:
    client = app.test_client()
    token = issuer.mint_opaque(sub="alice", scopes="read write")
    before = issuer.token_endpoint.introspection_requests
    for _ in range(3):
        response = client.get("/whoami", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
        assert response.json == {"sub": "alice", "scope": "read write"}
    assert issuer.token_endpoint.introspection_requests == before + 1


def test_refusals(app: Flask, issuer: LocalIssuer) -> None:
    client = app.test_client()
    revoked = issuer.mint_opaque()
    issuer.revoke(revoked)
    inactive = client.get("/whoami", headers={"Authorization": f"Bearer {revoked}"})
    assert inactive.status_code == 401
    assert 'error="invalid_token"' in inactive.headers["WWW-Authenticate"]
    issuer.set_mode("error")
    try:
        down = client.get("/whoami", headers={"Authorization": f"Bearer {issuer.mint_opaque()}"})
    finally:
        issuer.set_mode("ok")
    assert down.status_code == 503
    assert down.headers["Retry-After"] == "5"
