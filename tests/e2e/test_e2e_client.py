"""The calling side against a real OpenID provider (node oidc-provider): client credentials
with resource indicators, each client authentication method, errors, and the tokens
accepted by every example app."""

from __future__ import annotations

import asyncio

import httpx
import jwt
import pytest

from audmw import Settings, TokenValidator
from audmw.client import ClientCredentials, TokenRequestError
from e2e.app_process import AppProcess
from e2e.provider import API, OTHER_API, OidcProvider


def validated_for(provider: OidcProvider, token: str, audience: str = API) -> str | None:
    verified = TokenValidator(Settings(issuer=provider.issuer, audience=audience)).validate(token)
    return verified.client_id


def test_client_secret_basic_with_resource_calls_each_example_app(
    oidc_provider: OidcProvider, app: AppProcess
) -> None:
    client_id, secret = oidc_provider.clients["RS256"]
    auth = ClientCredentials(
        issuer=oidc_provider.issuer,
        client_id=client_id,
        client_secret=secret,
        resource=API,
        scope="read:messages",
    )
    with httpx.Client(base_url=app.base_url, auth=auth, timeout=30) as client:
        assert client.get("/api/messages").status_code == 200
        assert client.get("/api/me").json()["aud"] == [API]
        assert client.get("/api/admin").status_code == 403
    assert auth.requests == 1


def test_client_secret_post(oidc_provider: OidcProvider) -> None:
    client_id, secret = oidc_provider.post_client
    auth = ClientCredentials(
        issuer=oidc_provider.issuer,
        client_id=client_id,
        client_secret=secret,
        auth_method="client_secret_post",
        resource=OTHER_API,
        scope="read:reports",
    )
    assert validated_for(oidc_provider, auth.token().access_token, OTHER_API) == client_id
    assert auth.requests == 1


def test_private_key_jwt_with_the_issuer_as_audience(oidc_provider: OidcProvider) -> None:
    auth = ClientCredentials(
        issuer=oidc_provider.issuer,
        client_id=oidc_provider.jwt_client_id,
        private_key=oidc_provider.jwt_client_key.private_jwk,
        resource=API,
        scope="read:messages write:messages",
    )
    issued = auth.token()
    claims = jwt.decode(issued.access_token, options={"verify_signature": False})
    assert claims["scope"] == "read:messages write:messages"
    assert validated_for(oidc_provider, issued.access_token) == oidc_provider.jwt_client_id


def test_the_token_is_requested_once_for_100_concurrent_tasks(
    oidc_provider: OidcProvider, app: AppProcess
) -> None:
    client_id, secret = oidc_provider.clients["ES256"]
    auth = ClientCredentials(
        issuer=oidc_provider.issuer,
        client_id=client_id,
        client_secret=secret,
        resource=API,
        scope="read:messages",
    )

    async def main() -> list[int]:
        async with httpx.AsyncClient(base_url=app.base_url, auth=auth, timeout=60) as client:
            answers = await asyncio.gather(*(client.get("/api/messages") for _ in range(100)))
        return [answer.status_code for answer in answers]

    assert asyncio.run(main()) == [200] * 100
    assert auth.requests == 1


def test_errors_of_a_real_provider(oidc_provider: OidcProvider) -> None:
    client_id, secret = oidc_provider.clients["RS256"]
    unknown = ClientCredentials(
        issuer=oidc_provider.issuer,
        client_id=client_id,
        client_secret=secret,
        resource="https://unknown.example.com",
    )
    with pytest.raises(TokenRequestError) as target:
        unknown.token()
    assert target.value.error == "invalid_target"
    assert "resource=" in (target.value.hint or "")
    wrong = ClientCredentials(
        issuer=oidc_provider.issuer, client_id=client_id, client_secret="wrong", resource=API
    )
    with pytest.raises(TokenRequestError) as client:
        wrong.token()
    assert client.value.error == "invalid_client"
    assert secret not in str(client.value) + repr(client.value) + repr(wrong)
