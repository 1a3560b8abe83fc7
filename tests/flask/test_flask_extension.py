"""The extension: configuration, several apps, answers, error handlers, unknown URLs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dpop_challenge import BARE, with_dpop
from flask import Blueprint, Flask, g, jsonify
from werkzeug.exceptions import HTTPException

from audmw import ConfigurationError, Settings
from audmw.testing import LocalIssuer
from audmw_flask import (
    Audmw,
    AudmwState,
    Refusal,
    ScopeRequired,
    TokenRequired,
    current_token,
    public,
    require_scopes,
)

AUDIENCE = "https://api.example.com"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- configuration -------------------------------------------------------------------------


def test_config_from_app_config_and_state_in_extensions(make_app, issuer: LocalIssuer) -> None:
    app = make_app(leeway=5, realm="reports", exempt_paths=["/health"])
    state = app.extensions["audmw"]
    assert isinstance(state, AudmwState)
    assert state.settings.issuer == (issuer.issuer,)
    assert state.settings.audience == (AUDIENCE,)
    assert state.settings.leeway == 5
    assert state.settings.realm == "reports"


def test_missing_audience_raises_at_init_app(issuer: LocalIssuer) -> None:
    app = Flask(__name__)
    app.config["AUDMW_ISSUER"] = issuer.issuer
    with pytest.raises(ConfigurationError, match="AUDMW_AUDIENCE"):
        Audmw(app)
    assert "audmw" not in app.extensions


def test_misspelt_key_raises_at_init_app(issuer: LocalIssuer) -> None:
    app = Flask(__name__)
    app.config.update(AUDMW_ISSUER=issuer.issuer, AUDMW_AUDIENCE=AUDIENCE, AUDMW_AUDIENCES="x")
    with pytest.raises(ConfigurationError, match="unknown setting AUDMW_AUDIENCES"):
        Audmw().init_app(app)


def test_plain_http_issuer_raises(issuer: LocalIssuer) -> None:
    app = Flask(__name__)
    app.config.update(AUDMW_ISSUER="http://issuer.example.com", AUDMW_AUDIENCE=AUDIENCE)
    with pytest.raises(ConfigurationError, match="https://"):
        Audmw(app)


def test_application_factory_two_apps_with_their_own_audiences(issuer: LocalIssuer) -> None:
    audmw = Audmw()

    def create_app(audience: str) -> Flask:
        app = Flask(__name__)
        app.config.update(AUDMW_ISSUER=issuer.issuer, AUDMW_AUDIENCE=audience)
        audmw.init_app(app)

        @app.get("/who")
        def who() -> dict[str, object]:
            return {"aud": list(current_token.audience)}

        return app

    orders = create_app("https://orders.example.com").test_client()
    billing = create_app("https://billing.example.com").test_client()
    for_orders = bearer(issuer.mint(aud="https://orders.example.com"))
    for_billing = bearer(issuer.mint(aud="https://billing.example.com"))

    assert orders.get("/who", headers=for_orders).json == {"aud": ["https://orders.example.com"]}
    assert billing.get("/who", headers=for_billing).status_code == 200
    refused = billing.get("/who", headers=for_orders)
    assert refused.status_code == 401
    assert refused.json["error"] == "invalid_token"
    assert orders.get("/who", headers=for_billing).status_code == 401


def test_settings_object_and_settings_rules(issuer: LocalIssuer) -> None:
    app = Flask(__name__)
    rules = [{"path": "/reports/**", "methods": ["GET"], "scopes": ["reports"]}]
    Audmw(app, settings=Settings(issuer=issuer.issuer, audience=AUDIENCE, rules=rules))
    app.add_url_rule("/reports/q1", view_func=lambda: "q1")
    client = app.test_client()
    assert client.get("/reports/q1", headers=bearer(issuer.mint())).status_code == 403
    allowed = bearer(issuer.mint(scopes="reports"))
    assert client.get("/reports/q1", headers=allowed).status_code == 200


def test_rules_from_app_config_json(make_app, issuer: LocalIssuer) -> None:
    app = make_app(rules=json.dumps([{"path": "/ping", "public": True}]))
    app.add_url_rule("/ping", view_func=lambda: "pong")
    assert app.test_client().get("/ping").status_code == 200


# -- on success ----------------------------------------------------------------------------


def test_access_token_in_g_and_current_token(make_app, issuer: LocalIssuer) -> None:
    app = make_app()
    seen = {}

    @app.get("/me")
    def me() -> str:
        seen["g"] = g.access_token
        seen["proxy"] = (current_token.subject, current_token.scopes, current_token.client_id)
        return "ok"

    @app.get("/open")
    @public
    def open_view() -> dict[str, object]:
        return {"g": g.access_token, "proxy": current_token == None}  # noqa: E711

    client = app.test_client()
    assert client.get("/me", headers=bearer(issuer.mint(scopes="a b"))).status_code == 200
    assert seen["g"].subject == "user-123"
    assert seen["proxy"] == ("user-123", frozenset({"a", "b"}), "test-client")
    assert client.get("/open").json == {"g": None, "proxy": True}


# -- answers -------------------------------------------------------------------------------


def test_missing_token_is_a_bare_challenge(make_app) -> None:
    app = make_app(realm="api")
    app.add_url_rule("/x", view_func=lambda: "x")
    response = app.test_client().get("/x")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == with_dpop('Bearer realm="api"', "api")
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json == {
        "error": "unauthorized",
        "error_description": "A bearer access token is required",
    }


def test_invalid_token_answer_holds_no_token(make_app, issuer: LocalIssuer, caplog) -> None:
    app = make_app()
    app.add_url_rule("/x", view_func=lambda: "x")
    caplog.set_level("INFO", logger="audmw")
    token = issuer.mint(aud="https://other.example.com")
    response = app.test_client().get("/x", headers=bearer(token))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert response.json["error"] == "invalid_token"
    assert token not in response.get_data(as_text=True)
    assert token not in caplog.text
    assert "reason=aud_mismatch" in caplog.text


def test_two_methods_and_malformed_header_are_400(make_app, issuer: LocalIssuer) -> None:
    app = make_app()
    app.add_url_rule("/x", view_func=lambda: "x")
    client = app.test_client()
    token = issuer.mint()
    both = client.get(f"/x?access_token={token}", headers=bearer(token))
    assert both.status_code == 400
    assert both.json["error"] == "invalid_request"
    twice = client.get("/x", headers=[("Authorization", f"Bearer {token}")] * 2)
    assert twice.status_code == 400
    assert client.get("/x", headers={"Authorization": "Bearer a b"}).status_code == 400
    query_only = client.get(f"/x?access_token={token}")
    assert query_only.status_code == 401
    assert query_only.headers["WWW-Authenticate"] == BARE


def test_insufficient_scope_answer(make_app, issuer: LocalIssuer) -> None:
    app = make_app()
    app.add_url_rule("/x", view_func=require_scopes("write")(lambda: "x"))
    response = app.test_client().get("/x", headers=bearer(issuer.mint(scopes="read")))
    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == with_dpop(
        'Bearer error="insufficient_scope", error_description="The access token lacks the '
        'scope this resource requires", scope="write"'
    )
    assert response.json["scope"] == "write"


def test_keys_unavailable_is_503_with_retry_after(make_app, issuer: LocalIssuer) -> None:
    with LocalIssuer() as down:
        app = Flask(__name__)
        app.config.update(AUDMW_ISSUER=down.issuer, AUDMW_AUDIENCE=AUDIENCE, AUDMW_HTTP_TIMEOUT=2)
        Audmw(app)
        app.add_url_rule("/x", view_func=lambda: "x")
        app.add_url_rule("/open", "open", public(lambda: "open"))
        down.set_mode("error")
        client = app.test_client()
        assert client.get("/open").status_code == 200  # lazy discovery: nothing fetched yet
        response = client.get("/x", headers=bearer(down.mint()))
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
    assert "WWW-Authenticate" not in response.headers
    assert response.json["error"] == "temporarily_unavailable"


# -- unknown URLs, wrong methods, static files, exempt paths -------------------------------


def test_unknown_url_and_wrong_method_need_a_token_first(make_app, issuer: LocalIssuer) -> None:
    app = make_app()
    app.add_url_rule("/only-get", view_func=lambda: "x")
    client = app.test_client()
    assert client.get("/no/such/page").status_code == 401
    assert client.post("/only-get").status_code == 401
    token = bearer(issuer.mint())
    assert client.get("/no/such/page", headers=token).status_code == 404
    assert client.post("/only-get", headers=token).status_code == 405


def test_static_files_need_a_token_unless_exempt(make_app, tmp_path: Path) -> None:
    (tmp_path / "site.css").write_text("body {}")
    for exempt, expected in (((), 401), (["/static/**"], 200)):
        app = make_app(install=False, exempt_paths=exempt)
        app.static_folder = str(tmp_path)
        Audmw(app)
        assert app.test_client().get("/static/site.css").status_code == expected


def test_exempt_paths(make_app) -> None:
    app = make_app(exempt_paths="/health /docs/**")
    app.add_url_rule("/health", "health", lambda: "up")
    app.add_url_rule("/docs/<path:page>", "docs", lambda page: page)
    app.add_url_rule("/private", view_func=lambda: "x")
    client = app.test_client()
    assert client.get("/health").status_code == 200
    assert client.get("/docs/a/b").status_code == 200
    assert client.get("/healthz").status_code == 401
    assert client.get("/private").status_code == 401


# -- the app's own error handlers and before_request functions -----------------------------


def test_app_error_handler_sees_the_refusal_and_may_override(make_app, issuer: LocalIssuer) -> None:
    app = make_app()
    app.add_url_rule("/x", view_func=require_scopes("write")(lambda: "x"))
    seen: list[HTTPException] = []

    @app.errorhandler(401)
    def unauthorized(error: HTTPException):
        seen.append(error)
        assert isinstance(error, TokenRequired)
        response = jsonify(message="please sign in", reason=error.error.reason)
        response.status_code = 401
        response.headers["WWW-Authenticate"] = error.get_response().headers["WWW-Authenticate"]
        return response

    @app.errorhandler(403)
    def forbidden(error: HTTPException):
        seen.append(error)
        return error.get_response()  # keep audmw's answer

    client = app.test_client()
    response = client.get("/x")
    assert response.status_code == 401
    assert response.json == {"message": "please sign in", "reason": "no_token"}
    assert response.headers["WWW-Authenticate"] == BARE
    scoped = client.get("/x", headers=bearer(issuer.mint(scopes="read")))
    assert scoped.status_code == 403
    assert scoped.json["error"] == "insufficient_scope"
    assert [type(e) for e in seen] == [TokenRequired, ScopeRequired]


def test_handler_for_refusal_class_and_blueprint_handlers(make_app, issuer: LocalIssuer) -> None:
    app = make_app()
    bp = Blueprint("bp", __name__, url_prefix="/bp")
    bp.add_url_rule("/x", view_func=lambda: "x")

    @bp.errorhandler(401)
    def bp_unauthorized(error: Refusal):
        return {"blueprint": True, "status": error.code}, 401

    app.register_blueprint(bp)
    app.add_url_rule("/y", view_func=lambda: "y")

    @app.errorhandler(Refusal)
    def refused(error: Refusal):
        return {"app": True, "status": error.answer.status}, error.answer.status

    client = app.test_client()
    assert client.get("/bp/x").json == {"blueprint": True, "status": 401}
    assert client.get("/y").json == {"app": True, "status": 401}


def test_no_before_request_function_runs_for_a_refused_request(make_app) -> None:
    app = make_app(install=False)
    ran: list[str] = []
    app.before_request(lambda: ran.append("app hook"))
    Audmw(app)
    app.add_url_rule("/x", view_func=lambda: "x")
    assert app.test_client().get("/x").status_code == 401
    assert ran == []


def test_app_without_the_extension_is_untouched(make_app) -> None:
    protected = make_app()
    other = make_app(install=False)
    other.add_url_rule("/x", view_func=lambda: "x")
    protected.add_url_rule("/x", view_func=lambda: "x")
    assert other.test_client().get("/x").status_code == 200
    assert protected.test_client().get("/x").status_code == 401


def test_redirect_to_a_slash_url_needs_a_token_first(make_app, issuer: LocalIssuer) -> None:
    app = make_app()
    app.add_url_rule("/folder/", "folder", lambda: "folder")
    client = app.test_client()
    assert client.get("/folder").status_code == 401
    assert client.get("/folder", headers=bearer(issuer.mint())).status_code == 308


def test_init_app_again_replaces_the_check(make_app, issuer: LocalIssuer) -> None:
    app = make_app()
    app.add_url_rule("/x", "x", lambda: "x")
    app.config["AUDMW_AUDIENCE"] = "https://new.example.com"
    Audmw(app)
    assert app.before_request_funcs[None] == [app.extensions["audmw"].check_request]
    client = app.test_client()
    old = bearer(issuer.mint(aud=AUDIENCE))
    assert client.get("/x", headers=old).status_code == 401
    new = bearer(issuer.mint(aud="https://new.example.com"))
    assert client.get("/x", headers=new).status_code == 200
