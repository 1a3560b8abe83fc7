"""How AudienceMiddleware resolves routes: mounts, hosts, endpoints, rules, and what it sets."""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.endpoints import HTTPEndpoint
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Host, Mount, Route, Router
from starlette.types import Message, Receive, Scope, Send
from starlette_contract import asgi_client, bearer

from audmw import Settings
from audmw.starlette import AudienceMiddleware, TokenUser, public, require_any_scope, require_scopes
from audmw.testing import LocalIssuer

ran: list[str] = []


async def whoami(request: Request) -> JSONResponse:
    ran.append(request.url.path)
    user = request.user
    return JSONResponse(
        {
            "authenticated": user.is_authenticated,
            "name": user.display_name,
            "scopes": sorted(request.auth.scopes),
            "params": request.path_params,
        }
    )


def protected(*scopes: str) -> Any:
    async def endpoint(request: Request) -> JSONResponse:
        return await whoami(request)

    return require_scopes(*scopes)(endpoint)


@require_scopes("read:items")
async def item(request: Request) -> JSONResponse:
    return await whoami(request)


@require_scopes("reports")
class Reports(HTTPEndpoint):
    async def get(self, request: Request) -> JSONResponse:
        return await whoami(request)

    @require_scopes("write:reports")
    async def post(self, request: Request) -> JSONResponse:
        return await whoami(request)


class Status(HTTPEndpoint):
    @public
    async def get(self, request: Request) -> JSONResponse:
        return await whoami(request)

    async def put(self, request: Request) -> JSONResponse:
        return await whoami(request)


admin_router = require_scopes("admin")(Router(routes=[Route("/users", whoami)]))


@require_any_scope("read:inbox", "admin")
async def inbox(request: Request) -> JSONResponse:
    return await whoami(request)


@requires("read:items")
async def starlette_requires(request: Request) -> JSONResponse:
    return await whoami(request)


@public
async def open_page(request: Request) -> JSONResponse:
    return await whoami(request)


ROUTES = [
    Route("/open", open_page),
    Route("/me", whoami),
    Route("/inbox", inbox),
    Route("/requires", starlette_requires),
    Route("/reports", Reports),
    Route("/status", Status),
    Route("/health", whoami),
    Route("/legacy/export", whoami, methods=["GET", "POST"]),
    Mount(
        "/v1",
        routes=[
            Route("/items/{item_id:int}", item),
            Mount("/admin", app=admin_router),
            Mount("/docs", app=public(Router(routes=[Route("/index", whoami)]))),
        ],
    ),
    Host("admin.example.org", app=Router(routes=[Route("/hosted", protected("admin"))])),
    Route("/hosted", open_page),
]


@pytest.fixture
def app(settings: Settings) -> Starlette:
    ran.clear()
    options = settings.__dict__ | {
        "exempt_paths": ["/health"],
        "rules": [{"methods": ["POST"], "path": "/legacy/**", "scopes": ["legacy:write"]}],
    }
    configured = Settings(**{k: v for k, v in options.items() if k != "hmac_secret"})
    return Starlette(routes=ROUTES, middleware=[Middleware(AudienceMiddleware, configured)])


async def call(app: Any, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
    async with asgi_client(app) as client:
        headers = bearer(token) if token else {}
        headers.update(kw.pop("headers", {}))
        return await client.request(method, path, headers=headers, **kw)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "path", "needs"),
    [
        ("GET", "/me", []),
        ("GET", "/v1/items/7", ["read:items"]),
        ("GET", "/v1/admin/users", ["admin"]),
        ("GET", "/reports", ["reports"]),
        ("POST", "/reports", ["reports", "write:reports"]),
        ("PUT", "/status", []),
        ("POST", "/legacy/export", ["legacy:write"]),
        ("GET", "/hosted", ["admin"]),
    ],
)
async def test_route_requirements_are_enforced_before_the_endpoint(
    app: Starlette, issuer: LocalIssuer, method: str, path: str, needs: list[str]
) -> None:
    host = {"host": "admin.example.org"} if path == "/hosted" else {}
    anonymous = await call(app, method, path, headers=host)
    assert anonymous.status_code == 401
    for missing in needs:
        short = issuer.mint(scopes=[s for s in needs if s != missing])
        refused = await call(app, method, path, short, headers=host)
        assert refused.status_code == 403, missing
        assert missing in refused.headers["www-authenticate"]
    assert ran == []  # no endpoint ran for any refused request
    allowed = await call(app, method, path, issuer.mint(scopes=needs), headers=host)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["authenticated"] is True


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/open"),
        ("GET", "/status"),  # @public on the HTTPEndpoint's get handler only
        ("GET", "/health"),  # exempt_paths
        ("GET", "/v1/docs/index"),  # a public mounted router
        ("GET", "/legacy/export"),  # the rule only covers POST; the route needs any valid token
        ("GET", "/hosted"),  # the public route, for any other host
    ],
)
async def test_public_routes_never_read_the_token(
    app: Starlette, method: str, path: str, issuer: LocalIssuer
) -> None:
    garbage = {"Authorization": "Bearer not-a-token", "X": "y"}
    response = await call(app, method, path, headers=garbage)
    if path == "/legacy/export":
        assert response.status_code == 401  # not public: the bad token is refused
        return
    assert response.status_code == 200
    assert response.json()["authenticated"] is False
    assert response.json()["scopes"] == []


@pytest.mark.anyio
async def test_host_routes_resolve_per_host_every_time(app: Starlette, issuer: LocalIssuer) -> None:
    for _ in range(2):  # the second round would expose a resolution cached across hosts
        assert (await call(app, "GET", "/hosted")).status_code == 200
        admin_host = {"host": "admin.example.org"}
        assert (await call(app, "GET", "/hosted", headers=admin_host)).status_code == 401


