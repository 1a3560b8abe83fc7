"""FastAPI's OpenAPI document says what the middleware enforces: scopes and refusals."""

# No ``from __future__ import annotations``: FastAPI must see the dependencies in Annotated.
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.security import APIKeyHeader
from fastapi.testclient import TestClient
from starlette.middleware import Middleware
from starlette_contract import bearer

from audmw import AccessToken, Settings
from audmw.fastapi import (
    AudienceMiddleware,
    AuthRefused,
    BearerToken,
    RequireAnyScope,
    RequireScopes,
    describe_security,
    public,
    refusal_handler,
    require_any_scope,
    require_scopes,
)
from audmw.testing import LocalIssuer

AUDIENCE = "https://api.example.com"
REFUSAL = {"$ref": "#/components/schemas/TokenRefusal"}

oauth = BearerToken(
    scheme_name="oauth",
    token_url="https://issuer.example.com/token",
    scopes={"a": "A", "b": "B", "c": "C"},
)


def scoped_app(settings: Settings | None) -> FastAPI:
    """Operations needing scopes in every way audmw knows; no middleware for None."""
    middleware = [] if settings is None else [Middleware(AudienceMiddleware, settings)]
    app = FastAPI(middleware=middleware, exception_handlers={AuthRefused: refusal_handler})

    @app.get("/any")
    async def any_of(token: Annotated[AccessToken, RequireAnyScope("a", "b", scheme=oauth)]) -> Any:
        return {"sub": token.subject}

    @app.get("/all-and-any")
    async def all_and_any(
        one: Annotated[AccessToken, RequireAnyScope("a", "b", scheme=oauth)],
        every: Annotated[AccessToken, RequireScopes("c", scheme=oauth)],
    ) -> Any:
        return {"sub": one.subject}

    @app.get("/all")
    async def all_of(token: Annotated[AccessToken, RequireScopes("read", "write")]) -> Any:
        return {"sub": token.subject}

    @app.get("/two-groups")
    @require_any_scope("x", "y")  # a mark the middleware enforces besides the dependency
    async def two_groups(token: Annotated[AccessToken, RequireAnyScope("a", "b")]) -> Any:
        return {"sub": token.subject}

    @app.get("/met")
    async def met(
        one: Annotated[AccessToken, RequireAnyScope("a", "b")],
        every: Annotated[AccessToken, RequireScopes("a")],
    ) -> Any:
        return {"sub": one.subject}

    router = APIRouter()

    @router.get("/items/{item_id}")
    async def item(item_id: int, token: Annotated[AccessToken, RequireScopes("items")]) -> Any:
        return {"item": item_id}

    app.include_router(router, prefix="/v1", dependencies=[RequireAnyScope("p", "q")])
    return app


def document_of(app: FastAPI) -> dict[str, Any]:
    with TestClient(app) as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def security(document: dict[str, Any], path: str, method: str = "get") -> Any:
    return document["paths"][path][method]["security"]


@pytest.mark.parametrize("middleware", [True, False], ids=["middleware", "dependencies"])
def test_any_of_scopes_are_alternative_security_requirements(
    settings: Settings, middleware: bool
) -> None:
    app = scoped_app(settings if middleware else None)
    if not middleware:
        describe_security(app)
    document = document_of(app)
    assert security(document, "/any") == [{"oauth": ["a"]}, {"oauth": ["b"]}]
    assert security(document, "/all-and-any") == [{"oauth": ["c", "a"]}, {"oauth": ["c", "b"]}]
    assert security(document, "/all") == [{"bearer": ["read", "write"]}]
    assert security(document, "/met") == [{"bearer": ["a"]}]  # the all-of scope meets the group
    assert security(document, "/v1/items/{item_id}") == [
        {"bearer": ["items", "p"]},
        {"bearer": ["items", "q"]},
    ]
    two_groups = security(document, "/two-groups")
    if middleware:  # the middleware also enforces the endpoint's own mark
        assert two_groups == [{"bearer": [a, x]} for a in "ab" for x in "xy"]
    else:
        assert two_groups == [{"bearer": ["a"]}, {"bearer": ["b"]}]


def test_the_document_matches_what_the_middleware_accepts(
    settings: Settings, issuer: LocalIssuer
) -> None:
    app = scoped_app(settings)
    document = document_of(app)
    with TestClient(app) as client:
        for path, alternatives in [
            ("/any", security(document, "/any")),
            ("/all-and-any", security(document, "/all-and-any")),
            ("/v1/items/7", security(document, "/v1/items/{item_id}")),
            ("/two-groups", security(document, "/two-groups")),
        ]:
            for alternative in alternatives:
                (scopes,) = alternative.values()
                token = bearer(issuer.mint(scopes=" ".join(scopes)))
                assert client.get(path, headers=token).status_code == 200, (path, scopes)
                # One scope fewer is not enough.
                fewer = " ".join(scopes[:-1])
                assert (
                    client.get(path, headers=bearer(issuer.mint(scopes=fewer))).status_code == 403
                )


