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


def _quoted_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(repr(v) for v in values) + "]"


def id_token_signs(claims: Mapping[str, Any], client_ids: Iterable[str] = ()) -> str | None:
    """Why these claims look like an OpenID Connect ID token, or None."""
    present = [name for name in ID_TOKEN_CLAIMS if name in claims]
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


def audience_hint(aud: Any, expected: Iterable[str]) -> str:
    """The fix for an ``aud`` that does not name this API."""
    wanted = " or ".join(repr(a) for a in expected)
    if aud is None:
        return (
            f"the token has no aud; expected {wanted}. Request it with audience=/resource= "
            "naming this API (Keycloak: add an Audience mapper; Cognito has no aud: use "
            "client_id rules)"
        )
    values = [aud] if isinstance(aud, str) else [a for a in aud if isinstance(a, str)]
    base = f"aud is {_quoted_list(values)}, expected {wanted}"
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


def issuer_hint(iss: Any, expected: Iterable[str]) -> str:
    wanted = " or ".join(repr(i) for i in expected)
    if not isinstance(iss, str):
        return f"the token has no string iss; expected {wanted}"
    base = f"iss is {iss!r}, expected {wanted}"
    if any(iss.rstrip("/") == e.rstrip("/") for e in expected):
        return base + (
            " — they differ only by a trailing slash; copy the issuer exactly from the "
            "provider's discovery document"
        )
    return base


def typ_hint(typ: str) -> str:
    if "okta-internal" in typ:
        return (
            f"typ is {typ!r}: a token of Okta's org authorization server, only for Okta's own "
            "APIs; use a custom authorization server (/oauth2/default or your own)"
        )
    return f"typ is {typ!r}, which names another kind of JWT than an access token"
