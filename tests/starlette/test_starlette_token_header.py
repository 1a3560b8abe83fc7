"""Google IAP's signed header: the middleware and the FastAPI dependency read the named header."""

from typing import Annotated, Any

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette_contract import asgi_client

from audmw import AccessToken, Settings
from audmw.fastapi import AuthRefused, BearerToken, RequireScopes, refusal_handler
from audmw.starlette import AudienceMiddleware
from audmw.testing import LocalIssuer

pytestmark = pytest.mark.anyio

IAP_HEADER = "x-goog-iap-jwt-assertion"
IAP_ISSUER = "https://cloud.google.com/iap"
IAP_AUDIENCE = "/projects/123456789012/global/backendServices/987654321"


def iap_settings(issuer: LocalIssuer) -> Settings:
    return Settings.for_provider(
        "google-iap",
        project_number="123456789012",
        backend_service_id="987654321",
        jwks_uri=issuer.jwks_uri,
    )


def iap_token(issuer: LocalIssuer, **claims: Any) -> str:
    shape: dict[str, Any] = {
        "iss": IAP_ISSUER,
        "aud": IAP_AUDIENCE,
        "sub": "accounts.google.com:1122334455",
        "email": "alice@example.com",
        "typ": None,
        "alg": "ES256",
    }
    shape.update(claims)
    return issuer.mint(**shape)


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.user.identity})


@pytest.fixture
def app(issuer: LocalIssuer) -> Starlette:
    return Starlette(
        routes=[Route("/whoami", whoami)],
        middleware=[Middleware(AudienceMiddleware, settings=iap_settings(issuer))],
    )


async def test_token_in_the_iap_header_is_accepted(app: Starlette, issuer: LocalIssuer) -> None:
    async with asgi_client(app) as client:
        response = await client.get("/whoami", headers={IAP_HEADER: iap_token(issuer)})
    assert response.status_code == 200
    assert response.json() == {"sub": "accounts.google.com:1122334455"}


async def test_authorization_bearer_is_not_read(app: Starlette, issuer: LocalIssuer) -> None:
    async with asgi_client(app) as client:
        response = await client.get(
            "/whoami", headers={"Authorization": f"Bearer {iap_token(issuer)}"}
        )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_iap_header_refusals(app: Starlette, issuer: LocalIssuer) -> None:
    token = iap_token(issuer)
    async with asgi_client(app) as client:
        twice = await client.get("/whoami", headers=[(IAP_HEADER, token), (IAP_HEADER, token)])
        scheme = await client.get("/whoami", headers={IAP_HEADER: f"Bearer {token}"})
        foreign = await client.get(
            "/whoami", headers={IAP_HEADER: iap_token(issuer, aud="/projects/1/apps/other")}
        )
    assert twice.status_code == 400
    assert scheme.status_code == 400
    assert 'error="invalid_request"' in scheme.headers["www-authenticate"]
    assert foreign.status_code == 401
    assert 'error="invalid_token"' in foreign.headers["www-authenticate"]


async def test_fastapi_dependency_reads_the_iap_header(issuer: LocalIssuer) -> None:
    """Without the middleware, the dependency's own guard reads the header its settings name."""
    scheme = BearerToken(settings=iap_settings(issuer))
    api = FastAPI(exception_handlers={AuthRefused: refusal_handler})

    @api.get("/whoami")
    async def endpoint(
        token: Annotated[AccessToken, RequireScopes(scheme=scheme)],
    ) -> dict[str, Any]:
        return {"sub": token.subject}

    async with asgi_client(api) as client:
        accepted = await client.get("/whoami", headers={IAP_HEADER: iap_token(issuer)})
        bearer = await client.get(
            "/whoami", headers={"Authorization": f"Bearer {iap_token(issuer)}"}
        )
    assert accepted.status_code == 200
    assert accepted.json() == {"sub": "accounts.google.com:1122334455"}
    assert bearer.status_code == 401
    assert bearer.headers["www-authenticate"] == "Bearer"
