"""``prefetch_keys``: the lifespan start-up fetches the issuers' keys, and an issuer that is
down at start-up does not stop the app (its requests get 503 until a fetch works)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from audmw import Settings
from audmw.starlette import AudienceMiddleware, public
from audmw.testing import LocalIssuer
from example_apps import fastapi_app

AUDIENCE = "https://api.example.com"


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    """An issuer of its own: the test counts every request it serves."""
    with LocalIssuer() as local:
        yield local


async def me(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.user.identity)


@public
async def home(request: Request) -> PlainTextResponse:
    return PlainTextResponse("home")


def _app(settings: Settings) -> Starlette:
    return Starlette(
        routes=[Route("/", home), Route("/me", me)],
        middleware=[Middleware(AudienceMiddleware, settings)],
    )


def test_the_keys_are_fetched_when_the_app_starts(issuer: LocalIssuer) -> None:
    app = _app(Settings(issuer=issuer.issuer, audience=AUDIENCE, prefetch_keys=True))
    with TestClient(app) as client:
        # Started, no request served yet: discovery and keys are in.
        assert (issuer.discovery_requests, issuer.jwks_requests) == (1, 1)
        token = issuer.mint(aud=AUDIENCE)
        response = client.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
        assert response.text == "user-123"
    assert (issuer.discovery_requests, issuer.jwks_requests) == (1, 1)


def test_without_it_the_first_request_fetches(issuer: LocalIssuer) -> None:
    app = _app(Settings(issuer=issuer.issuer, audience=AUDIENCE))
    with TestClient(app) as client:
        assert (issuer.discovery_requests, issuer.jwks_requests) == (0, 0)
        token = issuer.mint(aud=AUDIENCE)
        assert client.get("/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert (issuer.discovery_requests, issuer.jwks_requests) == (1, 1)


def test_an_issuer_down_at_start_up_does_not_stop_the_app(
    issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="audmw")
    settings = Settings(issuer=issuer.issuer, audience=AUDIENCE, prefetch_keys=True)
    token = issuer.mint(aud=AUDIENCE)
    issuer.stop()  # nothing answers at its address any more
    with TestClient(_app(settings)) as client:
        assert "reason=prefetch_failed" in caplog.text
        assert client.get("/").text == "home"
        response = client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
    assert "reason=keys_unavailable" in caplog.text


def test_fastapi_example_app_prefetches_with_the_environment_variable(
    issuer: LocalIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDMW_ISSUER", issuer.issuer)
    monkeypatch.setenv("AUDMW_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("AUDMW_PREFETCH_KEYS", "true")
    with TestClient(fastapi_app.create_app()):
        assert issuer.jwks_requests == 1
