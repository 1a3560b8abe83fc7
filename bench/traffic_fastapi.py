"""The FastAPI apps of ``bench.traffic`` (no postponed annotations: FastAPI reads them)."""

import time
from typing import Annotated, Any

import httpx
import jwt
from fastapi import FastAPI, HTTPException, Request, Security
from fastapi.security import SecurityScopes
from starlette.middleware import Middleware

from audmw.fastapi import AccessToken, AudienceMiddleware, RequireScopes, require_scopes
from bench.traffic_apps import (
    ALGORITHMS,
    AUDIENCE,
    VERIFIERS,
    Refused,
    bearer,
    hand_written_asgi,
    settings,
)


class AzureStyleBearer:
    """The shape of ``fastapi-azure-auth``: a security dependency that loads the issuer's
    discovery document and keys once (refreshed daily, or for a ``kid`` it does not know)
    and validates the token with PyJWT on every request, then the route's scopes; async, as
    that package's dependency is, so it runs on the event loop rather than in a thread."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self.keys: dict[str, Any] = {}
        self.loaded = 0.0

    async def load(self) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            discovery = await client.get(self.issuer + "/.well-known/openid-configuration")
            document = (await client.get(discovery.json()["jwks_uri"])).json()
        self.keys = {jwk["kid"]: jwt.PyJWK(jwk) for jwk in document["keys"]}
        self.loaded = time.monotonic()

    async def __call__(self, request: Any, security_scopes: Any) -> dict[str, Any]:
        header = request.headers.get("authorization")
        try:
            token = bearer(header)
            kid = jwt.get_unverified_header(token).get("kid")
            if kid not in self.keys or time.monotonic() - self.loaded > 86400:
                await self.load()
            key = self.keys.get(kid)
            if key is None:
                raise Refused(401)
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=AUDIENCE,
                issuer=self.issuer,
                leeway=0,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
            granted = str(claims.get("scope", "")).split()
            if not all(scope in granted for scope in security_scopes.scopes):
                raise Refused(403)
        except jwt.InvalidTokenError:
            raise HTTPException(401, "refused", {"WWW-Authenticate": "Bearer"}) from None
        except Refused as refused:
            raise HTTPException(refused.status, "refused", {"WWW-Authenticate": "Bearer"}) from None
        return claims


def fastapi_app(variant: str, issuer: str, jwks_uri: str) -> Any:
    if variant == "audmw":  # the middleware decides from the marks; no dependency to solve
        app = FastAPI(middleware=[Middleware(AudienceMiddleware, settings(issuer))])

        @app.get("/api/me")
        async def me_marked() -> dict[str, Any]:
            return {"sub": "user"}

        @app.get("/api/messages")
        @require_scopes("read:messages")
        async def messages_marked() -> dict[str, Any]:
            return {"messages": []}

        @app.get("/api/admin")
        @require_scopes("read:messages", "admin")
        async def admin_marked() -> dict[str, Any]:
            return {"admin": True}

        return app

    if variant == "audmw + RequireScopes":  # the token handed to the endpoint, scopes in OpenAPI
        app = FastAPI(middleware=[Middleware(AudienceMiddleware, settings(issuer))])

        @app.get("/api/me")
        async def me(token: Annotated[AccessToken, RequireScopes()]) -> dict[str, Any]:
            return {"sub": token.subject}

        @app.get("/api/messages")
        async def messages(
            token: Annotated[AccessToken, RequireScopes("read:messages")],
        ) -> dict[str, Any]:
            return {"messages": []}

        @app.get("/api/admin")
        async def admin(
            token: Annotated[AccessToken, RequireScopes("read:messages", "admin")],
        ) -> dict[str, Any]:
            return {"admin": True}

        return app

    if variant == "azure-style dependency":
        scheme = AzureStyleBearer(issuer)

        async def claims_for(request: Request, security_scopes: SecurityScopes) -> dict[str, Any]:
            return await scheme(request, security_scopes)

        app = FastAPI()

        @app.get("/api/me")
        async def me_azure(claims: Annotated[dict[str, Any], Security(claims_for)]) -> Any:
            return {"sub": claims["sub"]}

        @app.get("/api/messages")
        async def messages_azure(
            claims: Annotated[dict[str, Any], Security(claims_for, scopes=["read:messages"])],
        ) -> Any:
            return {"messages": []}

        @app.get("/api/admin")
        async def admin_azure(
            claims: Annotated[
                dict[str, Any], Security(claims_for, scopes=["read:messages", "admin"])
            ],
        ) -> Any:
            return {"admin": True}

        return app

    app = FastAPI()

    @app.get("/api/me")
    async def me_open() -> dict[str, Any]:
        return {"sub": "user"}

    @app.get("/api/messages")
    async def messages_open() -> dict[str, Any]:
        return {"messages": []}

    @app.get("/api/admin")
    async def admin_open() -> dict[str, Any]:
        return {"admin": True}

    if variant in VERIFIERS:
        return hand_written_asgi(VERIFIERS[variant](issuer, jwks_uri))(app)
    return app
