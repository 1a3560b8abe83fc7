"""Opaque tokens through the Django middleware (sync and async views), checked at the
issuer's introspection endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import AsyncClient, Client, override_settings
from django_support import audmw_settings

from audmw.testing import LocalIssuer

CLIENT, SECRET = "the-api", "introspection-secret-of-the-api"


@pytest.fixture(autouse=True)
def introspection(issuer: LocalIssuer) -> Iterator[None]:
    issuer.register_client(CLIENT, secret=SECRET)
    value = audmw_settings(
        issuer,
        INTROSPECTION="opaque",
        INTROSPECTION_CLIENT_ID=CLIENT,
        INTROSPECTION_CLIENT_SECRET=SECRET,
    )
    with override_settings(AUDMW=value):
        yield


def test_an_opaque_token_is_introspected_once(issuer: LocalIssuer) -> None:
    token = issuer.mint_opaque(sub="alice", scopes="read:messages")
    before = issuer.token_endpoint.introspection_requests
    client = Client()
    for path in ("/any", "/read", "/any"):
        response = client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, path
        assert response.json()["sub"] == "alice"
    assert issuer.token_endpoint.introspection_requests == before + 1


@pytest.mark.anyio
async def test_the_async_path_introspects_too(issuer: LocalIssuer) -> None:
    token = issuer.mint_opaque(sub="alice", scopes="read:messages")
    response = await AsyncClient().get("/async-read", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    revoked = issuer.mint_opaque(scopes="read:messages")
    issuer.revoke(revoked)
    refused = await AsyncClient().get("/async-read", headers={"Authorization": f"Bearer {revoked}"})
    assert refused.status_code == 401


def test_refusals(issuer: LocalIssuer) -> None:
    client = Client()
    foreign = issuer.mint_opaque(aud="https://other.example.com")
    refused = client.get("/any", headers={"Authorization": f"Bearer {foreign}"})
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    no_scope = client.get("/read", headers={"Authorization": f"Bearer {issuer.mint_opaque()}"})
    assert no_scope.status_code == 403
    issuer.set_mode("garbage")
    down = client.get("/any", headers={"Authorization": f"Bearer {issuer.mint_opaque()}"})
    issuer.set_mode("ok")
    assert down.status_code == 503
    assert down.headers["Retry-After"] == "5"


def test_two_issuers_each_get_only_their_own_opaque_tokens(issuer: LocalIssuer) -> None:
    with LocalIssuer(path="/b") as other:
        other.register_client(CLIENT, secret=SECRET)
        other.token_endpoint.opaque_prefix = "b_"
        value = audmw_settings(
            issuer,
            ISSUER=[issuer.issuer, other.issuer],
            INTROSPECTION="opaque",
            INTROSPECTION_ISSUERS={
                issuer.issuer: {"token_prefix": "a_"},
                other.issuer: {"token_prefix": "b_"},
            },
            INTROSPECTION_CLIENT_ID=CLIENT,
            INTROSPECTION_CLIENT_SECRET=SECRET,
        )
        issuer.token_endpoint.opaque_prefix = "a_"
        try:
            ours = issuer.mint_opaque(sub="alice")
        finally:
            issuer.token_endpoint.opaque_prefix = ""
        theirs = other.mint_opaque(sub="bob")
        before = (
            issuer.token_endpoint.introspection_requests,
            other.token_endpoint.introspection_requests,
        )
        with override_settings(AUDMW=value):
            client = Client()
            from_a = client.get("/any", headers={"Authorization": f"Bearer {ours}"})
            from_b = client.get("/any", headers={"Authorization": f"Bearer {theirs}"})
            nobody = client.get("/any", headers={"Authorization": "Bearer c_" + "x" * 40})
        after = (
            issuer.token_endpoint.introspection_requests,
            other.token_endpoint.introspection_requests,
        )
    assert (from_a.status_code, from_a.json()["sub"]) == (200, "alice")
    assert (from_b.status_code, from_b.json()["sub"]) == (200, "bob")
    assert nobody.status_code == 401
    assert 'error="invalid_token"' in nobody.headers["WWW-Authenticate"]
    assert after == (before[0] + 1, before[1] + 1)
