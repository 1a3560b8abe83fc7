"""The issuer's helpers for testing an app, against real apps and the real validator."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from flask import Flask
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from audmw import Settings, TokenValidator
from audmw.starlette import AudienceMiddleware, require_scopes
from audmw.testing import (
    DEFAULT_AUDIENCE,
    LocalIssuer,
    assert_refused,
    challenge_params,
    generate_key,
    session_issuer,
)
from audmw_flask import Audmw

AUDIENCE = "https://reports.example.com"


def test_the_session_issuer_is_the_fixture_and_serves(audmw_session_issuer: LocalIssuer) -> None:
    assert session_issuer() is audmw_session_issuer
    metadata = httpx.get(audmw_session_issuer.issuer + "/.well-known/openid-configuration")
    assert metadata.json()["issuer"] == audmw_session_issuer.issuer


def test_audmw_issuer_is_another_one(
    audmw_issuer: LocalIssuer, audmw_session_issuer: LocalIssuer
) -> None:
    assert audmw_issuer.issuer != audmw_session_issuer.issuer


def test_bearer_is_an_authorization_header_the_validator_accepts(
    audmw_issuer: LocalIssuer,
) -> None:
    headers = audmw_issuer.bearer(scopes=["read:reports", "admin"], sub="alice", tenant="t1")
    assert list(headers) == ["Authorization"]
    scheme, _, raw = headers["Authorization"].partition(" ")
    assert scheme == "Bearer"
    validator = TokenValidator(Settings(issuer=audmw_issuer.issuer, audience=DEFAULT_AUDIENCE))
    token = validator.validate(raw)
    assert (token.subject, token.scopes, token.claims["tenant"]) == (
        "alice",
        {"read:reports", "admin"},
        "t1",
    )


def test_environ_names_the_issuer_and_the_audience(audmw_issuer: LocalIssuer) -> None:
    environ = audmw_issuer.environ(audience=AUDIENCE, exempt_paths="/health,/ready")
    assert environ == {
        "AUDMW_ISSUER": audmw_issuer.issuer,
        "AUDMW_AUDIENCE": AUDIENCE,
        "AUDMW_EXEMPT_PATHS": "/health,/ready",
    }
    settings = Settings.from_env(environ)
    assert (settings.issuer, settings.audience) == ((audmw_issuer.issuer,), (AUDIENCE,))


def test_the_audience_given_is_the_audience_of_later_tokens(audmw_issuer: LocalIssuer) -> None:
    assert audmw_issuer.environ()["AUDMW_AUDIENCE"] == DEFAULT_AUDIENCE
    settings = Settings.from_env(audmw_issuer.environ(audience=AUDIENCE))
    token = TokenValidator(settings).validate(audmw_issuer.mint())
    assert token.audience == (AUDIENCE,)
    assert audmw_issuer.flask_config()["AUDMW_AUDIENCE"] == AUDIENCE


def test_django_settings_are_the_audmw_dict(audmw_issuer: LocalIssuer) -> None:
    assert audmw_issuer.django_settings(audience=AUDIENCE, token_user=True) == {
        "ISSUER": audmw_issuer.issuer,
        "AUDIENCE": AUDIENCE,
        "TOKEN_USER": True,
    }


def test_flask_config_configures_the_extension(audmw_issuer: LocalIssuer) -> None:
    app = Flask(__name__)
    app.config.update(audmw_issuer.flask_config(audience=AUDIENCE, exempt_paths=["/health"]))
    settings = Audmw().init_app(app).settings
    assert (settings.issuer, settings.audience, settings.exempt_paths) == (
        (audmw_issuer.issuer,),
        (AUDIENCE,),
        ("/health",),
    )


@require_scopes("read:reports")
async def reports(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def starlette_client(issuer: LocalIssuer, realm: str | None = None) -> TestClient:
    settings = Settings(issuer=issuer.issuer, audience=issuer.audience, realm=realm)
    app = Starlette(
        routes=[Route("/reports", reports)], middleware=[Middleware(AudienceMiddleware, settings)]
    )
    return TestClient(app)


@pytest.fixture(scope="module")
def client(audmw_session_issuer: LocalIssuer) -> Iterator[TestClient]:
    with starlette_client(audmw_session_issuer, realm='the "reports" API') as client:
        yield client


@pytest.mark.parametrize(
    ("claims", "status", "error"),
    [
        ({"aud": "https://other.example"}, 401, "invalid_token"),
        ({"expires_in": -300}, 401, "invalid_token"),
        ({"key": generate_key("ec-p256"), "alg": "ES256"}, 401, "invalid_token"),
        ({"scopes": ["write:reports"]}, 403, "insufficient_scope"),
    ],
    ids=["audience", "expired", "unpublished-key", "scope"],
)
def test_assert_refused_accepts_the_refusal(
    client: TestClient,
    audmw_session_issuer: LocalIssuer,
    claims: dict[str, object],
    status: int,
    error: str,
) -> None:
    response = client.get("/reports", headers=audmw_session_issuer.bearer(**claims))
    assert_refused(response, status, error)
    with pytest.raises(AssertionError, match="expected a refusal with status 200"):
        assert_refused(response, 200)
    with pytest.raises(AssertionError, match="expected error='invalid_request'"):
        assert_refused(response, status, "invalid_request")


def test_assert_refused_without_a_token_expects_no_error_code(client: TestClient) -> None:
    response = client.get("/reports")
    assert_refused(response, 401)
    with pytest.raises(AssertionError, match="expected error='invalid_token'"):
        assert_refused(response, 401, "invalid_token")


def test_assert_refused_checks_the_scope_named(
    client: TestClient, audmw_session_issuer: LocalIssuer
) -> None:
    response = client.get("/reports", headers=audmw_session_issuer.bearer())
    assert_refused(response, 403, "insufficient_scope", scope="read:reports")
    with pytest.raises(AssertionError, match="expected scope='admin'"):
        assert_refused(response, 403, "insufficient_scope", scope="admin")


def test_assert_refused_needs_a_bearer_challenge(
    client: TestClient, audmw_session_issuer: LocalIssuer
) -> None:
    accepted = client.get("/reports", headers=audmw_session_issuer.bearer(scopes="read:reports"))
    with pytest.raises(AssertionError, match="expected a Bearer challenge"):
        assert_refused(accepted, 200)


def test_assert_refused_expects_retry_after_on_503(audmw_issuer: LocalIssuer) -> None:
    audmw_issuer.set_mode("error")
    with starlette_client(audmw_issuer) as client:
        response = client.get("/reports", headers=audmw_issuer.bearer(scopes="read:reports"))
    assert_refused(response, 503)
    with pytest.raises(AssertionError, match="expected a refusal with status 401"):
        assert_refused(response, 401, "invalid_token")


def test_challenge_params_reads_quoted_strings(client: TestClient) -> None:
    challenge = client.get("/reports").headers["WWW-Authenticate"]
    assert challenge_params(challenge) == {"realm": 'the "reports" API'}
    assert challenge_params('Bearer error="invalid_token", error_description="a, b=c"') == {
        "error": "invalid_token",
        "error_description": "a, b=c",
    }
