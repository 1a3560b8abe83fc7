"""The calling side's DPoP against a real OpenID provider: ``ClientCredentials(dpop=True)``
gets a token oidc-provider binds to the client's key, and each example app, as a real
server, accepts it with the client's proofs."""

from __future__ import annotations

import asyncio

import httpx
import jwt

from audmw.client import ClientCredentials, DPoPPresentation
from e2e.app_process import AppProcess
from e2e.provider import API, OidcProvider


def test_client_credentials_with_dpop_calls_each_example_app(
    oidc_provider: OidcProvider, app: AppProcess
) -> None:
    client_id, secret = oidc_provider.clients["RS256"]
    presentation = DPoPPresentation()
    auth = ClientCredentials(
        issuer=oidc_provider.issuer,
        client_id=client_id,
        client_secret=secret,
        resource=API,
        scope="read:messages",
        dpop=presentation,
    )
    with httpx.Client(base_url=app.base_url, auth=auth, timeout=30) as client:
        first = client.get("/api/me")
        second = client.get("/api/messages?page=1")
    assert first.status_code == 200, first.text
    assert second.status_code == 200, second.text
    token = auth.token()
    assert token.token_type.lower() == "dpop"
    claims = jwt.decode(token.access_token, options={"verify_signature": False})
    assert claims["cnf"]["jkt"] == presentation.thumbprint
    assert auth.requests == 1

    # The same token without its proof is refused: the app did check the binding.
    bare = httpx.get(
        f"{app.base_url}/api/me",
        headers={"Authorization": f"DPoP {token.access_token}"},
        timeout=30,
    )
    assert bare.status_code == 401

    async def main() -> int:
        async with httpx.AsyncClient(base_url=app.base_url, auth=auth, timeout=30) as client:
            return (await client.get("/api/me")).status_code

    assert asyncio.run(main()) == 200
