"""Opaque tokens of the real oidc-provider, checked at its introspection endpoint (RFC 7662)
with the audience, issuer, expiry and scope rules of JWTs; revocation through its revocation
endpoint (RFC 7009)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from audmw import Settings
from audmw.errors import AuthError
from audmw.introspection import IntrospectionVerifier
from audmw.verifier import pending_token
from e2e.app_process import AppProcess
from e2e.provider import API, OPAQUE_API, OidcProvider


def verifier_for(
    provider: OidcProvider, audience: str = OPAQUE_API, **options: object
) -> IntrospectionVerifier:
    client_id, secret = provider.clients["RS256"]
    values: dict[str, object] = {
        "issuer": provider.issuer,
        "audience": audience,
        "introspection": "opaque",
        "introspection_client_id": client_id,
        "introspection_client_secret": secret,
        **options,
    }
    return IntrospectionVerifier(Settings(**values))


def refusal(verifier: IntrospectionVerifier, token: str) -> AuthError:
    with pytest.raises(AuthError) as caught:
        verifier.verify(pending_token(token, 16384))
    return caught.value


def test_an_opaque_token_for_the_api_is_accepted(oidc_provider: OidcProvider) -> None:
    token = oidc_provider.get_token(OPAQUE_API, "read:messages")
    assert token.count(".") == 0  # a reference, not a JWT
    verifier = verifier_for(oidc_provider)
    accepted = verifier.verify(pending_token(token, 16384))
    assert accepted.audience == (OPAQUE_API,)
    assert accepted.scopes == {"read:messages"}
    assert accepted.client_id == oidc_provider.client_id()
    assert accepted.issuer == oidc_provider.issuer
    assert verifier.endpoint == oidc_provider.introspection_endpoint  # from discovery
    again = asyncio.run(verifier.verify_async(pending_token(token, 16384)))
    assert again.scopes == {"read:messages"}
    assert verifier.requests == 1  # the second came from the cache


def test_jwts_are_still_verified_locally(oidc_provider: OidcProvider) -> None:
    verifier = verifier_for(oidc_provider, audience=API)
    assert verifier.verify(pending_token(oidc_provider.get_token(API, "admin"), 16384)).scopes == {
        "admin"
    }
    assert verifier.requests == 0


def test_an_opaque_token_without_an_audience_is_refused(oidc_provider: OidcProvider) -> None:
    # No resource indicator: the provider issues an opaque token for no API at all.
    token = oidc_provider.get_token(None, "read:messages")
    assert refusal(verifier_for(oidc_provider), token).reason == "aud_missing"


def test_an_opaque_token_for_another_api_is_refused(oidc_provider: OidcProvider) -> None:
    token = oidc_provider.get_token(OPAQUE_API, "read:messages")
    assert refusal(verifier_for(oidc_provider, audience=API), token).reason == "aud_mismatch"


def test_a_revoked_token_is_refused_after_the_window(oidc_provider: OidcProvider) -> None:
    token = oidc_provider.get_token(OPAQUE_API, "read:messages")
    cached = verifier_for(oidc_provider)
    cached.verify(pending_token(token, 16384))
    oidc_provider.revoke(token)
    # Inside the revocation window the cached answer holds; a fresh look says inactive.
    assert cached.verify(pending_token(token, 16384)).scopes == {"read:messages"}
    assert refusal(verifier_for(oidc_provider), token).reason == "token_inactive"


def test_wrong_credentials_at_the_endpoint_are_a_503(oidc_provider: OidcProvider) -> None:
    token = oidc_provider.get_token(OPAQUE_API, "read:messages")
    verifier = verifier_for(oidc_provider, introspection_client_secret="not-the-secret")
    error = refusal(verifier, token)
    assert (error.status, error.reason) == (503, "introspection_client_refused")


def test_the_provider_offers_introspection_in_its_discovery_document(
    oidc_provider: OidcProvider,
) -> None:
    metadata = httpx.get(f"{oidc_provider.issuer}/.well-known/openid-configuration").json()
    assert metadata["introspection_endpoint"] == oidc_provider.introspection_endpoint


def test_signed_introspection_answers_are_verified(oidc_provider: OidcProvider) -> None:
    client_id, secret = oidc_provider.signed_introspection_client
    verifier = verifier_for(
        oidc_provider, introspection_client_id=client_id, introspection_client_secret=secret
    )
    token = oidc_provider.get_token(OPAQUE_API, "read:messages")
    assert verifier.verify(pending_token(token, 16384)).scopes == {"read:messages"}
    endpoint = oidc_provider.introspection_endpoint
    answer = httpx.post(
        endpoint,
        data={"token": token},
        auth=(client_id, secret),
        headers={"Accept": "application/token-introspection+jwt"},
    )
    assert answer.headers["content-type"].startswith("application/token-introspection+jwt")


def test_two_workers_share_answers_through_redis(
    oidc_provider: OidcProvider, redis_url: str, app_logs: Path
) -> None:
    """Two example apps (separate processes, two frameworks) on one Redis cache: an answer
    one fetched serves the other, inside the revocation window; a worker with its own memory
    cache asks the provider and learns of the revocation at once."""
    client_id, secret = oidc_provider.clients["RS256"]
    shared = {
        "AUDIENCE": OPAQUE_API,
        "INTROSPECTION": "opaque",
        "INTROSPECTION_CLIENT_ID": client_id,
        "INTROSPECTION_CLIENT_SECRET": secret,
        "INTROSPECTION_CACHE": redis_url,
    }
    alone = {**shared, "INTROSPECTION_CACHE": "memory"}
    workers = [
        AppProcess("starlette_app", oidc_provider.issuer, app_logs / "i-a.log", settings=shared),
        AppProcess("flask_app", oidc_provider.issuer, app_logs / "i-b.log", settings=shared),
        AppProcess("flask_app", oidc_provider.issuer, app_logs / "i-c.log", settings=alone),
    ]
    try:
        first, second, own = (worker.start() for worker in workers)
        token = oidc_provider.get_token(OPAQUE_API, "read:messages")
        headers = {"Authorization": f"Bearer {token}"}
        me = first.client.get("/api/me", headers=headers)
        assert me.status_code == 200, me.text
        assert me.json()["aud"] in (OPAQUE_API, [OPAQUE_API])
        oidc_provider.revoke(token)
        assert second.client.get("/api/me", headers=headers).status_code == 200
        refused = own.client.get("/api/me", headers=headers)
        assert refused.status_code == 401
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    finally:
        for worker in workers:
            worker.close()
    for name in ("i-a.log", "i-b.log", "i-c.log"):
        assert token not in (app_logs / name).read_text(errors="replace")


def test_the_provider_takes_each_client_authentication_from_the_settings(
    oidc_provider: OidcProvider,
) -> None:
    # The provider's own clients: one registered for client_secret_post, one for
    # private_key_jwt (its ES256 key, as PEM text from the settings).
    key = ECAlgorithm.from_jwk(oidc_provider.jwt_client_key.private_jwk)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    post_id, post_secret = oidc_provider.post_client
    by_post = verifier_for(
        oidc_provider,
        introspection_client_id=post_id,
        introspection_client_secret=post_secret,
        introspection_client_auth="client_secret_post",
    )
    by_key = verifier_for(
        oidc_provider,
        introspection_client_id=oidc_provider.jwt_client_id,
        introspection_client_secret=None,
        introspection_client_auth="private_key_jwt",
        introspection_client_key=pem,
        introspection_client_key_id=oidc_provider.jwt_client_key.kid,
    )
    for verifier in (by_post, by_key):
        token = oidc_provider.get_token(OPAQUE_API, "read:messages")
        assert verifier.verify(pending_token(token, 16384)).scopes == {"read:messages"}
    wrong_key = verifier_for(
        oidc_provider,
        introspection_client_id=oidc_provider.jwt_client_id,
        introspection_client_auth="private_key_jwt",
        introspection_client_key=ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode(),
    )
    error = refusal(wrong_key, oidc_provider.get_token(OPAQUE_API, "read:messages"))
    assert (error.status, error.reason) == (503, "introspection_client_refused")
