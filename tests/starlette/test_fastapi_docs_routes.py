"""FastAPI's own documentation routes answer without a token unless ``protect_docs=True``."""

# No ``from __future__ import annotations``: FastAPI must see the dependencies in Annotated.
import re
from typing import Annotated, Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette_contract import bearer

from audmw import AccessToken, Settings
from audmw.fastapi import AudienceMiddleware, RequireScopes, require_scopes
from audmw.testing import LocalIssuer

AUDIENCE = "https://api.example.com"

DOCS = ("/docs", "/redoc", "/docs/oauth2-redirect", "/openapi.json")


def docs_app(settings: Settings, protect_docs: bool = False, **options: Any) -> FastAPI:
    """An app with one protected operation; ``options`` go to FastAPI."""
    middleware = Middleware(AudienceMiddleware, settings, protect_docs=protect_docs)
    app = FastAPI(middleware=[middleware], **options)

    @app.get("/api/messages")
    async def messages(token: Annotated[AccessToken, RequireScopes("read:messages")]) -> Any:
        return {"messages": []}

    return app


def test_swagger_ui_loads_its_page_and_the_document_without_a_token(settings: Settings) -> None:
    with TestClient(docs_app(settings)) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        # As Swagger UI does: the page names the document's URL, the browser fetches it.
        url = re.search(r"url: '([^']+)'", page.text)
        assert url is not None
        assert url.group(1) == "/openapi.json"
        document = client.get(url.group(1))
        redirect = re.search(r"oauth2RedirectUrl: window.location.origin \+ '([^']+)'", page.text)
        assert redirect is not None
        callback = client.get(redirect.group(1))
        redoc = client.get("/redoc")
        for head in DOCS:
            assert client.head(head).status_code in (200, 405), head
    assert document.status_code == 200
    assert "/api/messages" in document.json()["paths"]
    assert callback.status_code == 200
    assert "oauth2" in callback.text.lower()
    assert redoc.status_code == 200
    assert "/openapi.json" in redoc.text
    # The API itself still needs a token.
    with TestClient(docs_app(settings)) as client:
        assert client.get("/api/messages").status_code == 401


def test_documentation_routes_the_app_renamed_are_recognised(settings: Settings) -> None:
    renamed = {
        "docs_url": "/reference/try",
        "redoc_url": "/reference/read",
        "openapi_url": "/reference/openapi.json",
        "swagger_ui_oauth2_redirect_url": "/reference/callback",
    }
    with TestClient(docs_app(settings, **renamed)) as client:
        answers = {path: client.get(path).status_code for path in renamed.values()}
        page = client.get(renamed["docs_url"]).text
        defaults = {path: client.get(path).status_code for path in DOCS}
    assert answers == dict.fromkeys(renamed.values(), 200)
    assert "/reference/openapi.json" in page
    assert "/reference/callback" in page
    # Where the docs would be by default there is nothing: an unknown URL needs a token.
    assert defaults == dict.fromkeys(DOCS, 401)


def test_protect_docs_makes_them_need_a_token(settings: Settings, issuer: LocalIssuer) -> None:
    with TestClient(docs_app(settings, protect_docs=True)) as client:
        refused = {path: client.get(path) for path in DOCS}
        token = bearer(issuer.mint(aud=AUDIENCE))
        allowed = {path: client.get(path, headers=token).status_code for path in DOCS}
    for path, response in refused.items():
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"].startswith("Bearer"), path
        assert response.json()["error"] == "unauthorized", path
    assert allowed == dict.fromkeys(DOCS, 200)


def test_a_route_of_the_apps_own_at_a_docs_path_is_not_opened(settings: Settings) -> None:
    async def own(request: Request) -> PlainTextResponse:
        return PlainTextResponse("the app's own page")

    # The app's own routes come before FastAPI's documentation routes, so they answer.
    first = FastAPI(
        routes=[Route("/docs", own), Route("/openapi.json", own)],
        middleware=[Middleware(AudienceMiddleware, settings)],
    )
    # Without FastAPI's docs, its own route at the usual path.
    without = FastAPI(
        docs_url=None, openapi_url=None, middleware=[Middleware(AudienceMiddleware, settings)]
    )
    without.add_route("/docs", own)
    without.add_route("/openapi.json", own)
    for app in (first, without):
        with TestClient(app) as client:
            answers = {path: client.get(path).status_code for path in ("/docs", "/openapi.json")}
        assert answers == {"/docs": 401, "/openapi.json": 401}


def test_a_requirement_on_the_way_or_a_scope_rule_still_wins(
    settings: Settings, issuer: LocalIssuer
) -> None:
    open_api = FastAPI()
    admin_api = FastAPI()
    app = FastAPI(
        routes=[
            Mount("/v1", app=open_api),
            Mount("/admin", app=require_scopes("admin")(admin_api)),
        ],
        middleware=[Middleware(AudienceMiddleware, settings)],
    )
    rule = {"methods": ["GET"], "path": "/openapi.json", "scopes": ["docs"]}
    ruled = docs_app(Settings(issuer=issuer.issuer, audience=AUDIENCE, rules=[rule]))
    with TestClient(app) as client:
        mounted = client.get("/v1/docs")
        document = client.get("/v1/openapi.json")
        marked = client.get("/admin/docs")
        as_admin = client.get("/admin/docs", headers=bearer(issuer.mint(scopes="admin")))
    with TestClient(ruled) as client:
        page = client.get("/docs")
        ruled_document = client.get("/openapi.json")
        with_scope = client.get("/openapi.json", headers=bearer(issuer.mint(scopes="docs")))
    assert mounted.status_code == 200
    assert "/v1/openapi.json" in mounted.text
    assert document.status_code == 200
    assert marked.status_code == 401
    assert as_admin.status_code == 200
    assert page.status_code == 200
    assert ruled_document.status_code == 401
    assert with_scope.status_code == 200


@pytest.mark.parametrize("path", DOCS)
def test_the_example_app_serves_its_docs_without_a_token(settings: Settings, path: str) -> None:
    from audmw.examples.fastapi_app import create_app

    with TestClient(create_app(settings)) as client:
        assert client.get(path).status_code == 200
        assert client.get("/api/me").status_code == 401
