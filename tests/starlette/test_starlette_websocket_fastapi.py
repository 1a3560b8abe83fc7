"""WebSocket handshakes, FastAPI dependencies and OpenAPI, and no blocking I/O on the loop."""

import socket
import threading
import time
from typing import Annotated, Any

import httpx
import pytest
from dpop_challenge import BARE
from fastapi import APIRouter, Depends, FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.types import Message
from starlette.websockets import WebSocket
from starlette_contract import AUDIENCE, asgi_client, bearer

from audmw import Guard, Settings, TokenValidator
from audmw.fastapi import (
    AccessToken,
    AudienceMiddleware,
    AuthRefused,
    BearerToken,
    RequireAnyScope,
    RequireScopes,
    refusal_handler,
)
from audmw.starlette import require_scopes
from audmw.testing import LocalIssuer
from audmw.verifier import PendingToken


@require_scopes("chat")
async def chat(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"sub": websocket.user.display_name})
    await websocket.close()


@pytest.fixture
def ws_app(settings: Settings) -> Starlette:
    return Starlette(
        routes=[WebSocketRoute("/chat", chat)],
        middleware=[Middleware(AudienceMiddleware, settings)],
    )


def test_websocket_accepted(ws_app: Starlette, issuer: LocalIssuer) -> None:
    with TestClient(ws_app) as client:
        token = issuer.mint(sub="carol", scopes=["chat"])
        with client.websocket_connect("/chat", headers=bearer(token)) as websocket:
            assert websocket.receive_json() == {"sub": "carol"}


@pytest.mark.parametrize(("scopes", "status"), [(None, 401), (["profile"], 403)])
def test_websocket_refused_with_a_denial_response(
    ws_app: Starlette, issuer: LocalIssuer, scopes: list[str] | None, status: int
) -> None:
    headers = bearer(issuer.mint(scopes=scopes)) if scopes else {}
    with (
        TestClient(ws_app) as client,
        pytest.raises(WebSocketDenialResponse) as refused,
        client.websocket_connect("/chat", headers=headers),
    ):
        pass
    assert refused.value.status_code == status
    assert refused.value.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.anyio
