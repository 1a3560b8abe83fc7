"""RFC 9728 metadata and challenges through AudienceMiddleware, on Starlette and FastAPI."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any

import pytest
from dpop_challenge import BARE
from fastapi import FastAPI
from resource_metadata_checks import (
    check_challenges,
    check_deny_by_default,
    check_document,
    settings_for,
)
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from audmw import Settings
from audmw.fastapi import AccessToken, RequireScopes
from audmw.settings import DPOP_ALGORITHMS
from audmw.starlette import AudienceMiddleware, public, require_any_scope, require_scopes
from audmw.testing import LocalIssuer


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer() as running:
        yield running


def endpoint() -> Any:
    """A new endpoint function each time: marks are set on the function itself."""

    async def ok(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return ok


class Admin(HTTPEndpoint):
    @require_scopes("notes:read", "admin")
    async def get(self, request: Request) -> Response:
        return JSONResponse({"ok": True})


def starlette_app(settings: Settings) -> Starlette:
    either = Starlette(routes=[Route("/either", endpoint())])
    require_any_scope("x:one", "x:two")(either)  # a mark on a mounted app
    return Starlette(
        routes=[
            Route("/public", public(endpoint())),
            Route("/api/me", endpoint()),
            Route("/api/notes", require_scopes("notes:read")(endpoint())),
            Route("/api/admin", Admin),
            Mount("/api", either),
        ],
        middleware=[Middleware(AudienceMiddleware, settings)],
    )


def fastapi_app(settings: Settings) -> FastAPI:
    app = FastAPI(middleware=[Middleware(AudienceMiddleware, settings)])

    @app.get("/public")
    @public
    async def open_route() -> dict[str, Any]:
        return {}

    @app.get("/api/me")
    async def me(token: Annotated[AccessToken, RequireScopes()]) -> dict[str, Any]:
        return {}

    @app.get("/api/notes")
    async def notes(token: Annotated[AccessToken, RequireScopes("notes:read")]) -> dict[str, Any]:
        return {}

    @app.get("/api/admin")
    async def admin(
        token: Annotated[AccessToken, RequireScopes("notes:read", "admin")],
    ) -> dict[str, Any]:
        return {}

    @app.get("/api/either")
    @require_any_scope("x:one", "x:two")
    async def either() -> dict[str, Any]:
        return {}

    return app


@pytest.fixture(params=["starlette", "fastapi"])
def fetch(request: pytest.FixtureRequest, issuer: LocalIssuer) -> Iterator[Any]:
    settings = Settings.from_mapping(settings_for(issuer))
    build = starlette_app if request.param == "starlette" else fastapi_app
    with TestClient(build(settings), base_url="https://api.example.com") as client:

        def get(
            method: str, path: str, headers: Mapping[str, str]
        ) -> tuple[int, Mapping[str, str], bytes]:
            response = client.request(method, path, headers=dict(headers))
            return response.status_code, response.headers, response.content

        yield get


def test_the_document_at_both_locations(fetch: Any, issuer: LocalIssuer) -> None:
    check_document(fetch, issuer)


def test_everything_else_stays_deny_by_default(fetch: Any) -> None:
    check_deny_by_default(fetch)


def test_challenges_name_the_metadata(fetch: Any, issuer: LocalIssuer) -> None:
    check_challenges(fetch, issuer)


def test_without_a_resource_nothing_is_served_and_challenges_are_unchanged(
    issuer: LocalIssuer,
) -> None:
    settings = Settings(issuer=issuer.issuer, audience="https://api.example.com")
    with TestClient(starlette_app(settings)) as client:
        response = client.get("/.well-known/oauth-protected-resource")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == BARE


def test_the_example_apps_serve_the_document_when_the_resource_is_set(
    issuer: LocalIssuer,
) -> None:
    from example_apps import fastapi_app, starlette_app

    settings = Settings(issuer=issuer.issuer, resource="https://api.example.com")
    for module in (starlette_app, fastapi_app):
        with TestClient(module.create_app(settings)) as client:
            document = client.get("/.well-known/oauth-protected-resource").json()
        assert document == {
            "resource": "https://api.example.com",
            "authorization_servers": [issuer.issuer],
            "scopes_supported": ["admin", "read:messages", "write:messages"],
            "bearer_methods_supported": ["header"],
            "dpop_signing_alg_values_supported": list(DPOP_ALGORITHMS),
            "dpop_bound_access_tokens_required": False,
            "tls_client_certificate_bound_access_tokens": False,
        }, module.__name__


def test_a_route_added_later_adds_its_scopes(issuer: LocalIssuer) -> None:
    settings = Settings(issuer=issuer.issuer, resource="https://api.example.com")
    app = starlette_app(settings)
    with TestClient(app) as client:
        before = client.get("/.well-known/oauth-protected-resource").json()["scopes_supported"]
        app.router.routes.append(Route("/late", require_scopes("late:scope")(endpoint())))
        after = client.get("/.well-known/oauth-protected-resource").json()["scopes_supported"]
    assert "late:scope" not in before
    assert after == sorted([*before, "late:scope"])
