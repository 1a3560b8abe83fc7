"""Which views need which token: decorators in every order, MethodView, blueprints, async."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import pytest
from dpop_challenge import with_dpop
from flask import Blueprint, Flask, g
from flask.views import MethodView, View

from audmw import ConfigurationError
from audmw.testing import LocalIssuer
from audmw_flask import (
    Audmw,
    current_token,
    protect,
    public,
    require_any_scope,
    require_authentication,
    require_scopes,
    require_user,
)

Mark = Callable[[Callable[..., Any]], Callable[..., Any]]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def add_view(app: Flask, path: str, view: Callable[..., Any], marks: list[Mark], order: str):
    """Register ``view`` with ``marks`` applied before (below) or after (above) ``@app.route``."""
    if order == "marks_below_route":
        for mark in reversed(marks):
            view = mark(view)
        app.route(path)(view)
    else:
        app.route(path)(view)
        for mark in reversed(marks):
            mark(view)


ORDERS = ["marks_below_route", "marks_above_route"]


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_require_scopes_in_either_order(make_app, issuer: LocalIssuer, order, is_async) -> None:
    app = make_app()
    ran: list[str] = []

    if is_async:

        async def report() -> dict[str, Any]:
            ran.append("report")
            return {"sub": current_token.subject}
    else:

        def report() -> dict[str, Any]:
            ran.append("report")
            return {"sub": current_token.subject}

    add_view(app, "/report", report, [require_scopes("read:reports", "export")], order)
    client = app.test_client()

    partial = client.get("/report", headers=bearer(issuer.mint(scopes="read:reports")))
    assert partial.status_code == 403
    assert partial.json["scope"] == "export read:reports"
    assert client.get("/report").status_code == 401
    assert ran == []  # the view never ran for a refused request

    full = client.get("/report", headers=bearer(issuer.mint(scopes="export read:reports")))
    assert full.status_code == 200
    assert full.json == {"sub": "user-123"}
    assert ran == ["report"]


@pytest.mark.parametrize("order", ORDERS)
def test_require_any_scope_in_either_order(make_app, issuer: LocalIssuer, order) -> None:
    app = make_app()
    add_view(app, "/files", lambda: "ok", [require_any_scope("files:read", "files:all")], order)
    client = app.test_client()
    assert client.get("/files", headers=bearer(issuer.mint(scopes="other"))).status_code == 403
    assert client.get("/files", headers=bearer(issuer.mint(scopes="files:all"))).status_code == 200


@pytest.mark.parametrize("order", ORDERS)
def test_public_in_either_order_never_reads_the_token(make_app, order, caplog) -> None:
    app = make_app()

    def health() -> dict[str, Any]:
        return {"token": g.access_token}

    add_view(app, "/health", health, [public], order)
    client = app.test_client()
    caplog.set_level("INFO", logger="audmw")
    # A malformed header would be a 400 anywhere the token is read.
    response = client.get("/health", headers={"Authorization": "Bearer not a token"})
    assert response.status_code == 200
    assert response.json == {"token": None}
    assert caplog.records == []


def test_marks_stack_on_one_view(make_app, issuer: LocalIssuer) -> None:
    app = make_app()

    @app.get("/both")
    @require_scopes("a")
    @require_any_scope("b", "c")
    def both() -> str:
        return "ok"

    client = app.test_client()
    assert client.get("/both", headers=bearer(issuer.mint(scopes="a"))).status_code == 403
    assert client.get("/both", headers=bearer(issuer.mint(scopes="b c"))).status_code == 403
    assert client.get("/both", headers=bearer(issuer.mint(scopes="a c"))).status_code == 200


def test_unmarked_view_needs_a_valid_token(make_app, issuer: LocalIssuer) -> None:
    app = make_app()
    ran: list[int] = []
    app.add_url_rule("/plain", view_func=lambda: ran.append(1) or "ok")
    client = app.test_client()
    assert client.get("/plain").status_code == 401
    bad_aud = issuer.mint(aud="https://other.example.com")
    assert client.get("/plain", headers=bearer(bad_aud)).status_code == 401
    assert ran == []
    assert client.get("/plain", headers=bearer(issuer.mint())).status_code == 200


class Document(MethodView):
    calls: list[str] = []  # noqa: RUF012

    @require_scopes("docs:read")
    def get(self) -> str:
        self.calls.append("get")
        return "document"

    @require_scopes("docs:write")
    def put(self) -> str:
        self.calls.append("put")
        return "saved"

    @public
    def options(self) -> str:
        return "GET, PUT"

    def delete(self) -> str:
        self.calls.append("delete")
        return "deleted"


@require_scopes("docs")
class ScopedDocument(Document):
    pass


def test_method_view_per_method_scopes(make_app, issuer: LocalIssuer) -> None:
    app = make_app()
    app.add_url_rule("/doc", view_func=Document.as_view("doc"))
    client = app.test_client()
    Document.calls.clear()
    reader = bearer(issuer.mint(scopes="docs:read"))
    writer = bearer(issuer.mint(scopes="docs:write"))

    assert client.get("/doc", headers=reader).status_code == 200
    assert client.head("/doc", headers=reader).status_code == 200  # HEAD is served by get
    assert client.head("/doc", headers=writer).status_code == 403
    assert client.put("/doc", headers=reader).status_code == 403
    assert client.put("/doc", headers=writer).status_code == 200
    assert client.get("/doc", headers=writer).status_code == 403
    assert client.delete("/doc").status_code == 401  # unmarked method: any valid token
    assert client.delete("/doc", headers=writer).status_code == 200
    assert client.options("/doc").status_code == 200  # public method
    assert Document.calls == ["get", "get", "put", "delete"]


def test_class_mark_combines_with_method_marks(make_app, issuer: LocalIssuer) -> None:
    app = make_app()
    app.add_url_rule("/scoped", view_func=ScopedDocument.as_view("scoped"))
    client = app.test_client()
    only_method = bearer(issuer.mint(scopes="docs:read"))
    assert client.get("/scoped", headers=only_method).status_code == 403
    both = bearer(issuer.mint(scopes="docs docs:read"))
    assert client.get("/scoped", headers=both).status_code == 200
    assert client.delete("/scoped", headers=only_method).status_code == 403
    # @public on a method does not loosen the class's requirement.
    assert client.options("/scoped").status_code == 401
    assert client.options("/scoped", headers=bearer(issuer.mint(scopes="docs"))).status_code == 200


def test_view_class_decorators_and_marked_as_view(make_app, issuer: LocalIssuer) -> None:
    class Export(View):
        decorators = [require_scopes("export")]  # noqa: RUF012

        def dispatch_request(self) -> str:
            return "exported"

    class Ping(View):
        def dispatch_request(self) -> str:
            return "pong"

    app = make_app()
    app.add_url_rule("/export", view_func=Export.as_view("export"))
    app.add_url_rule("/ping", view_func=public(Ping.as_view("ping")))
    client = app.test_client()
    assert client.get("/export", headers=bearer(issuer.mint())).status_code == 403
    assert client.get("/export", headers=bearer(issuer.mint(scopes="export"))).status_code == 200
    assert client.get("/ping").status_code == 200


def test_async_method_view(make_app, issuer: LocalIssuer) -> None:
    class Feed(MethodView):
        @require_scopes("feed")
        async def get(self) -> dict[str, Any]:
            return {"sub": current_token.subject, "scopes": sorted(current_token.scopes)}

    app = make_app()
    app.add_url_rule("/feed", view_func=Feed.as_view("feed"))
    client = app.test_client()
    assert client.get("/feed", headers=bearer(issuer.mint(scopes="other"))).status_code == 403
    response = client.get("/feed", headers=bearer(issuer.mint(scopes="feed")))
    assert response.json == {"sub": "user-123", "scopes": ["feed"]}


def test_blueprint_requirement_combines_with_route_requirement(
    make_app, issuer: LocalIssuer
) -> None:
    ran: list[str] = []
    reports = protect(Blueprint("reports", __name__, url_prefix="/reports"), scopes=["reports"])

    @reports.get("/")
    def index() -> str:
        ran.append("index")
        return "index"

    @require_scopes("export")
    @reports.get("/export")
    def export() -> str:
        ran.append("export")
        return "export"

    @reports.get("/about")
    @public
    def about() -> str:
        return "about"

    app = make_app()
    app.register_blueprint(reports)
    client = app.test_client()

    route_only = bearer(issuer.mint(scopes="export"))
    response = client.get("/reports/export", headers=route_only)
    assert response.status_code == 403
    assert response.json["scope"] == "export reports"
    assert client.get("/reports/", headers=route_only).status_code == 403
    assert client.get("/reports/", headers=bearer(issuer.mint())).status_code == 403
    assert ran == []

    both = bearer(issuer.mint(scopes="reports export"))
    assert client.get("/reports/export", headers=both).status_code == 200
    assert client.get("/reports/", headers=bearer(issuer.mint(scopes="reports"))).status_code == 200
    # @public on a view does not loosen its blueprint's requirement.
    assert client.get("/reports/about").status_code == 401
    assert client.get("/reports/about", headers=route_only).status_code == 403
    assert client.get("/reports/about", headers=both).status_code == 200
    assert ran == ["export", "index"]


def test_nested_blueprints_and_decorated_blueprint(make_app, issuer: LocalIssuer) -> None:
    admin = require_scopes("admin")(Blueprint("admin", __name__, url_prefix="/admin"))
    users = protect(
        Blueprint("users", __name__, url_prefix="/users"), any_scopes="users:read users:all"
    )

    @users.get("/")
    def list_users() -> str:
        return "users"

    admin.register_blueprint(users)
    app = make_app()
    app.register_blueprint(admin)
    client = app.test_client()
    only_outer = bearer(issuer.mint(scopes="admin"))
    assert client.get("/admin/users/", headers=only_outer).status_code == 403
    only_inner = bearer(issuer.mint(scopes="users:all"))
    assert client.get("/admin/users/", headers=only_inner).status_code == 403
    both = bearer(issuer.mint(scopes="admin users:read"))
    assert client.get("/admin/users/", headers=both).status_code == 200


def test_public_blueprint_with_a_scoped_route(make_app, issuer: LocalIssuer) -> None:
    site = public(Blueprint("site", __name__))

    @site.get("/home")
    def home() -> str:
        return "home"

    @site.get("/account")
    @require_scopes("account")
    def account() -> str:
        return "account"

    app = make_app()
    app.register_blueprint(site)
    client = app.test_client()
    assert client.get("/home").status_code == 200
    assert client.get("/account").status_code == 401  # a route's scopes are never dropped
    assert client.get("/account", headers=bearer(issuer.mint(scopes="account"))).status_code == 200


def test_same_blueprint_on_two_apps(make_app, issuer: LocalIssuer) -> None:
    shared = protect(Blueprint("shared", __name__), scopes=["shared"])
    shared.add_url_rule("/s", view_func=lambda: "s")
    first, second = make_app(), make_app()
    first.register_blueprint(shared)
    second.register_blueprint(shared, name="renamed", url_prefix="/r")
    token = bearer(issuer.mint(scopes="other"))
    assert first.test_client().get("/s", headers=token).status_code == 403
    assert second.test_client().get("/r/s", headers=token).status_code == 403


def _hide(view: Any) -> Any:
    """A decorator without functools.wraps: the wrapper carries none of the view's marks."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return view(*args, **kwargs)

    return wrapper


