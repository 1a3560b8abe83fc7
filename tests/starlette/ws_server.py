"""A WebSocket endpoint behind AudienceMiddleware, served by the real uvicorn in a test."""

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from audmw.starlette import AudienceMiddleware, require_scopes


@require_scopes("read:messages")
async def feed(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"sub": websocket.user.token.subject})
    await websocket.close()


app = Starlette(
    routes=[WebSocketRoute("/ws", feed)],
    middleware=[Middleware(AudienceMiddleware)],  # settings from AUDMW_* of the test
)
