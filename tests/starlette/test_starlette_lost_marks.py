"""A mark that cannot take effect stops the app when Starlette builds its middleware stack."""

import functools
from collections.abc import Callable
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from audmw import ConfigurationError, Settings
from audmw.fastapi import AccessToken, RequireScopes
from audmw.starlette import AudienceMiddleware, require_scopes
from audmw.testing import LocalIssuer

AUDIENCE = "https://api.example.com"


def hide(view: Callable[..., Any]) -> Callable[..., Any]:
    """A decorator without functools.wraps: the wrapper carries none of the view's marks."""

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        return await view(*args, **kwargs)

    return wrapper


def keep(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        return await view(*args, **kwargs)

    return wrapper


def build(app: Starlette) -> None:
    """Start the app as a server does: its lifespan start-up fails with the problem."""
    with TestClient(app):
        pass


def settings(issuer: LocalIssuer) -> Settings:
    return Settings(issuer=issuer.issuer, audience=AUDIENCE)


def test_a_mark_hidden_by_a_decorator_stops_the_app(issuer: LocalIssuer) -> None:
    @hide
    @require_scopes("admin")
    async def admin(request: Request) -> PlainTextResponse:
        return PlainTextResponse("admin")

    app = Starlette(
        routes=[Mount("/api", routes=[Route("/admin", admin)])],
        middleware=[Middleware(AudienceMiddleware, settings(issuer))],
    )
    with pytest.raises(ConfigurationError, match=r"/api/admin: the mark on .*admin cannot take"):
        build(app)


def test_a_mark_on_an_endpoint_method_that_is_no_handler_stops_the_app(
    issuer: LocalIssuer,
) -> None:
    class Reports(HTTPEndpoint):
        async def get(self, request: Request) -> PlainTextResponse:
            return PlainTextResponse("reports")

        @require_scopes("admin")
        async def export(self, request: Request) -> PlainTextResponse:
            return PlainTextResponse("export")

    app = Starlette(
        routes=[Route("/reports", Reports)],
        middleware=[Middleware(AudienceMiddleware, settings(issuer))],
    )
    with pytest.raises(ConfigurationError, match=r"Reports\.export cannot take effect"):
        build(app)


def test_a_mark_on_a_plain_fastapi_dependency_stops_the_app(issuer: LocalIssuer) -> None:
    @require_scopes("admin")
    def current_tenant() -> str:
        return "tenant"

    router = APIRouter()

    @router.get("/tenant")
    async def tenant(name: Annotated[str, Depends(current_tenant)]) -> dict[str, str]:
        return {"tenant": name}

    app = FastAPI(middleware=[Middleware(AudienceMiddleware, settings(issuer))])
    app.include_router(router, prefix="/v1")
    with pytest.raises(ConfigurationError, match=r"/v1/tenant: the mark on the dependency"):
        build(app)


@pytest.mark.anyio
async def test_marks_that_take_effect_pass(issuer: LocalIssuer) -> None:
    @keep
    @require_scopes("admin")
    async def admin(request: Request) -> PlainTextResponse:
        return PlainTextResponse("admin")

    app = FastAPI(middleware=[Middleware(AudienceMiddleware, settings(issuer))])
    app.add_route("/admin", admin)

    @app.get("/me")
    async def me(token: Annotated[AccessToken, RequireScopes("read")]) -> dict[str, Any]:
        return {"sub": token.subject}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        weak = {"Authorization": f"Bearer {issuer.mint()}"}
        assert (await client.get("/admin", headers=weak)).status_code == 403
        strong = {"Authorization": f"Bearer {issuer.mint(scopes=['admin', 'read'])}"}
        assert (await client.get("/admin", headers=strong)).status_code == 200
        assert (await client.get("/me", headers=strong)).status_code == 200
