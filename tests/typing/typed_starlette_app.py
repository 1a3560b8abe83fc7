"""A Starlette app as its user writes it under ``mypy --strict``."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from audmw import AccessToken, Settings
from audmw.access import access_token, require_access_token
from audmw.starlette import AudienceMiddleware, public, require_any_scope, require_scopes


@public
async def health(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


@require_scopes("read:messages")
async def messages(request: Request) -> JSONResponse:
    token: AccessToken = require_access_token(request)
    subject: str | None = token.subject
    return JSONResponse({"sub": subject, "scopes": sorted(token.scopes)})


@require_any_scope("admin", "support")
async def audit(request: Request) -> JSONResponse:
    token = access_token(request)
    if token is None:  # not reached behind the middleware: the route needs a token
        return JSONResponse({"error": "no token"}, status_code=500)
    return JSONResponse({"client": token.client_id, "expires_at": token.expires_at})


async def feed(websocket: WebSocket) -> None:
    token = require_access_token(websocket)
    await websocket.accept()
    await websocket.send_json({"sub": token.subject})
    await websocket.close()


settings = Settings(issuer="https://login.example.com/", audience="https://api.example.com")
app = Starlette(
    routes=[
        Route("/health", health),
        Route("/api/messages", messages),
        Route("/api/audit", audit),
        WebSocketRoute("/feed", feed),
    ],
    middleware=[Middleware(AudienceMiddleware, settings)],
)
