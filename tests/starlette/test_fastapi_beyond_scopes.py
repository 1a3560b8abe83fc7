"""FastAPI's dependencies for the requirements beyond scopes, with the middleware and
without it, and what the OpenAPI document says of them."""

# No ``from __future__ import annotations``: FastAPI must see the dependencies in Annotated.
import time
from typing import Annotated

import pytest
from dpop_challenge import with_dpop
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.middleware import Middleware
from starlette_contract import asgi_client, bearer

from audmw import AccessToken, Settings
from audmw.fastapi import (
    AudienceMiddleware,
    AuthRefused,
    BearerToken,
    RequireAuthentication,
    RequireAuthorizationDetails,
    RequireScopes,
    RequireUser,
    refusal_handler,
    require_authentication,
)
from audmw.testing import LocalIssuer

pytestmark = pytest.mark.anyio

AUDIENCE = "https://api.example.com"


def app_without_middleware(issuer: LocalIssuer) -> FastAPI:
    scheme = BearerToken(settings=Settings(issuer=issuer.issuer, audience=AUDIENCE))
    api = FastAPI(exception_handlers={AuthRefused: refusal_handler})

    @api.get("/recent")
    async def recent(
        token: Annotated[AccessToken, RequireAuthentication(max_age=60, scheme=scheme)],
    ) -> dict[str, str | None]:
        return {"acr": token.authentication_context}

    @api.get("/pay")
    async def pay(
        token: Annotated[
            AccessToken,
            RequireAuthorizationDetails("payment_initiation", scheme=scheme),
        ],
    ) -> dict[str, int]:
        return {"entries": len(token.authorization_details)}

    @api.get("/profile")
    async def profile(
        token: Annotated[AccessToken, RequireUser(scheme=scheme)],
    ) -> dict[str, str | None]:
        return {"sub": token.subject}

    return api


async def test_the_dependencies_decide_without_the_middleware(issuer: LocalIssuer) -> None:
    now = int(time.time())
    async with asgi_client(app_without_middleware(issuer)) as client:
        old = await client.get("/recent", headers=bearer(issuer.mint(auth_time=now - 61)))
        fresh = await client.get("/recent", headers=bearer(issuer.mint(auth_time=now - 1)))
        no_entry = await client.get("/pay", headers=bearer(issuer.mint()))
        entry = await client.get(
            "/pay",
            headers=bearer(issuer.mint(authorization_details=[{"type": "payment_initiation"}])),
        )
        app_token = await client.get("/profile", headers=bearer(issuer.mint(sub=None)))
        user_token = await client.get("/profile", headers=bearer(issuer.mint()))
    assert old.status_code == 401
    assert old.headers["www-authenticate"] == with_dpop(
        'Bearer error="insufficient_user_authentication", error_description="A more recent '
        'authentication is required", max_age="60"'
    )
    assert old.json() == {
        "error": "insufficient_user_authentication",
        "error_description": "A more recent authentication is required",
        "max_age": 60,
    }
    assert fresh.status_code == 200
    assert no_entry.status_code == 403
    assert no_entry.json()["error"] == "insufficient_authorization_details"
    assert entry.json() == {"entries": 1}
    assert app_token.status_code == 403
    assert user_token.json() == {"sub": "user-123"}


def test_the_document_says_401_for_step_up_and_403_for_what_a_token_lacks(
    issuer: LocalIssuer,
) -> None:
    api = FastAPI(
        middleware=[Middleware(AudienceMiddleware, issuer=issuer.issuer, audience=AUDIENCE)]
    )

    @api.get("/recent")
    @require_authentication(acr_values=["phrh"])
    async def recent() -> dict[str, str]:
        return {}

    @api.get("/scoped")
    async def scoped(
        token: Annotated[AccessToken, RequireScopes("pay", acr_values=["phrh"])],
    ) -> dict[str, str]:
        return {}

    @api.get("/pay")
    async def pay(
        token: Annotated[AccessToken, RequireAuthorizationDetails("payment_initiation")],
    ) -> dict[str, str]:
        return {}

    with TestClient(api):
        paths = api.openapi()["paths"]
    documented = {path: sorted(paths[path]["get"]["responses"]) for path in paths}
    assert documented == {
        "/recent": ["200", "401"],
        "/scoped": ["200", "401", "403"],
        "/pay": ["200", "401", "403"],
    }
    assert (
        "insufficient_user_authentication"
        in paths["/recent"]["get"]["responses"]["401"]["description"]
    )
