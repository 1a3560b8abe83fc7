"""DPoP end to end: oidc-provider (its dPoP feature) binds a token to the client's key, and
each example app, as a real server, accepts it with a proof and refuses it without one."""

from __future__ import annotations

import jwt

from audmw.testing import DPoPKey, challenges
from e2e.app_process import AppProcess
from e2e.provider import API, OidcProvider


def test_a_dpop_bound_token_from_oidc_provider(
    oidc_provider: OidcProvider, app: AppProcess
) -> None:
    key = DPoPKey()
    token = oidc_provider.get_token(API, "read:messages", dpop=key)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["cnf"]["jkt"] == key.thumbprint  # the provider bound it to our key

    url = f"{app.base_url}/api/me"
    accepted = app.client.get("/api/me", headers=key.headers("GET", url, token))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["scopes"] == ["read:messages"]

    # Stolen and replayed without the key: as Bearer, or as DPoP with no proof or another's.
    as_bearer = app.client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert as_bearer.status_code == 401
    found = challenges(as_bearer.headers["WWW-Authenticate"])
    assert found["bearer"]["error"] == "invalid_token"
    assert "ES256" in found["dpop"]["algs"].split()
    no_proof = app.client.get("/api/me", headers={"Authorization": f"DPoP {token}"})
    assert no_proof.status_code == 401
    assert challenges(no_proof.headers["WWW-Authenticate"])["dpop"]["error"] == (
        "invalid_dpop_proof"
    )
    thief = DPoPKey()
    stolen = app.client.get("/api/me", headers=thief.headers("GET", url, token))
    assert stolen.status_code == 401
    # The same proof twice: the second is a replay.
    headers = key.headers("GET", url, token)
    assert app.client.get("/api/me", headers=headers).status_code == 200
    assert app.client.get("/api/me", headers=headers).status_code == 401
