"""The example API on Starlette, served by uvicorn.

AUDMW_ISSUER=... AUDMW_AUDIENCE=... python -m audmw.examples.starlette_app --port 8000
"""

from __future__ import annotations

import argparse
import signal
import sys

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from audmw import Settings, log_refusals
from audmw.starlette import AudienceMiddleware, TokenUser, public, require_scopes


def _token(request: Request) -> TokenUser:
    user = request.user
    assert isinstance(user, TokenUser)  # the middleware refused every request without one
    return user


@public
async def public_info(request: Request) -> JSONResponse:
    return JSONResponse({"message": "anyone may read this"})


async def me(request: Request) -> JSONResponse:
    token = _token(request).token
    return JSONResponse(
        {"sub": token.subject, "scopes": sorted(token.scopes), "aud": list(token.audience)}
    )


@require_scopes("read:messages")
async def list_messages(request: Request) -> JSONResponse:
    return JSONResponse({"messages": [{"id": 1, "text": "hello"}]})


@require_scopes("write:messages")
async def create_message(request: Request) -> JSONResponse:
    return JSONResponse({"id": 2, "created_by": _token(request).token.subject}, status_code=201)


@require_scopes("read:messages", "admin")
async def admin(request: Request) -> JSONResponse:
    return JSONResponse({"admin": True, "sub": _token(request).token.subject})


def create_app(settings: Settings | None = None) -> Starlette:
    """The five routes of the example contract, protected by ``AudienceMiddleware``."""
    return Starlette(
        routes=[
            Route("/public", public_info),
            Route("/api/me", me),
            Route("/api/messages", list_messages, methods=["GET"]),
            Route("/api/messages", create_message, methods=["POST"]),
            Route("/api/admin", admin),
        ],
        middleware=[Middleware(AudienceMiddleware, settings or Settings.from_env())],
    )


def serve(app_factory: str, description: str, argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    log_refusals()  # the audmw logger's refusals (reason=...), one line each on stderr
    print(f"{description} on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the handler
    # that was installed before it: make that one a clean exit.
    for received in (signal.SIGINT, signal.SIGTERM):
        signal.signal(received, lambda number, frame: sys.exit(0))
    uvicorn.run(
        app_factory,
        factory=True,
        host=args.host,
        port=args.port,
        log_level="warning",
        lifespan="on",
    )


def main(argv: list[str] | None = None) -> None:
    serve("audmw.examples.starlette_app:create_app", "audmw example API (Starlette)", argv)


if __name__ == "__main__":
    main()