def test_app_openapi_tells_the_same_once_the_app_started(settings: Settings) -> None:
    app = scoped_app(settings)
    with TestClient(app) as client:
        served = client.get("/openapi.json").json()
        assert app.openapi() == served
    assert app.openapi()["paths"]["/any"]["get"]["security"] == [{"oauth": ["a"]}, {"oauth": ["b"]}]


def test_other_schemes_are_needed_with_each_alternative(settings: Settings) -> None:
    app = FastAPI(middleware=[Middleware(AudienceMiddleware, settings)])
    api_key = APIKeyHeader(name="x-api-key")

    @app.get("/both")
    async def both(
        token: Annotated[AccessToken, RequireAnyScope("a", "b")],
        key: Annotated[str, Depends(api_key)],
    ) -> Any:
        return {}

    assert security(document_of(app), "/both") == [
        {"APIKeyHeader": [], "bearer": ["a"]},
        {"APIKeyHeader": [], "bearer": ["b"]},
    ]


# -- refusals ---------------------------------------------------------------------------------


def refusal_app(settings: Settings) -> FastAPI:
    app = FastAPI(middleware=[Middleware(AudienceMiddleware, settings)])

    @app.get("/public")
    @public
    async def open_info() -> Any:
        return {}

    @app.get("/exempt")
    async def exempt() -> Any:
        return {}

    @app.get("/me")  # no security dependency: the middleware still needs a valid token
    async def me() -> Any:
        return {}

    @app.get("/messages")
    async def messages(token: Annotated[AccessToken, RequireScopes("read:messages")]) -> Any:
        return {}

    @app.get("/reports")
    @require_scopes("reports")
    async def reports() -> Any:
        return {}

    @app.get("/ruled")
    async def ruled() -> Any:
        return {}

    @app.get("/declared", responses={401: {"description": "The app's own words"}})
    async def declared(token: Annotated[AccessToken, RequireScopes("x")]) -> Any:
        return {}

    open_router = public(APIRouter())

    @open_router.get("/status")
    async def status() -> Any:
        return {}

    app.include_router(open_router, prefix="/open")
    return app


def refusal_settings(issuer: LocalIssuer) -> Settings:
    return Settings(
        issuer=issuer.issuer,
        audience=AUDIENCE,
        exempt_paths=["/exempt"],
        rules=[{"methods": ["GET"], "path": "/ruled", "scopes": ["ruled"]}],
    )


def test_protected_operations_document_their_refusals(issuer: LocalIssuer) -> None:
    document = document_of(refusal_app(refusal_settings(issuer)))
    paths = document["paths"]
    documented = {path: sorted(paths[path]["get"]["responses"]) for path in paths}
    assert documented == {
        "/public": ["200"],
        "/exempt": ["200"],
        "/open/status": ["200"],
        "/me": ["200", "401"],  # a valid token is never refused with 403 here
        "/messages": ["200", "401", "403"],
        "/reports": ["200", "401", "403"],
        "/ruled": ["200", "401", "403"],
        "/declared": ["200", "401", "403"],
    }
    messages = paths["/messages"]["get"]["responses"]
    for status in ("401", "403"):
        answer = messages[status]
        assert answer["content"] == {"application/json": {"schema": REFUSAL}}
        assert answer["headers"]["WWW-Authenticate"]["schema"] == {"type": "string"}
        assert answer["description"]
    assert paths["/declared"]["get"]["responses"]["401"] == {"description": "The app's own words"}
    body = document["components"]["schemas"]["TokenRefusal"]
    assert body["type"] == "object"
    assert set(body["properties"]) == {
        "error",
        "error_description",
        "scope",
        "acr_values",
        "max_age",
    }
    assert body["required"] == ["error", "error_description"]


def test_the_refusal_schema_describes_the_real_answers(issuer: LocalIssuer) -> None:
    app = refusal_app(refusal_settings(issuer))
    document = document_of(app)
    body = document["components"]["schemas"]["TokenRefusal"]
    with TestClient(app) as client:
        answers = [
            client.get("/messages"),
            client.get("/messages", headers=bearer("not-a-token")),
            client.get("/messages", headers=bearer(issuer.mint(aud="https://other.example"))),
            client.get("/messages", headers=bearer(issuer.mint(scopes="other"))),
            client.get("/ruled", headers=bearer(issuer.mint())),
        ]
    assert [answer.status_code for answer in answers] == [401, 401, 401, 403, 403]
    for answer in answers:
        documented = document["paths"][answer.request.url.path]["get"]["responses"]
        assert str(answer.status_code) in documented
        refusal = answer.json()
        assert set(body["required"]) <= set(refusal) <= set(body["properties"])
        assert all(isinstance(value, str) for value in refusal.values())
        assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answers[3].json()["scope"] == "read:messages"


def test_the_documented_refusals_follow_the_middlewares_settings(issuer: LocalIssuer) -> None:
    # The same app, another middleware setting: /exempt is no longer open.
    plain = Settings(issuer=issuer.issuer, audience=AUDIENCE)
    paths = document_of(refusal_app(plain))["paths"]
    assert sorted(paths["/exempt"]["get"]["responses"]) == ["200", "401"]
    assert sorted(paths["/ruled"]["get"]["responses"]) == ["200", "401"]
    assert sorted(paths["/public"]["get"]["responses"]) == ["200"]
