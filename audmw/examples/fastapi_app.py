"""The example API on FastAPI, served by uvicorn.

    AUDMW_ISSUER=... AUDMW_AUDIENCE=... python -m audmw.examples.fastapi_app --port 8000

The middleware enforces the scopes declared with ``RequireScopes`` before any dependency
runs; the OpenAPI document at /openapi.json lists them and the 401 and 403 answers. It and
the interactive docs at /docs and /redoc need no token: the middleware leaves FastAPI's own
documentation routes open (``protect_docs=True`` would close them).

With ``AUDMW_DOCS_TOKEN_URL`` set (the token endpoint of ``audmw serve-issuer``, say), the
docs' Authorize dialog obtains a token by client credentials there; without it, a token is
pasted in.
"""

import os
from typing import Annotated, Any

from fastapi import FastAPI
from starlette.middleware import Middleware

from audmw import Settings
from audmw.examples.starlette_app import serve
from audmw.fastapi import AccessToken, AudienceMiddleware, BearerToken, RequireScopes, public

SCOPES = {
    "read:messages": "read the messages",
    "write:messages": "post a message",
    "admin": "the admin route (with read:messages)",
}


def create_app(settings: Settings | None = None) -> FastAPI:
    """The five routes of the example contract, protected by ``AudienceMiddleware``."""
    token_url = os.environ.get("AUDMW_DOCS_TOKEN_URL") or None
    scheme = BearerToken(token_url=token_url, scopes=SCOPES) if token_url else None
    app = FastAPI(
        title="audmw example API",
        middleware=[Middleware(AudienceMiddleware, settings or Settings.from_env())],
    )

    @app.get("/public")
    @public
    async def public_info() -> dict[str, Any]:
        return {"message": "anyone may read this"}

    @app.get("/api/me")
    async def me(token: Annotated[AccessToken, RequireScopes(scheme=scheme)]) -> dict[str, Any]:
        return {"sub": token.subject, "scopes": sorted(token.scopes), "aud": list(token.audience)}

    @app.get("/api/messages")
    async def list_messages(
        token: Annotated[AccessToken, RequireScopes("read:messages", scheme=scheme)],
    ) -> dict[str, Any]:
        return {"messages": [{"id": 1, "text": "hello"}]}

    @app.post("/api/messages", status_code=201)
    async def create_message(
        token: Annotated[AccessToken, RequireScopes("write:messages", scheme=scheme)],
    ) -> dict[str, Any]:
        return {"id": 2, "created_by": token.subject}

    @app.get("/api/admin")
    async def admin(
        token: Annotated[AccessToken, RequireScopes("read:messages", "admin", scheme=scheme)],
    ) -> dict[str, Any]:
        return {"admin": True, "sub": token.subject}

    return app


def main(argv: list[str] | None = None) -> None:
    serve("audmw.examples.fastapi_app:create_app", "audmw example API (FastAPI)", argv)


if __name__ == "__main__":
    main()