async def test_websocket_refused_before_accept_without_the_extension(
    ws_app: Starlette, issuer: LocalIssuer
) -> None:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "path": "/chat",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"authorization", f"Bearer {issuer.mint(scopes=['x'])}".encode())],
        "extensions": {},
    }
    await ws_app(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": ""}]


# -- FastAPI ---------------------------------------------------------------------------------


side_effects: list[str] = []


def record_visit() -> None:
    side_effects.append("ran")


def fastapi_app(settings: Settings, *, middleware: bool = True) -> FastAPI:
    scheme = BearerToken(settings=settings) if not middleware else None
    app = FastAPI(
        middleware=[Middleware(AudienceMiddleware, settings)] if middleware else [],
        exception_handlers={AuthRefused: refusal_handler} if not middleware else {},
    )

    @app.get("/messages", dependencies=[Depends(record_visit)])
    async def messages(
        token: Annotated[AccessToken, RequireScopes("read:messages", scheme=scheme)],
    ) -> dict[str, Any]:
        return {"sub": token.subject}

    @app.get("/either")
    async def either(
        token: Annotated[AccessToken, RequireAnyScope("read:inbox", "admin", scheme=scheme)],
    ) -> dict[str, Any]:
        return {"scopes": sorted(token.scopes)}

    router = APIRouter(dependencies=[Depends(record_visit), RequireScopes("admin", scheme=scheme)])

    @router.get("/users/{user_id}")
    async def user(user_id: int) -> dict[str, Any]:
        return {"user": user_id}

    app.include_router(router, prefix="/admin")
    return app


@pytest.mark.anyio
@pytest.mark.parametrize("middleware", [True, False], ids=["middleware", "dependency-only"])
async def test_fastapi_dependencies_enforce_scopes(
    settings: Settings, issuer: LocalIssuer, middleware: bool
) -> None:
    side_effects.clear()
    app = fastapi_app(settings, middleware=middleware)
    async with asgi_client(app) as client:
        anonymous = await client.get("/messages")
        short = await client.get("/messages", headers=bearer(issuer.mint(scopes=["profile"])))
        admin_short = await client.get("/admin/users/3", headers=bearer(issuer.mint()))
        if middleware:
            # The middleware refused before any dependency, including the one with a side effect.
            assert side_effects == []
        side_effects.clear()
        good = await client.get("/messages", headers=bearer(issuer.mint(scopes=["read:messages"])))
        admin = await client.get("/admin/users/3", headers=bearer(issuer.mint(scopes=["admin"])))
        either = await client.get("/either", headers=bearer(issuer.mint(scopes=["admin"])))
        neither = await client.get("/either", headers=bearer(issuer.mint(scopes=["x"])))
    assert (anonymous.status_code, anonymous.headers["www-authenticate"]) == (401, BARE)
    assert anonymous.json()["error"] == "unauthorized"  # the core's body either way
    assert short.status_code == 403
    assert 'scope="read:messages"' in short.headers["www-authenticate"]
    assert admin_short.status_code == 403
    assert (good.status_code, good.json()) == (200, {"sub": "user-123"})
    assert (admin.status_code, admin.json()) == (200, {"user": 3})
    assert side_effects == ["ran", "ran"]
    assert either.status_code == 200
    assert neither.status_code == 403


class CountingValidator(TokenValidator):
    calls = 0

    async def verify_async(self, pending: PendingToken) -> Any:
        CountingValidator.calls += 1
        return await super().verify_async(pending)


@pytest.mark.anyio
async def test_fastapi_dependency_reuses_the_middlewares_result(
    settings: Settings, issuer: LocalIssuer
) -> None:
    guard = Guard(validator=CountingValidator(settings))
    app = FastAPI(middleware=[Middleware(AudienceMiddleware, guard=guard)])

    @app.get("/me")
    async def me(token: Annotated[AccessToken, RequireScopes()]) -> dict[str, Any]:
        return {"sub": token.subject}

    CountingValidator.calls = 0
    async with asgi_client(app) as client:
        response = await client.get("/me", headers=bearer(issuer.mint(sub="dave")))
    assert response.json() == {"sub": "dave"}
    assert CountingValidator.calls == 1


def test_openapi_lists_the_scheme_and_scopes(settings: Settings) -> None:
    app = fastapi_app(settings)
    oauth = BearerToken(
        scheme_name="oauth",
        token_url="https://issuer.example.com/token",
        scopes={"read:messages": "Read messages"},
    )

    @app.get("/oauth")
    async def with_oauth(
        token: Annotated[AccessToken, RequireScopes("read:messages", scheme=oauth)],
    ) -> None:
        return None

    document = app.openapi()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    flow = schemes["oauth"]["flows"]["clientCredentials"]
    assert flow == {
        "tokenUrl": "https://issuer.example.com/token",
        "scopes": {"read:messages": "Read messages"},
    }
    paths = document["paths"]
    assert paths["/messages"]["get"]["security"] == [{"bearer": ["read:messages"]}]
    assert paths["/admin/users/{user_id}"]["get"]["security"] == [{"bearer": ["admin"]}]
    assert paths["/oauth"]["get"]["security"] == [{"oauth": ["read:messages"]}]


# -- no blocking call on the event loop ------------------------------------------------------


class BlockingCallOnLoop(AssertionError):
    pass


@pytest.fixture
def forbid_blocking_io(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any blocking socket operation or sleep made on this (the event loop's) thread.

    Sockets the event loop uses are non-blocking (timeout 0); a blocking client's socket has
    a timeout or none at all, and so trips this on the loop thread. Other threads (the local
    issuer's server) are left alone.
    """
    loop_thread = threading.get_ident()

    def guarded(name: str) -> Any:
        original = getattr(socket.socket, name)

        def call(self: socket.socket, *args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() == loop_thread and self.gettimeout() != 0:
                raise BlockingCallOnLoop(f"blocking socket.{name} on the event loop")
            return original(self, *args, **kwargs)

        return call

    for name in ("connect", "connect_ex", "recv", "recv_into", "send", "sendall"):
        monkeypatch.setattr(socket.socket, name, guarded(name))
    original_sleep = time.sleep

    def sleep(seconds: float) -> None:
        if threading.get_ident() == loop_thread:
            raise BlockingCallOnLoop("time.sleep on the event loop")
        original_sleep(seconds)

    monkeypatch.setattr(time, "sleep", sleep)


@pytest.mark.anyio
@pytest.mark.usefixtures("forbid_blocking_io")
async def test_the_guard_catches_a_blocking_fetch(issuer: LocalIssuer) -> None:
    with pytest.raises(BlockingCallOnLoop), httpx.Client() as client:
        client.get(issuer.jwks_uri)
    with pytest.raises(BlockingCallOnLoop):
        TokenValidator(Settings(issuer=issuer.issuer, audience=AUDIENCE)).validate(issuer.mint())
    async with httpx.AsyncClient() as client:
        assert (await client.get(issuer.jwks_uri)).status_code == 200


@pytest.mark.anyio
@pytest.mark.usefixtures("forbid_blocking_io")
async def test_middleware_fetches_keys_without_blocking_the_loop(issuer: LocalIssuer) -> None:
    from example_apps.starlette_app import create_app

    with LocalIssuer() as cold:  # nothing cached: discovery and JWKS are fetched now
        app = create_app(Settings(issuer=cold.issuer, audience=AUDIENCE))
        async with asgi_client(app) as client:
            response = await client.get("/api/me", headers=bearer(cold.mint()))
        assert response.status_code == 200
        assert cold.jwks_requests == 1


def test_a_scheme_with_its_own_token_header_is_an_api_key_in_that_header(
    issuer: LocalIssuer,
) -> None:
    iap = Settings(issuer=issuer.issuer, audience=AUDIENCE, token_header="x-goog-iap-jwt-assertion")
    scheme = BearerToken(scheme_name="iap", settings=iap)
    app = FastAPI()

    @app.get("/me")
    async def me(token: Annotated[AccessToken, RequireScopes("read", scheme=scheme)]) -> Any:
        return {"sub": token.subject}

    schemes = app.openapi()["components"]["securitySchemes"]
    assert schemes["iap"] == {"type": "apiKey", "in": "header", "name": "x-goog-iap-jwt-assertion"}
    token = issuer.mint(scopes="read")
    with TestClient(app) as client:
        assert client.get("/me", headers={"x-goog-iap-jwt-assertion": token}).json() == {
            "sub": "user-123"
        }
        assert client.get("/me", headers=bearer(token)).status_code == 401
    with pytest.raises(ValueError, match="token_url"):
        BearerToken(settings=iap, token_url="https://issuer.example.com/token")
