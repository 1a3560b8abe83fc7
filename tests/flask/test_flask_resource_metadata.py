"""RFC 9728 metadata and challenges through the Flask extension (Flask's test client)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from dpop_challenge import BARE
from flask import Blueprint, Flask
from flask.views import MethodView
from resource_metadata_checks import (
    check_challenges,
    check_deny_by_default,
    check_document,
    settings_for,
)

from audmw.testing import LocalIssuer
from audmw_flask import Audmw, protect, public, require_scopes


class Admin(MethodView):
    @require_scopes("notes:read", "admin")
    def get(self) -> dict[str, Any]:
        return {"ok": True}


def build(issuer: LocalIssuer, **settings: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(TESTING=True)
    app.config.update({"AUDMW_" + name: value for name, value in settings.items()})

    @app.get("/public")
    @public
    def open_route() -> dict[str, Any]:
        return {}

    @app.get("/api/me")
    def me() -> dict[str, Any]:
        return {}

    @app.get("/api/notes")
    @require_scopes("notes:read")
    def notes() -> dict[str, Any]:
        return {}

    app.add_url_rule("/api/admin", view_func=Admin.as_view("admin"))
    either = protect(Blueprint("either", __name__), any_scopes=["x:one", "x:two"])

    @either.get("/api/either")
    def either_view() -> dict[str, Any]:
        return {}

    app.register_blueprint(either)
    Audmw(app)
    return app


@pytest.fixture
def fetch(issuer: LocalIssuer) -> Callable[..., Any]:
    client = build(issuer, **settings_for(issuer)).test_client()

    def get(method: str, path: str, headers: Mapping[str, str]) -> tuple[int, Any, bytes]:
        response = client.open(path, method=method, headers=dict(headers))
        found = {name.lower(): value for name, value in response.headers.items()}
        return response.status_code, found, response.get_data()

    return get


def test_the_document_at_both_locations(fetch: Any, issuer: LocalIssuer) -> None:
    check_document(fetch, issuer)


def test_everything_else_stays_deny_by_default(fetch: Any) -> None:
    check_deny_by_default(fetch)


def test_challenges_name_the_metadata(fetch: Any, issuer: LocalIssuer) -> None:
    check_challenges(fetch, issuer)


def test_without_a_resource_nothing_is_served(issuer: LocalIssuer) -> None:
    app = build(issuer, ISSUER=issuer.issuer, AUDIENCE="https://api.example.com")
    response = app.test_client().get("/.well-known/oauth-protected-resource")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == BARE
