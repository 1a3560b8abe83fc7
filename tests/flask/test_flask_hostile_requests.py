"""Requests shaped to slip past the extension, through Flask's real test client."""

from __future__ import annotations

from collections.abc import Callable

from dpop_challenge import BARE
from flask import Flask

from audmw.testing import LocalIssuer


def test_a_get_rule_holds_for_head_requests(
    make_app: Callable[..., Flask], issuer: LocalIssuer
) -> None:
    # Flask routes HEAD to GET views: the rule's scopes must hold for it too.
    ran: list[str] = []
    app = make_app(rules=[{"methods": ["GET"], "path": "/reports/**", "scopes": ["read:reports"]}])

    @app.get("/reports/q")
    def report() -> dict[str, str]:
        from flask import request

        ran.append(request.method)
        return {"report": "secret"}

    client = app.test_client()
    without = {"Authorization": "Bearer " + issuer.mint(scopes=["profile"])}
    assert client.get("/reports/q", headers=without).status_code == 403
    head = client.head("/reports/q", headers=without)
    assert head.status_code == 403
    assert 'scope="read:reports"' in head.headers["WWW-Authenticate"]
    assert ran == []
    allowed = {"Authorization": "Bearer " + issuer.mint(scopes=["read:reports"])}
    assert client.head("/reports/q", headers=allowed).status_code == 200
    assert ran == ["HEAD"]


def test_a_scope_rule_holds_on_a_route_that_accepts_both_slashes(
    make_app: Callable[..., Flask], issuer: LocalIssuer
) -> None:
    # strict_slashes=False: Flask runs the view for "/admin" and "/admin/" alike.
    ran: list[str] = []
    app = make_app(rules=[{"path": "/admin/", "scopes": ["admin"]}])

    @app.get("/admin/", strict_slashes=False)
    def admin() -> dict[str, str]:
        from flask import request

        ran.append(request.path)
        return {"admin": "secret"}

    client = app.test_client()
    without = {"Authorization": "Bearer " + issuer.mint(scopes=["profile"])}
    assert client.get("/admin", headers=without).status_code == 403
    assert client.get("/admin/", headers=without).status_code == 403
    assert ran == []
    allowed = {"Authorization": "Bearer " + issuer.mint(scopes=["admin"])}
    assert client.get("/admin", headers=allowed).status_code == 200
    assert ran == ["/admin"]


def test_a_token_in_the_header_and_a_form_body_or_query_is_two_methods(
    make_app: Callable[..., Flask], issuer: LocalIssuer
) -> None:
    from flask import request

    app = make_app()
    notes: list[str] = []

    @app.post("/notes")
    def add() -> tuple[str, int]:
        notes.append(request.form["note"])  # the body is still there for the view
        return "added", 201

    client = app.test_client()
    token = issuer.mint()
    header = {"Authorization": f"Bearer {token}"}
    both = client.post("/notes", data={"note": "x", "access_token": token}, headers=header)
    assert both.status_code == 400
    assert 'error="invalid_request"' in both.headers["WWW-Authenticate"]
    encoded = client.post(f"/notes?access%5Ftoken={token}", data={"note": "x"}, headers=header)
    assert encoded.status_code == 400
    body_only = client.post("/notes", data={"access_token": token})
    assert body_only.status_code == 401
    assert body_only.headers["WWW-Authenticate"] == BARE
    assert notes == []
    assert client.post("/notes", data={"note": "kept"}, headers=header).status_code == 201
    assert notes == ["kept"]
