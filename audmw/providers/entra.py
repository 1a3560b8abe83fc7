"""Microsoft Entra ID (Azure AD): v1.0 and v2.0 access tokens, and Microsoft Graph tokens."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from audmw.errors import ConfigurationError
from audmw.providers import (
    KindHint,
    Provider,
    Recognition,
    UnverifiedToken,
    required_option,
)
from audmw.values import TENANT_PLACEHOLDER, comma_strings, flag

_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_MULTI_TENANT = ("common", "organizations", "consumers")
_VERSIONS = ("1.0", "2.0")
_V1_ISSUER = "https://sts.windows.net/"
_V2_ISSUER = "https://login.microsoftonline.com/"
_GRAPH_AUDIENCES = frozenset(
    {"https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000"}
)
GRAPH_HINT = (
    "the JWT header carries a nonce: a token for another API of the provider "
    "(Microsoft Graph), which only that API can verify; request a token for this "
    "API's scope instead"
)


def preset(
    *,
    tenant_id: str | None = None,
    client_id: str | None = None,
    app_id_uri: str | None = None,
    versions: str | Iterable[str] = _VERSIONS,
    allowed_tenants: str | Iterable[str] | None = None,
    require_app_roles: bool | str = False,
) -> dict[str, Any]:
    """Microsoft Entra ID (Azure AD): v1.0 and v2.0 access tokens of one tenant, or of many.

    ``tenant_id`` is the directory (tenant) GUID, or ``organizations``/``common`` for a
    multi-tenant API (then ``allowed_tenants`` may list the accepted tenant GUIDs). The
    audience is the API's client id and, for v1.0 tokens, its App ID URI. Scopes come from
    ``scp``, application permissions from ``roles``; ``require_app_roles`` refuses app-only
    tokens (no ``scp``) that carry no ``roles``.
    """
    tenant = required_option(tenant_id, "entra", "tenant_id", "the Directory (tenant) ID GUID")
    client = required_option(client_id, "entra", "client_id", "the API's Application (client) ID")
    accepted = comma_strings(versions, "versions")
    unknown = [v for v in accepted if v not in _VERSIONS]
    if unknown or not accepted:
        raise ConfigurationError(
            f"audmw: entra versions must be 1.0 and/or 2.0 (accessTokenAcceptedVersion), "
            f"not {', '.join(unknown) or 'nothing'}"
        )
    multi = tenant.lower() in _MULTI_TENANT
    if not multi and not _GUID.fullmatch(tenant):
        raise ConfigurationError(
            f"audmw: entra tenant_id {tenant!r} must be the Directory (tenant) ID, a GUID, as in "
            "the token's iss and tid; or 'organizations'/'common' for a multi-tenant API"
        )
    if allowed_tenants and not multi:
        raise ConfigurationError(
            "audmw: entra allowed_tenants needs tenant_id='organizations' or 'common'"
        )
    iss_tenant = TENANT_PLACEHOLDER if multi else tenant.lower()
    issuers = []
    if "1.0" in accepted:
        issuers.append(f"{_V1_ISSUER}{iss_tenant}/")
    if "2.0" in accepted:
        issuers.append(f"{_V2_ISSUER}{iss_tenant}/v2.0")
    # The v2.0 key set binds each key to the v2.0 issuer; the v1.0 set serves v1.0 tokens.
    keys_path = "discovery/v2.0/keys" if "2.0" in accepted else "discovery/keys"
    keys_tenant = "common" if multi else tenant.lower()
    settings: dict[str, Any] = {
        "issuer": issuers,
        "jwks_uri": f"{_V2_ISSUER}{keys_tenant}/{keys_path}",
        "audience": [client] + ([app_id_uri.strip()] if app_id_uri and app_id_uri.strip() else []),
        "scope_claims": ("scp", "roles"),
        "algorithms": ("RS256",),
    }
    if allowed_tenants:
        settings["allowed_tenants"] = allowed_tenants
    if flag(require_app_roles, "require_app_roles"):
        settings["require_any_claim"] = ("scp", "roles")
    return settings


# -- audmw inspect ------------------------------------------------------------------------------


def _common_pitfalls(token: UnverifiedToken) -> list[str]:
    pitfalls = []
    if "nonce" in token.header:
        pitfalls.append(
            "the header carries a nonce: a Microsoft Graph token, which your API cannot "
            "verify; request scope=<your API>/.default"
        )
    if "roles" in token.claims or "scp" not in token.claims:
        pitfalls.append(
            "app permissions and app roles are in 'roles' (app-only tokens have no scp): add "
            "roles to scope_claims to require them"
        )
    pitfalls.append(
        "multi-tenant apps: the issuer contains the tenant id (tid); list each allowed "
        "tenant's issuer"
    )
    return pitfalls


def recognize(token: UnverifiedToken) -> Recognition | None:
    if token.host == "sts.windows.net":
        return Recognition(
            "entra-v1",
            "Microsoft Entra ID (v1.0 token)",
            "iss is https://sts.windows.net/…",
            (
                "v1 token (the API's accessTokenAcceptedVersion is null or 1): if clients may "
                "also get v2 tokens, accept both issuers or set accessTokenAcceptedVersion=2",
                "aud is the App ID URI (api://...) or the client id, whichever the client "
                "requested: configure both as audiences",
                "the client is in appid",
                *_common_pitfalls(token),
            ),
        )
    if token.host == "login.microsoftonline.com" and token.path.rstrip("/").endswith("/v2.0"):
        return Recognition(
            "entra-v2",
            "Microsoft Entra ID (v2.0 token)",
            "iss is https://login.microsoftonline.com/…/v2.0",
            (
                "v2 tokens always carry the API's client-id GUID as aud, never the App ID URI",
                "the client is in azp",
                *_common_pitfalls(token),
            ),
        )
    return None


def kind(token: UnverifiedToken) -> KindHint | None:
    typ = token.header.get("typ")
    plain_jwt = typ is None or (
        isinstance(typ, str) and typ.lower().removeprefix("application/") == "jwt"
    )
    if "nonce" in token.header and plain_jwt:
        return KindHint(
            "access token for another API (Microsoft Graph)",
            "the header carries a nonce: a Microsoft Graph token, which only Graph can "
            "verify; request a token with this API's scope (api://<app>/.default)",
        )
    return None


# -- refusal logs -------------------------------------------------------------------------------


def header_hint(header: Mapping[str, Any]) -> str | None:
    # Graph signs a hash of the header nonce, not the nonce itself: nobody else can verify it.
    return GRAPH_HINT if "nonce" in header else None


def issuer_hint(iss: str, expected: tuple[str, ...]) -> str | None:
    if iss.startswith(_V1_ISSUER) and any(e.startswith(_V2_ISSUER) for e in expected):
        return (
            "an Entra ID v1.0 token: accept v1.0 tokens too, or set accessTokenAcceptedVersion "
            "(requestedAccessTokenVersion) to 2 in the API's manifest"
        )
    if iss.startswith(_V2_ISSUER) and any(e.startswith(_V1_ISSUER) for e in expected):
        return "an Entra ID v2.0 token: accept v2.0 tokens too"
    return None


def audience_hint(audiences: tuple[str, ...]) -> str | None:
    if any(a.rstrip("/") in _GRAPH_AUDIENCES for a in audiences):
        return (
            "a Microsoft Graph token: request the token with scope=<this API's App ID URI "
            "or client id>/.default (or a delegated scope of this API)"
        )
    return None


PROVIDER = Provider(
    name="entra",
    preset=preset,
    recognize=recognize,
    kind=kind,
    header_hint=header_hint,
    issuer_hint=issuer_hint,
    audience_hint=audience_hint,
)
