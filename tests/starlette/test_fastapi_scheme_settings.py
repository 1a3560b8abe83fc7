"""A FastAPI scheme given its own settings checks the token against them, middleware or not."""

# No ``from __future__ import annotations``: FastAPI must see the local scheme in Annotated.
from typing import Annotated

import pytest
from fastapi import FastAPI, Security
from starlette.middleware import Middleware
from starlette_contract import asgi_client, bearer

from audmw import AccessToken, Settings
from audmw.fastapi import AudienceMiddleware, AuthRefused, BearerToken, refusal_handler
from audmw.testing import LocalIssuer

pytestmark = pytest.mark.anyio

AUDIENCE = "https://api.example.com"


async def test_a_fastapi_scheme_with_its_own_audience_is_not_satisfied_by_the_middleware(
    issuer: LocalIssuer,
) -> None:
    admin_audience = "https://admin.example.com"
    admin_scheme = BearerToken(settings=Settings(issuer=issuer.issuer, audience=admin_audience))
    api = FastAPI(
        middleware=[Middleware(AudienceMiddleware, issuer=issuer.issuer, audience=AUDIENCE)],
        exception_handlers={AuthRefused: refusal_handler},
    )

    @api.get("/admin")
    async def admin(token: Annotated[AccessToken, Security(admin_scheme)]) -> dict[str, str]:
        return {"aud": token.audience[0]}

    async with asgi_client(api) as client:
        for_api = await client.get("/admin", headers=bearer(issuer.mint(aud=AUDIENCE)))
        both = await client.get(
            "/admin", headers=bearer(issuer.mint(aud=[AUDIENCE, admin_audience]))
        )
        for_admin = await client.get("/admin", headers=bearer(issuer.mint(aud=admin_audience)))
    # The middleware accepts a token for the API; the scheme wants one for the admin API.
    assert for_api.status_code == 401
    assert 'error="invalid_token"' in for_api.headers["www-authenticate"]
    assert both.status_code == 200
    assert both.json() == {"aud": AUDIENCE}
    assert for_admin.status_code == 401  # the middleware's own audience still applies