def test_a_mark_hidden_by_a_decorator_stops_init_app(make_app) -> None:
    app = make_app(install=False)

    @app.get("/hidden")
    @_hide
    @require_scopes("admin")
    def hidden() -> str:
        return "hidden"

    with pytest.raises(ConfigurationError, match=r"/hidden: the mark on .*hidden cannot take"):
        Audmw(app)


def test_a_mark_on_a_method_that_is_no_handler_stops_the_first_request(make_app) -> None:
    class Reports(MethodView):
        def get(self) -> str:
            return "reports"

        @require_scopes("admin")
        def export(self) -> str:  # Flask never calls it for a request
            return "export"

    app = make_app()  # installed before the view is registered, as app factories do
    app.add_url_rule("/reports", view_func=Reports.as_view("reports"))
    app.testing = False
    with pytest.raises(ConfigurationError, match=r"Reports\.export cannot take effect"):
        app.extensions["audmw"].check_request()
    response = app.test_client().get("/reports")
    assert response.status_code == 500


def test_marks_kept_by_functools_wraps_pass_the_check(make_app, issuer: LocalIssuer) -> None:
    app = make_app(install=False)

    def logged(view: Any) -> Any:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return view(*args, **kwargs)

        return wrapper

    @app.get("/kept")
    @logged
    @require_scopes("admin")
    def kept() -> str:
        return "kept"

    Audmw(app)
    client = app.test_client()
    assert client.get("/kept", headers=bearer(issuer.mint())).status_code == 403
    assert client.get("/kept", headers=bearer(issuer.mint(scopes="admin"))).status_code == 200


