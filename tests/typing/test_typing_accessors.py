"""The typed accessors give the verified token, None where there is none, and
``require_access_token`` raises ``NoAccessToken`` there; the Flask proxy keeps working.

Django's run in a project of their own (``tests/testing``), so that this suite's Django
configuration stays untouched."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from audmw import Settings
from audmw.access import NoAccessToken, access_token, require_access_token
from audmw.starlette import AudienceMiddleware, public
from audmw.testing import LocalIssuer
from audmw_flask import Audmw, current_token, get_current_token


async def me(request: Request) -> JSONResponse:
    token = access_token(request)
    return JSONResponse({"sub": token.subject if token else None})


@public
async def open_info(request: Request) -> JSONResponse:
    return JSONResponse({"token": access_token(request) is not None})


@public
async def open_but_requires(request: Request) -> JSONResponse:
    return JSONResponse({"sub": require_access_token(request).subject})


async def feed(websocket: WebSocket) -> None:
    token = require_access_token(websocket)
    await websocket.accept()
    await websocket.send_json({"sub": token.subject})
    await websocket.close()


ROUTES = [
    Route("/me", me),
    Route("/open", open_info),
    Route("/open/requires", open_but_requires),
    WebSocketRoute("/feed", feed),
]


@pytest.fixture(scope="module")
def starlette_client(audmw_session_issuer: LocalIssuer) -> TestClient:
    settings = Settings.from_env(audmw_session_issuer.environ())
    app = Starlette(routes=ROUTES, middleware=[Middleware(AudienceMiddleware, settings)])
    return TestClient(app)


def test_starlette_gives_the_verified_token(
    starlette_client: TestClient, audmw_session_issuer: LocalIssuer
) -> None:
    response = starlette_client.get("/me", headers=audmw_session_issuer.bearer(sub="alice"))
    assert response.json() == {"sub": "alice"}
    with starlette_client.websocket_connect(
        "/feed", headers=audmw_session_issuer.bearer(sub="bob")
    ) as websocket:
        assert websocket.receive_json() == {"sub": "bob"}


def test_starlette_public_route_has_no_token(
    starlette_client: TestClient, audmw_session_issuer: LocalIssuer
) -> None:
    headers = audmw_session_issuer.bearer(sub="alice")
    assert starlette_client.get("/open", headers=headers).json() == {"token": False}
    with pytest.raises(NoAccessToken, match="the route is public"):
        starlette_client.get("/open/requires", headers=headers)


def test_starlette_without_the_middleware_has_no_token(audmw_session_issuer: LocalIssuer) -> None:
    client = TestClient(Starlette(routes=ROUTES))
    response = client.get("/me", headers=audmw_session_issuer.bearer(sub="alice"))
    assert response.json() == {"sub": None}


def flask_app(issuer: LocalIssuer) -> Flask:
    app = Flask(__name__)
    app.config.update(issuer.flask_config())

    @app.get("/me")
    def flask_me() -> dict[str, Any]:
        token = get_current_token()
        return {"sub": token.subject if token else None, "proxy": current_token.subject}

    @app.get("/open")
    @public
    def flask_open() -> dict[str, Any]:
        return {"token": get_current_token() is not None}

    Audmw(app)
    return app


def test_flask_gives_the_verified_token_and_the_proxy_still_works(
    audmw_session_issuer: LocalIssuer,
) -> None:
    client = flask_app(audmw_session_issuer).test_client()
    response = client.get("/me", headers=audmw_session_issuer.bearer(sub="alice"))
    assert response.json == {"sub": "alice", "proxy": "alice"}
    headers = audmw_session_issuer.bearer(sub="alice")
    assert client.get("/open", headers=headers).json == {"token": False}
