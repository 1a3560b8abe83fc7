"""Entra ID: v1.0 and v2.0 tokens, single- and multi-tenant, key issuers, Graph tokens."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from audmw import TokenValidator
from audmw.testing import LocalIssuer, SigningKey, generate_key
from audmw.testing.issuer import b64url, sign_compact

from .conftest import (
    API_CLIENT_ID,
    APP_ID_URI,
    OTHER_TENANT,
    TENANT,
    MakeValidator,
    refusal,
)

CLIENT_APP = "c44b4083-3bb0-49c1-b47d-974e53cbdf3c"
V2_ISSUER = f"https://login.microsoftonline.com/{TENANT}/v2.0"
V1_ISSUER = f"https://sts.windows.net/{TENANT}/"


def v2_token(issuer: LocalIssuer, tenant: str = TENANT, **claims: Any) -> str:
    """A delegated v2.0 access token as Entra ID issues it (aud = the API's client id)."""
    shape: dict[str, Any] = {
        "iss": f"https://login.microsoftonline.com/{tenant}/v2.0",
        "aud": API_CLIENT_ID,
        "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
        "tid": tenant,
        "ver": "2.0",
        "azp": CLIENT_APP,
        "azpacr": "0",
        "oid": "00000000-0000-0000-66f3-3332eca7ea81",
        "scp": "Orders.Read Orders.Write",
        "uti": "fqiBqXLPj0eQa82S-IYFAA",
        "rh": "0.AAAA",
        "client_id": None,
        "jti": None,
        "typ": "JWT",
    }
    shape.update(claims)
    return issuer.mint(**shape)


def v1_token(issuer: LocalIssuer, tenant: str = TENANT, **claims: Any) -> str:
    """A v1.0 token: iss on sts.windows.net, aud the App ID URI, client in appid."""
    shape: dict[str, Any] = {
        "iss": f"https://sts.windows.net/{tenant}/",
        "aud": APP_ID_URI,
        "tid": tenant,
        "ver": "1.0",
        "appid": CLIENT_APP,
        "appidacr": "0",
        "scp": "Orders.Read",
        "unique_name": "alice@contoso.com",
        "client_id": None,
        "jti": None,
        "typ": "JWT",
    }
    shape.update(claims)
    return issuer.mint(**shape)


def app_only_token(issuer: LocalIssuer, **claims: Any) -> str:
    """Client credentials: no scp; application permissions in roles, if any are assigned."""
    return v2_token(issuer, scp=None, sub=CLIENT_APP, idtyp="app", **claims)


@pytest.fixture
def single(preset: MakeValidator) -> TokenValidator:
    return preset("entra", tenant_id=TENANT, client_id=API_CLIENT_ID, app_id_uri=APP_ID_URI)


@pytest.fixture
def multi(preset: MakeValidator) -> TokenValidator:
    return preset(
        "entra", tenant_id="organizations", client_id=API_CLIENT_ID, app_id_uri=APP_ID_URI
    )


def test_v2_token_is_accepted_with_scopes_from_scp(
    issuer: LocalIssuer, single: TokenValidator
) -> None:
    token = single.validate(v2_token(issuer))
    assert token.issuer == V2_ISSUER
    assert token.scopes == {"Orders.Read", "Orders.Write"}
    assert token.client_id == CLIENT_APP


def test_v1_token_for_the_app_id_uri_is_accepted(
    issuer: LocalIssuer, single: TokenValidator
) -> None:
    token = single.validate(v1_token(issuer))
    assert token.issuer == V1_ISSUER
    assert token.audience == (APP_ID_URI,)
    assert token.client_id == CLIENT_APP


def test_v1_token_with_a_v2_only_configuration_is_explained(
    issuer: LocalIssuer, preset: MakeValidator
) -> None:
    v2_only = preset("entra", tenant_id=TENANT, client_id=API_CLIENT_ID, versions="2.0")
    assert v2_only.validate(v2_token(issuer)).issuer == V2_ISSUER
    error = refusal(v2_only, v1_token(issuer, aud=API_CLIENT_ID))
    assert error.reason == "iss_mismatch"
    assert error.hint is not None
    assert "v1.0 token" in error.hint
    assert "accessTokenAcceptedVersion" in error.hint


def test_app_id_uri_is_not_the_client_id(issuer: LocalIssuer, preset: MakeValidator) -> None:
    only_guid = preset("entra", tenant_id=TENANT, client_id=API_CLIENT_ID)
    assert refusal(only_guid, v1_token(issuer)).reason == "aud_mismatch"


def test_single_tenant_refuses_another_tenant(issuer: LocalIssuer, single: TokenValidator) -> None:
    assert refusal(single, v2_token(issuer, tenant=OTHER_TENANT)).reason == "iss_mismatch"


def test_multi_tenant_accepts_any_tenant_of_the_template(
    issuer: LocalIssuer, multi: TokenValidator
) -> None:
    assert multi.validate(v2_token(issuer, tenant=OTHER_TENANT)).claims["tid"] == OTHER_TENANT
    assert multi.validate(v1_token(issuer, tenant=TENANT)).issuer == V1_ISSUER


def test_multi_tenant_issuer_must_name_the_tokens_own_tenant(
    issuer: LocalIssuer, multi: TokenValidator
) -> None:
    other_iss = f"https://login.microsoftonline.com/{OTHER_TENANT}/v2.0"
    error = refusal(multi, v2_token(issuer, iss=other_iss))
    assert error.reason == "iss_mismatch"
    # The template itself, compared literally, is no issuer either.
    literal = "https://login.microsoftonline.com/{tenantid}/v2.0"
    assert refusal(multi, v2_token(issuer, iss=literal)).reason == "iss_mismatch"


@pytest.mark.parametrize("tid", [None, "contoso.onmicrosoft.com", 42, "{tenantid}"])
def test_multi_tenant_needs_a_guid_tid(
    issuer: LocalIssuer, multi: TokenValidator, tid: Any
) -> None:
    iss = f"https://login.microsoftonline.com/{tid}/v2.0"
    assert refusal(multi, v2_token(issuer, iss=iss, tid=tid)).reason == "tid_invalid"


def test_allowed_tenants(issuer: LocalIssuer, preset: MakeValidator) -> None:
    validator = preset(
        "entra", tenant_id="common", client_id=API_CLIENT_ID, allowed_tenants=[TENANT.upper()]
    )
    assert validator.validate(v2_token(issuer)).claims["tid"] == TENANT
    error = refusal(validator, v2_token(issuer, tenant=OTHER_TENANT))
    assert error.reason == "tenant_not_allowed"
    assert error.hint is not None
    assert OTHER_TENANT in error.hint


@pytest.fixture(scope="module")
def bound_key() -> SigningKey:
    return generate_key("rsa", kid="entra-bound")


def publish_with_issuer(issuer: LocalIssuer, key: SigningKey, key_issuer: str) -> None:
    """Serve ``key`` the way Entra's JWKS does, with an ``issuer`` member."""
    issuer.extra_jwks = [{**key.public_jwk(), "issuer": key_issuer}]


def test_key_bound_to_the_tenant_template(
    issuer: LocalIssuer, multi: TokenValidator, bound_key: SigningKey
) -> None:
    publish_with_issuer(issuer, bound_key, "https://login.microsoftonline.com/{tenantid}/v2.0")
    assert multi.validate(v2_token(issuer, tenant=OTHER_TENANT, key=bound_key))
    # A v1.0 token of a tenant is signed by the keys bound to that tenant's v2.0 issuer.
    assert multi.validate(v1_token(issuer, key=bound_key)).issuer == V1_ISSUER


def test_key_bound_to_one_tenant_cannot_sign_for_another(
    issuer: LocalIssuer, multi: TokenValidator, bound_key: SigningKey
) -> None:
    publish_with_issuer(issuer, bound_key, V2_ISSUER)
    assert multi.validate(v2_token(issuer, key=bound_key)).issuer == V2_ISSUER
    error = refusal(multi, v2_token(issuer, tenant=OTHER_TENANT, key=bound_key))
    assert error.reason == "key_issuer_mismatch"
    error = refusal(multi, v1_token(issuer, tenant=OTHER_TENANT, key=bound_key))
    assert error.reason == "key_issuer_mismatch"


def graph_token(issuer: LocalIssuer) -> str:
    """A Microsoft Graph token: the header nonce is replaced by its hash before signing."""
    nonce = "hWv1vQxyx0FNSL3ocxTMLYSLq6UMb0xsDjzFpSvt6Ho"
    signing = issuer.key_for("RS256")
    header = {"typ": "JWT", "alg": "RS256", "kid": signing.kid}
    hashed = b64url(hashlib.sha256(nonce.encode()).digest())
    payload = {
        "aud": "00000003-0000-0000-c000-000000000000",
        "iss": V1_ISSUER,
        "tid": TENANT,
        "ver": "1.0",
        "appid": CLIENT_APP,
        "scp": "User.Read openid profile",
        "exp": 4_000_000_000,
        "iat": 1_700_000_000,
    }
    signed = sign_compact({**header, "nonce": hashed}, payload, signing.private_key)
    _, body, signature = signed.split(".")
    shown = base64.urlsafe_b64encode(json.dumps({**header, "nonce": nonce}).encode())
    return f"{shown.rstrip(b'=').decode()}.{body}.{signature}"


def test_graph_token_is_refused_with_the_graph_hint(
    issuer: LocalIssuer, single: TokenValidator, preset: MakeValidator
) -> None:
    error = refusal(single, graph_token(issuer))
    assert (error.reason, error.status) == ("bad_signature", 401)
    assert error.hint is not None
    assert "Microsoft Graph" in error.hint
    v2_only = preset("entra", tenant_id=TENANT, client_id=API_CLIENT_ID, versions="2.0")
    error = refusal(v2_only, graph_token(issuer))
    assert error.reason == "iss_mismatch"
    assert error.hint is not None
    assert "Microsoft Graph" in error.hint


def test_verifiable_token_for_graph_names_the_fix(
    issuer: LocalIssuer, single: TokenValidator
) -> None:
    error = refusal(single, v2_token(issuer, aud="https://graph.microsoft.com"))
    assert error.reason == "aud_mismatch"
    assert error.hint is not None
    assert "/.default" in error.hint


def test_app_roles_count_as_scopes(issuer: LocalIssuer, single: TokenValidator) -> None:
    token = single.validate(app_only_token(issuer, roles=["Orders.ReadWrite.All"]))
    assert token.scopes == {"Orders.ReadWrite.All"}


def test_app_only_tokens_without_roles(issuer: LocalIssuer, preset: MakeValidator) -> None:
    lenient = preset("entra", tenant_id=TENANT, client_id=API_CLIENT_ID)
    assert lenient.validate(app_only_token(issuer)).scopes == frozenset()
    strict = preset("entra", tenant_id=TENANT, client_id=API_CLIENT_ID, require_app_roles=True)
    error = refusal(strict, app_only_token(issuer))
    assert error.reason == "claim_missing"
    assert error.hint is not None
    assert "app role" in error.hint
    assert strict.validate(app_only_token(issuer, roles=["Orders.Read.All"]))
    assert strict.validate(v2_token(issuer)).scopes == {"Orders.Read", "Orders.Write"}
    assert refusal(strict, app_only_token(issuer, roles=[])).reason == "claim_missing"