def test_a_blueprint_asks_for_the_users_authentication_and_its_views_for_more(
    make_app, issuer: LocalIssuer
) -> None:
    payments = protect(
        Blueprint("payments", __name__, url_prefix="/payments"),
        acr_values=["phr", "phrh"],
        max_age=600,
    )
    require_user(payments)

    @payments.get("/")
    def index() -> str:
        return "index"

    @require_authentication(acr_values=["phrh"], max_age=60)
    @payments.post("/")
    def create() -> str:
        return "created"

    app = make_app()
    app.register_blueprint(payments)
    client = app.test_client()
    now = int(time.time())

    fresh_phr = bearer(issuer.mint(acr="phr", auth_time=now - 5))
    assert client.get("/payments/", headers=fresh_phr).status_code == 200
    refused = client.post("/payments/", headers=fresh_phr)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == with_dpop(
        'Bearer error="insufficient_user_authentication", error_description="The user '
        'authentication does not meet the requirements of this resource", '
        'acr_values="phrh", max_age="60"'
    )
    assert refused.json["acr_values"] == "phrh"
    assert refused.json["max_age"] == 60
    assert (
        client.post(
            "/payments/", headers=bearer(issuer.mint(acr="phrh", auth_time=now - 5))
        ).status_code
        == 200
    )
    stale = client.get("/payments/", headers=bearer(issuer.mint(acr="phr", auth_time=now - 900)))
    assert stale.status_code == 401
    assert stale.json["error_description"] == "A more recent authentication is required"
    app_token = bearer(issuer.mint(sub=None, acr="phr", auth_time=now))
    assert client.get("/payments/", headers=app_token).status_code == 403
