"""Requests shaped to slip past the extension, through Flask's real test client."""

from __future__ import annotations

from collections.abc import Callable

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