@pytest.mark.anyio
async def test_any_of(app: Starlette, issuer: LocalIssuer) -> None:
    for scopes, status in [(["read:inbox"], 200), (["admin"], 200), (["profile"], 403)]:
        response = await call(app, "GET", "/inbox", issuer.mint(scopes=scopes))
        assert response.status_code == status
    challenge = response.headers["www-authenticate"]
    assert 'scope="admin read:inbox"' in challenge


@pytest.mark.anyio
async def test_unresolved_routes_need_a_token_first(app: Starlette, issuer: LocalIssuer) -> None:
    token = issuer.mint()
    cases = [
        ("GET", "/nowhere", 404),
        ("DELETE", "/open", 405),  # a public route, but not for this method
        ("DELETE", "/reports", 405),  # the HTTPEndpoint has no delete handler
        ("GET", "/v1/admin/nobody", 404),
        ("GET", "/v1/items/not-a-number", 404),
    ]
    for method, path, status in cases:
        assert (await call(app, method, path)).status_code == 401, path
        assert (await call(app, method, path, token)).status_code in (status, 403), path


@pytest.mark.anyio
async def test_user_and_auth_follow_starlette_conventions(
    app: Starlette, issuer: LocalIssuer
) -> None:
    token = issuer.mint(sub="alice", scopes=["read:items", "profile"])
    body = (await call(app, "GET", "/v1/items/42", token)).json()
    assert body == {
        "authenticated": True,
        "name": "alice",
        "scopes": ["profile", "read:items"],
        "params": {"item_id": 42},
    }


@pytest.mark.anyio
async def test_starlettes_own_requires_works_on_top(app: Starlette, issuer: LocalIssuer) -> None:
    without = await call(app, "GET", "/requires", issuer.mint(scopes=["profile"]))
    assert without.status_code == 403  # refused by @requires, after audmw accepted the token
    assert "www-authenticate" not in without.headers
    assert ran == []
    with_scope = await call(app, "GET", "/requires", issuer.mint(scopes=["read:items"]))
    assert with_scope.status_code == 200


@pytest.mark.anyio
async def test_wrapping_from_outside_and_bounded_cache(
    settings: Settings, issuer: LocalIssuer
) -> None:
    inner = Starlette(routes=ROUTES)
    middleware = AudienceMiddleware(inner, settings)
    token = issuer.mint(scopes=["read:items"])
    for number in range(30):
        response = await call(middleware, "GET", f"/v1/items/{number}", token)
        assert response.status_code == 200
    assert (await call(middleware, "GET", "/v1/admin/users", token)).status_code == 403
    assert (await call(middleware, "GET", "/me", token)).status_code == 200
    # Paths with parameters are resolved each time, never remembered one by one.
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for number in range(2000):
        path = f"/v1/items/{number}" + "0" * 1000
        assert (await call(middleware, "GET", path, token)).status_code in (200, 422)
        ran.clear()  # the app's own record of what ran
    grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    assert grown < 1_000_000  # 2,000 remembered 1 KB paths would be 2 MB and more


@pytest.mark.anyio
async def test_routes_added_later_are_seen(settings: Settings, issuer: LocalIssuer) -> None:
    app = Starlette(routes=[Route("/me", whoami)])
    middleware = AudienceMiddleware(app, settings)
    token = issuer.mint()
    assert (await call(middleware, "GET", "/late", token)).status_code == 404
    app.router.routes.insert(0, Route("/late", protected("late")))
    assert (await call(middleware, "GET", "/late", token)).status_code == 403


@pytest.mark.anyio
async def test_installed_in_a_mounted_sub_application(
    settings: Settings, issuer: LocalIssuer
) -> None:
    sub = Starlette(
        routes=[Route("/items/{item_id:int}", item), Route("/open", open_page)],
        middleware=[Middleware(AudienceMiddleware, settings)],
    )
    app = Starlette(routes=[Mount("/api", app=sub)])
    assert (await call(app, "GET", "/api/open")).status_code == 200
    assert (await call(app, "GET", "/api/items/1", issuer.mint())).status_code == 403
    allowed = await call(app, "GET", "/api/items/1", issuer.mint(scopes=["read:items"]))
    assert allowed.status_code == 200


@pytest.mark.anyio
async def test_lifespan_passes_through(settings: Settings) -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])
        message = await receive()
        await send({"type": message["type"] + ".complete"})

    messages: list[Message] = []

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        messages.append(message)

    await AudienceMiddleware(app, settings)({"type": "lifespan"}, receive, send)
    assert seen == ["lifespan"]
    assert messages == [{"type": "lifespan.startup.complete"}]


def test_configuration_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, issuer: LocalIssuer
) -> None:
    monkeypatch.setenv("AUDMW_ISSUER", issuer.issuer)
    monkeypatch.setenv("AUDMW_AUDIENCE", "https://env.example.com")
    middleware = AudienceMiddleware(PlainTextResponse("x"))
    assert middleware.guard.settings.audience == ("https://env.example.com",)
    by_keyword = AudienceMiddleware(PlainTextResponse("x"), leeway=5)
    assert by_keyword.guard.settings.leeway == 5
    monkeypatch.delenv("AUDMW_AUDIENCE")
    # Kept for the server's start-up to fail with (a raise here would not stop uvicorn).
    problem = AudienceMiddleware(PlainTextResponse("x")).problem
    assert problem is not None
    assert "audience" in str(problem)


def test_token_user_repr_has_no_token(issuer: LocalIssuer, settings: Settings) -> None:
    from audmw import TokenValidator

    raw = issuer.mint(sub="bob")
    user = TokenUser(TokenValidator(settings).validate(raw))
    assert user.identity == "bob"
    assert raw not in repr(user)
