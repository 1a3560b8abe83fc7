"""Okta: custom authorization servers (``/oauth2/<server>``) issue tokens an API can verify."""

from __future__ import annotations

import re
from typing import Any

from audmw.errors import ConfigurationError
from audmw.providers import (
    Evidence,
    KindHint,
    Provider,
    Recognition,
    UnverifiedToken,
    host_option,
)
from audmw.values import claim_strings, shown

_HOST = re.compile(r".+\.(?:okta|oktapreview|okta-emea|okta-gov|okta-mil)\.com")
# The JOSE typ of tokens from the org authorization server, for Okta's own APIs.
_ORG_TYP = "okta-internal"
_ORG_TYP_MEANING = (
    "a token of Okta's org authorization server, only for Okta's own APIs; use a custom "
    "authorization server (/oauth2/default or your own)"
)


def preset(*, domain: str | None = None, authorization_server: str = "default") -> dict[str, Any]:
    """Okta custom authorization server ``https://{domain}/oauth2/{authorization_server}``.

    The default server's audience is ``api://default``; other servers need ``audience=``.
    Tokens of the org authorization server (``https://{domain}``) are only for Okta's own APIs.
    """
    host = host_option(domain, "okta", "domain", "your-org.okta.com")
    server = (authorization_server or "").strip().strip("/")
    if not server:
        raise ConfigurationError(
            "audmw: okta needs a custom authorization_server (default, or its ID such as "
            "aus1a2b3c4); tokens of the org authorization server cannot be verified by an API"
        )
    issuer = f"https://{host}/oauth2/{server}"
    settings: dict[str, Any] = {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/v1/keys",
        "scope_claims": ("scp",),
    }
    if server == "default":
        settings["audience"] = "api://default"
    return settings


def _org_typ(token: UnverifiedToken) -> str | None:
    typ = token.header.get("typ")
    return typ if isinstance(typ, str) and _ORG_TYP in typ else None


def recognize(token: UnverifiedToken) -> Recognition | None:
    okta_host = _HOST.fullmatch(token.host) is not None
    if token.path.startswith("/oauth2/") and (okta_host or "cid" in token.claims):
        pitfalls = [
            "configure the issuer with its /oauth2/<server> path: tokens of different "
            "authorization servers are not interchangeable",
            "scopes are in 'scp' as a JSON array (audmw reads arrays); the client is cid, the "
            "user uid",
        ]
        if "api://default" in claim_strings(token.claims.get("aud")):
            pitfalls.append("aud api://default is the default authorization server's audience")
        return Recognition(
            "okta-custom",
            "Okta (custom authorization server)",
            "iss path is /oauth2/<server>",
            tuple(pitfalls),
            Evidence.ISSUER_HOST if okta_host else Evidence.TOKEN_SHAPE,
        )
    if okta_host or _org_typ(token) is not None:
        return Recognition(
            "okta-org",
            "Okta (org authorization server)",
            "iss is an Okta org without /oauth2/",
            (
                "a token of Okta's org authorization server (iss without /oauth2/): only Okta's "
                "own APIs can validate it; request tokens from a custom authorization server "
                "(/oauth2/default/v1/token)",
            ),
            Evidence.ISSUER_HOST if okta_host else Evidence.TOKEN_SHAPE,
        )
    return None


def kind(token: UnverifiedToken) -> KindHint | None:
    typ = _org_typ(token)
    if typ is None:
        return None
    return KindHint("access token for Okta's own APIs", f"typ is {shown(typ)}: {_ORG_TYP_MEANING}")


def issuer_hint(iss: str, expected: tuple[str, ...]) -> str | None:
    origin = iss.rstrip("/")
    if "/oauth2/" not in iss and any(e.startswith(origin + "/oauth2/") for e in expected):
        return (
            "a token of Okta's org authorization server, meant only for Okta's own APIs; "
            "request tokens from the custom authorization server (/oauth2/<server>/v1/token)"
        )
    return None


def typ_hint(typ: str) -> str | None:
    return _ORG_TYP_MEANING if _ORG_TYP in typ else None


PROVIDER = Provider(
    name="okta",
    preset=preset,
    recognize=recognize,
    kind=kind,
    issuer_hint=issuer_hint,
    typ_hint=typ_hint,
)
