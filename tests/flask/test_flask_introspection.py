"""Opaque tokens through the Flask extension, checked at the issuer's introspection endpoint."""

from __future__ import annotations

import json
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


def test_two_issuers_each_get_only_their_own_opaque_tokens(
    issuer: LocalIssuer, make_app: Callable[..., Flask]
) -> None:
    issuer.register_client(CLIENT, secret=SECRET)
    with LocalIssuer(path="/b") as other:
        other.register_client(CLIENT, secret=SECRET)
        other.token_endpoint.opaque_prefix = "b_"
        app = make_app(
            install=False,
            introspection="opaque",
            introspection_issuers=json.dumps(
                {issuer.issuer: {"token_prefix": "a_"}, other.issuer: {"token_prefix": "b_"}}
            ),
            introspection_client_id=CLIENT,
            introspection_client_secret=SECRET,
        )

        app.config["AUDMW_ISSUER"] = f"{issuer.issuer},{other.issuer}"

        @app.get("/whoami")
        def whoami() -> dict[str, str | None]:
            return {"sub": current_token.subject}

        from audmw_flask import Audmw

        Audmw(app)
        client = app.test_client()
        issuer.token_endpoint.opaque_prefix = "a_"
        try:
            ours = issuer.mint_opaque(sub="alice")
        finally:
            issuer.token_endpoint.opaque_prefix = ""
        before = (
            issuer.token_endpoint.introspection_requests,
            other.token_endpoint.introspection_requests,
        )
        from_a = client.get("/whoami", headers={"Authorization": f"Bearer {ours}"})
        theirs = other.mint_opaque(sub="bob")
        from_b = client.get("/whoami", headers={"Authorization": f"Bearer {theirs}"})
        nobody = client.get("/whoami", headers={"Authorization": "Bearer c_" + "x" * 40})
        after = (
            issuer.token_endpoint.introspection_requests,
            other.token_endpoint.introspection_requests,
        )
    assert (from_a.status_code, from_a.json) == (200, {"sub": "alice"})
    assert (from_b.status_code, from_b.json) == (200, {"sub": "bob"})
    assert nobody.status_code == 401
    assert 'error="invalid_token"' in nobody.headers["WWW-Authenticate"]
    assert after == (before[0] + 1, before[1] + 1)
