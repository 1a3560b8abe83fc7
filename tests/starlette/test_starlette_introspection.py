"""Opaque tokens through the Starlette middleware, checked at the issuer's introspection
endpoint (the local issuer's), on the async path."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette_contract import asgi_client, bearer

from audmw import Settings
from audmw.starlette import AudienceMiddleware
from audmw.testing import LocalIssuer
from audmw.testing.dpop import DPoPKey

pytestmark = pytest.mark.anyio

CLIENT, SECRET = "the-api", "introspection-secret-of-the-api"


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.user.identity})


@pytest.fixture
def app(issuer: LocalIssuer) -> Starlette:
    issuer.register_client(CLIENT, secret=SECRET)
    issuer.set_mode("ok")
    settings = Settings(
        issuer=issuer.issuer,
        audience=issuer.audience,
        introspection="opaque",
        introspection_client_id=CLIENT,
        introspection_client_secret=SECRET,
    )
    return Starlette(
        routes=[Route("/whoami", whoami)],
        middleware=[Middleware(AudienceMiddleware, settings=settings)],
    )


async def test_an_opaque_token_is_introspected_once(app: Starlette, issuer: LocalIssuer) -> None:
    token = issuer.mint_opaque(sub="alice")
    before = issuer.token_endpoint.introspection_requests
    async with asgi_client(app) as client:
        first = await client.get("/whoami", headers=bearer(token))
        second = await client.get("/whoami", headers=bearer(token))
        jwt = await client.get("/whoami", headers=bearer(issuer.mint(sub="bob")))
    assert (first.status_code, first.json()) == (200, {"sub": "alice"})
    assert (second.status_code, second.json()) == (200, {"sub": "alice"})
    assert (jwt.status_code, jwt.json()) == (200, {"sub": "bob"})
    assert issuer.token_endpoint.introspection_requests == before + 1


async def test_refusals(app: Starlette, issuer: LocalIssuer) -> None:
    revoked = issuer.mint_opaque()
    issuer.revoke(revoked)
    bound = issuer.mint_opaque(cnf={"jkt": DPoPKey().thumbprint})
    async with asgi_client(app) as client:
        inactive = await client.get("/whoami", headers=bearer(revoked))
        foreign = await client.get(
            "/whoami", headers=bearer(issuer.mint_opaque(aud="https://other.example.com"))
        )
        as_bearer = await client.get("/whoami", headers=bearer(bound))
        issuer.set_mode("garbage")
        down = await client.get("/whoami", headers=bearer(issuer.mint_opaque()))
        issuer.set_mode("ok")
    assert inactive.status_code == 401
    assert 'error="invalid_token"' in inactive.headers["www-authenticate"]
    assert foreign.status_code == 401
    assert as_bearer.status_code == 401  # cnf.jkt of the answer: DPoP-bound, needs its proof
    assert down.status_code == 503
    assert down.headers["retry-after"] == "5"


async def test_a_dpop_bound_opaque_token_with_its_proof(
    app: Starlette, issuer: LocalIssuer
) -> None:
    key = DPoPKey()
    token = issuer.mint_opaque(sub="alice", cnf={"jkt": key.thumbprint})
    url = "http://testserver/whoami"
    async with asgi_client(app) as client:
        accepted = await client.get("/whoami", headers=key.headers("GET", url, token))
        other_key = await client.get("/whoami", headers=DPoPKey().headers("GET", url, token))
    assert (accepted.status_code, accepted.json()) == (200, {"sub": "alice"})
    assert other_key.status_code == 401


async def test_two_issuers_each_get_only_their_own_opaque_tokens(issuer: LocalIssuer) -> None:
    issuer.register_client(CLIENT, secret=SECRET)
    issuer.set_mode("ok")
    with LocalIssuer(path="/b") as other:
        other.register_client(CLIENT, secret=SECRET)
        other.token_endpoint.opaque_prefix = "b_"
        settings = Settings(
            issuer=[issuer.issuer, other.issuer],
            audience=issuer.audience,
            introspection="opaque",
            introspection_issuers={
                issuer.issuer: {"token_prefix": "a_"},
                other.issuer: {"token_prefix": "b_"},
            },
            introspection_client_id=CLIENT,
            introspection_client_secret=SECRET,
        )
        app = Starlette(
            routes=[Route("/whoami", whoami)],
            middleware=[Middleware(AudienceMiddleware, settings=settings)],
        )
        issuer.token_endpoint.opaque_prefix = "a_"
        try:
            ours = issuer.mint_opaque(sub="alice")
        finally:
            issuer.token_endpoint.opaque_prefix = ""
        before = (
            issuer.token_endpoint.introspection_requests,
            other.token_endpoint.introspection_requests,
        )
        async with asgi_client(app) as client:
            from_a = await client.get("/whoami", headers=bearer(ours))
            from_b = await client.get("/whoami", headers=bearer(other.mint_opaque(sub="bob")))
            nobody = await client.get("/whoami", headers=bearer("c_" + "x" * 40))
        after = (
            issuer.token_endpoint.introspection_requests,
            other.token_endpoint.introspection_requests,
        )
    assert (from_a.status_code, from_a.json()) == (200, {"sub": "alice"})
    assert (from_b.status_code, from_b.json()) == (200, {"sub": "bob"})
    assert nobody.status_code == 401
    assert 'error="invalid_token"' in nobody.headers["www-authenticate"]
    assert after == (before[0] + 1, before[1] + 1)
