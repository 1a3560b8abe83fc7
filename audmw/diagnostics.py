"""Refusal logging, and the operator's fix for the classic mistakes.

Everything here runs only after a refusal; nothing here is on the path of a valid token.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from audmw.errors import AuthError, KeysUnavailable

logger = logging.getLogger("audmw")

ID_TOKEN_CLAIMS = ("nonce", "at_hash", "c_hash")
GRAPH_HINT = (
    "the JWT header carries a nonce: a token for another API of the provider "
    "(Microsoft Graph), which only that API can verify; request a token for this "
    "API's scope instead"
)
_GRAPH_AUDIENCES = frozenset(
    {"https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000"}
)


def log_refusal(error: AuthError, fingerprint: str | None = None) -> None:
    """One line per refusal: reason code, status, token fingerprint (never the token), fix."""
    level = logging.WARNING if isinstance(error, KeysUnavailable) else logging.INFO
    if not logger.isEnabledFor(level):
        return
    logger.log(
        level,
        "audmw refused request: reason=%s status=%d%s%s",
        error.reason,
        error.status,
        f" token={fingerprint}" if fingerprint else "",
        f" — {error.hint}" if error.hint else "",
        extra={"audmw_reason": error.reason, "audmw_token": fingerprint},
    )


_SHOWN_CHARS = 80
_SHOWN_ITEMS = 5


def shown(value: Any) -> str:
    """``repr`` of a value the token chose, cut short: a log line must not carry kilobytes."""
    text = repr(value)
    if len(text) <= _SHOWN_CHARS:
        return text
    return f"{text[:_SHOWN_CHARS]}… ({len(text)} characters)"


def shown_words(words: Iterable[str]) -> str:
    """Words of the token (scopes), space-separated, the first few of many."""
    words = list(words)
    text = " ".join(shown(word) if len(word) > _SHOWN_CHARS else word for word in words[:20])
    return text + (f" … ({len(words)} in all)" if len(words) > 20 else "")


def _quoted_list(values: Iterable[str]) -> str:
    values = list(values)
    quoted = ", ".join(shown(v) for v in values[:_SHOWN_ITEMS])
    more = f", … ({len(values)} in all)" if len(values) > _SHOWN_ITEMS else ""
    return f"[{quoted}{more}]"


def id_token_signs(claims: Mapping[str, Any], client_ids: Iterable[str] = ()) -> str | None:
    """Why these claims look like an OpenID Connect ID token, or None."""
    # Keycloak names the kind in the body: "ID" or "Bearer". Before version 25 its access
    # tokens also carried the login's nonce, which alone must not make them ID tokens.
    kind = claims.get("typ")
    if kind == "ID":
        return "the typ claim is 'ID'"
    present = [
        name
        for name in ID_TOKEN_CLAIMS
        if name in claims and not (name == "nonce" and kind == "Bearer")
    ]
    if present:
        return f"{'/'.join(present)} present"
    if claims.get("token_use") == "id":
        return "token_use is 'id'"
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    known = set(client_ids)
    if known and any(a in known for a in audiences):
        return "aud is a client id"
    return None


def audience_hint(aud: Any, expected: Iterable[str], claim: str = "aud") -> str:
    """The fix for an ``aud`` (or the configured audience claim) that does not name this API."""
    wanted = " or ".join(repr(a) for a in expected)
    if claim != "aud":
        if aud is None:
            return f"the token has no {claim}; expected {wanted}"
        values = [aud] if isinstance(aud, str) else [a for a in aud if isinstance(a, str)]
        return (
            f"{claim} is {_quoted_list(values)}, expected {wanted}: add the client to "
            "the allowed list if this API should accept its tokens"
        )
    if aud is None:
        return (
            f"the token has no aud; expected {wanted}. Request it with audience=/resource= "
            "naming this API (Keycloak: add an Audience mapper; Cognito has no aud: use "
            "client_id rules)"
        )
    values = [aud] if isinstance(aud, str) else [a for a in aud if isinstance(a, str)]
    base = f"aud is {_quoted_list(values)}, expected {wanted}"
    if any(v.rstrip("/") in _GRAPH_AUDIENCES for v in values):
        return base + (
            " — a Microsoft Graph token: request the token with scope=<this API's App ID URI "
            "or client id>/.default (or a delegated scope of this API)"
        )
    if values and all(v.rstrip("/").endswith("/userinfo") for v in values):
        return base + (
            " — the token only grants the provider's userinfo endpoint: request it with "
            "audience=<this API's identifier>"
        )
    if values == ["account"]:
        return base + (
            " — Keycloak's default; add an Audience mapper (client scope) that puts this API's "
            "identifier in aud"
        )
    if any(v.rstrip("/") in {e.rstrip("/") for e in expected} for v in values):
        return base + " — they differ only by a trailing slash; aud is compared exactly"
    return base + " — request the token with audience=/resource= naming this API"


def issuer_hint(
    iss: Any, expected: Iterable[str], *, header: Mapping[str, Any] | None = None
) -> str:
    expected = tuple(expected)
    wanted = " or ".join(repr(i) for i in expected)
    if not isinstance(iss, str):
        return f"the token has no string iss; expected {wanted}"
    base = f"iss is {shown(iss)}, expected {wanted}"
    if header is not None and "nonce" in header:
        return f"{base} — {GRAPH_HINT}"
    if iss.startswith("https://sts.windows.net/") and any(
        e.startswith("https://login.microsoftonline.com/") for e in expected
    ):
        return base + (
            " — an Entra ID v1.0 token: accept v1.0 tokens too, or set "
            "accessTokenAcceptedVersion (requestedAccessTokenVersion) to 2 in the API's manifest"
        )
    if iss.startswith("https://login.microsoftonline.com/") and any(
        e.startswith("https://sts.windows.net/") for e in expected
    ):
        return base + " — an Entra ID v2.0 token: accept v2.0 tokens too"
    origin = iss.rstrip("/")
    if "/oauth2/" not in iss and any(e.startswith(origin + "/oauth2/") for e in expected):
        return base + (
            " — a token of Okta's org authorization server, meant only for Okta's own APIs; "
            "request tokens from the custom authorization server (/oauth2/<server>/v1/token)"
        )
    if any(iss.rstrip("/") == e.rstrip("/") for e in expected):
        return base + (
            " — they differ only by a trailing slash; copy the issuer exactly from the "
            "provider's discovery document"
        )
    return base


def typ_hint(typ: str) -> str:
    if "okta-internal" in typ:
        return (
            f"typ is {shown(typ)}: a token of Okta's org authorization server, only for Okta's own "
            "APIs; use a custom authorization server (/oauth2/default or your own)"
        )
    return f"typ is {shown(typ)}, which names another kind of JWT than an access token"


def choices(values: Iterable[Any]) -> str:
    return " or ".join(repr(v) for v in values)


def any_claim_hint(names: Iterable[str]) -> str:
    names = tuple(names)
    base = f"the token carries none of {', '.join(names)}"
    if "roles" in names:
        return base + (
            " — an app-only (client credentials) token needs an application permission: "
            "assign an app role to the client application and grant admin consent"
        )
    return base
