"""Requests shaped to slip past the middleware or to crash it, through a real Starlette app."""

from __future__ import annotations

import base64
import json

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette_contract import asgi_client, bearer

from audmw import Settings
from audmw.starlette import AudienceMiddleware
from audmw.testing import LocalIssuer

pytestmark = pytest.mark.anyio

AUDIENCE = "https://api.example.com"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def app_for(settings: Settings, ran: list[str]) -> Starlette:
    async def report(request: Request) -> JSONResponse:
        ran.append(f"{request.method} {request.url.path}")
        return JSONResponse({"report": "secret"})

    return Starlette(
        routes=[Route("/reports/q", report), Route("/admin/", report)],
        middleware=[Middleware(AudienceMiddleware, settings=settings)],
    )


async def test_deeply_nested_token_json_is_a_401_not_a_500(issuer: LocalIssuer) -> None:
    ran: list[str] = []
    app = app_for(Settings(issuer=issuer.issuer, audience=AUDIENCE), ran)
    deep = b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}"
    token = _b64(json.dumps({"alg": "RS256"}).encode()) + "." + _b64(deep) + ".c2ln"
    async with asgi_client(app) as client:
        response = await client.get("/reports/q", headers=bearer(token))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert ran == []


async def test_a_get_rule_holds_for_head_requests(issuer: LocalIssuer) -> None:
    # Starlette answers HEAD with the GET endpoint: the rule's scopes must hold for it too.
    ran: list[str] = []
    rules = [{"methods": ["GET"], "path": "/reports/**", "scopes": ["read:reports"]}]
    app = app_for(Settings(issuer=issuer.issuer, audience=AUDIENCE, rules=rules), ran)
    without = bearer(issuer.mint(scopes=["profile"]))
    async with asgi_client(app) as client:
        assert (await client.get("/reports/q", headers=without)).status_code == 403
        head = await client.head("/reports/q", headers=without)
        assert head.status_code == 403
        assert 'scope="read:reports"' in head.headers["www-authenticate"]
        assert ran == []
        allowed = bearer(issuer.mint(scopes=["read:reports"]))
        assert (await client.head("/reports/q", headers=allowed)).status_code == 200
    assert ran == ["HEAD /reports/q"]


async def test_a_scope_rule_written_without_the_routes_trailing_slash_still_holds(
    issuer: LocalIssuer,
) -> None:
    # The route is "/admin/", the rule says "/admin": the view must not run without the scope.
    ran: list[str] = []
    rules = [{"path": "/admin", "scopes": ["admin"]}]
    app = app_for(Settings(issuer=issuer.issuer, audience=AUDIENCE, rules=rules), ran)
    async with asgi_client(app) as client:
        without = bearer(issuer.mint(scopes=["profile"]))
        assert (await client.get("/admin/", headers=without)).status_code == 403
        assert ran == []
        allowed = bearer(issuer.mint(scopes=["admin"]))
        assert (await client.get("/admin/", headers=allowed)).status_code == 200
    assert ran == ["GET /admin/"]
