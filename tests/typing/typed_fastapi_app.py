"""A FastAPI app as its user writes it under ``mypy --strict``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel
from starlette.middleware import Middleware

from audmw import Settings
from audmw.access import require_access_token
from audmw.fastapi import AccessToken, AudienceMiddleware, RequireAnyScope, RequireScopes, public


class Me(BaseModel):
    sub: str | None
    scopes: list[str]


def caller(request: Request) -> str:
    """A plain dependency: the middleware's token, typed, without a security scheme."""
    return require_access_token(request).subject or "anonymous"


app = FastAPI(middleware=[Middleware(AudienceMiddleware, Settings.from_env())])


@app.get("/health")
@public
async def health() -> dict[str, bool]:
    return {"ok": True}


@app.get("/api/me")
async def me(token: Annotated[AccessToken, RequireScopes()]) -> Me:
    return Me(sub=token.subject, scopes=sorted(token.scopes))


@app.get("/api/messages")
async def messages(
    token: Annotated[AccessToken, RequireScopes("read:messages")],
    who: Annotated[str, Depends(caller)],
) -> dict[str, str]:
    return {"reader": who, "issuer": token.issuer}


@app.get("/api/admin")
async def admin(token: Annotated[AccessToken, RequireAnyScope("admin", "support")]) -> bool:
    return "admin" in token.scopes
