"""Requests shaped to slip past the middleware or to crash it, through a real Starlette app."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs

import pytest
from dpop_challenge import BARE
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


async def test_a_convertor_that_raises_is_no_match_and_the_token_comes_first(
    issuer: LocalIssuer,
) -> None:
    ran: list[str] = []

    async def item(request: Request) -> JSONResponse:
        ran.append("item")
        return JSONResponse({"n": request.path_params["n"]})

    app = Starlette(
        routes=[Route("/items/{n:int}", item)],
        middleware=[
            Middleware(AudienceMiddleware, Settings(issuer=issuer.issuer, audience=AUDIENCE))
        ],
    )
    # int() refuses 5,000 digits (the interpreter's limit on int-from-str): Starlette's own
    # convertor raises while the route is matched.
    async with asgi_client(app) as client:
        response = await client.get("/items/" + "9" * 5000)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == BARE
        assert (await client.get("/items/7", headers=bearer(issuer.mint()))).json() == {"n": 7}
    assert ran == ["item"]


class Page:
    """An ASGI app as a route's endpoint, which Starlette hands every method."""

    def __init__(self, app: object) -> None:
        self.app = app

    async def __call__(self, scope: object, receive: object, send: object) -> None:
        await self.app(scope, receive, send)  # type: ignore[operator]


async def test_made_up_methods_do_not_grow_memory(issuer: LocalIssuer) -> None:
    import tracemalloc

    async def page(scope: dict[str, object], receive: object, send: object) -> None:
        await JSONResponse({})(scope, receive, send)  # type: ignore[arg-type]

    app = Starlette(
        routes=[Route("/page", Page(page))],  # an ASGI endpoint: every method reaches it
        middleware=[
            Middleware(AudienceMiddleware, Settings(issuer=issuer.issuer, audience=AUDIENCE))
        ],
    )
    headers = [(b"authorization", f"Bearer {issuer.mint()}".encode())]

    async def call(method: str) -> int:
        status = 0

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": b""}

        async def send(message: dict[str, object]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])  # type: ignore[call-overload]

        scope = {
            "type": "http",
            "method": method,
            "path": "/page",
            "root_path": "",
            "query_string": b"",
            "headers": headers,
        }
        await app(scope, receive, send)  # type: ignore[arg-type]
        return status

    assert await call("X" * 4096) == 200
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for number in range(3000):
        assert await call(f"{number:04d}" + "X" * 4092) == 200
    grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    assert grown < 2_000_000  # 3,000 remembered 4 KB methods would be 12 MB and more


async def test_a_token_in_the_header_and_a_form_body_or_query_is_two_methods(
    issuer: LocalIssuer,
) -> None:
    notes: list[str] = []

    async def add(request: Request) -> JSONResponse:
        form = parse_qs((await request.body()).decode())  # the body is still there
        notes.append(form["note"][0])
        return JSONResponse({}, status_code=201)

    app = Starlette(
        routes=[Route("/notes", add, methods=["POST"])],
        middleware=[
            Middleware(AudienceMiddleware, Settings(issuer=issuer.issuer, audience=AUDIENCE))
        ],
    )
    token = issuer.mint()
    async with asgi_client(app) as client:
        both = await client.post(
            "/notes", data={"note": "x", "access_token": token}, headers=bearer(token)
        )
        assert both.status_code == 400
        assert 'error="invalid_request"' in both.headers["www-authenticate"]
        encoded = await client.post(
            f"/notes?access%5Ftoken={token}", data={"note": "x"}, headers=bearer(token)
        )
        assert encoded.status_code == 400
        body_only = await client.post("/notes", data={"access_token": token})
        assert body_only.status_code == 401
        assert body_only.headers["www-authenticate"] == BARE
        assert notes == []
        kept = await client.post("/notes", data={"note": "kept"}, headers=bearer(token))
        assert kept.status_code == 201
    assert notes == ["kept"]
