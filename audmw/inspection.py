"""What a token is, read without verifying it: header, claims, times, kind and likely provider.

Nothing here decides whether a token is accepted (that is ``TokenValidator``'s job); this
only explains what the token looks like, so that a rejection can be understood. The raw token
is never part of the result, only its length and the fingerprint audmw logs.
"""

from __future__ import annotations

import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from audmw import diagnostics, jws
from audmw.errors import InvalidToken
from audmw.providers import PROVIDERS, UnverifiedToken
from audmw.settings import HMAC_ALGORITHMS
from audmw.values import claim_strings, shown

TIME_CLAIMS = ("exp", "nbf", "iat", "auth_time")
RFC9068_REQUIRED = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")
_ACCESS_SIGNS = ("scope", "scp", "client_id", "cid", "appid", "roles", "permissions", "gty")
OPAQUE_CAUSE = (
    "the usual cause: the token was requested without an audience/resource parameter naming "
    "the API (Auth0: audience=; RFC 8707 servers: resource=; Entra: scope=<API>/.default), so "
    "the provider issued a token only it can read"
)
_NEVER_FOLLOWED = ("jku", "x5u", "jwk", "x5c")
_OTHER_TYPES = {
    "dpop+jwt": "a DPoP proof (RFC 9449), sent in the DPoP header, not as the access token",
    "client-authentication+jwt": "a client authentication assertion, meant for the token endpoint",
    "logout+jwt": "an OpenID Connect back-channel logout token",
    "secevent+jwt": "a security event token (RFC 8417)",
    "token-introspection+jwt": "a signed introspection response (RFC 9701)",
    "oauth-authz-req+jwt": "a signed authorization request (RFC 9101)",
}


@dataclass(frozen=True)
class Kind:
    """What sort of token this is, and the evidence."""

    kind: str  # access_token, id_token, other_jwt, unknown_jwt, jwe, opaque, malformed
    label: str
    profile: str | None = None  # rfc9068 or provider, for access tokens
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Provider:
    """The authorization server the ``iss`` points at, and its usual pitfalls."""

    id: str
    name: str
    why: str
    pitfalls: tuple[str, ...] = ()


@dataclass(frozen=True)
class Inspection:
    format: str  # jws, jwe, opaque, malformed
    length: int
    fingerprint: str
    kind: Kind
    header: dict[str, Any] | None = None
    claims: dict[str, Any] | None = None
    signature_bytes: int | None = None
    provider: Provider | None = None
    notes: tuple[str, ...] = ()
    problem: str | None = None


def fingerprint(token: str) -> str:
    """The short SHA-256 fingerprint audmw's logs use for a token."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()[:16]


# -- times ---------------------------------------------------------------------------------


def _span(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 60:
        return f"{int(seconds)} s"
    if seconds < 90 * 60:
        return f"{int(seconds // 60)} min"
    if seconds < 48 * 3600:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"


def relative_time(name: str, epoch: float, now: float) -> str:
    """``expires in 4 min`` / ``expired 2 h ago`` for exp, ``4 min ago`` / ``in 3 s`` otherwise."""
    delta = epoch - now
    if name == "exp":
        return f"expires in {_span(delta)}" if delta > 0 else f"expired {_span(delta)} ago"
    return f"in {_span(delta)}" if delta > 0 else f"{_span(delta)} ago"


def iso_time(epoch: float) -> str:
    try:
        moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return "out of range"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def time_claims(claims: Mapping[str, Any], now: float) -> dict[str, dict[str, Any]]:
    """Every numeric date among the claims, as epoch, ISO 8601 and relative to ``now``."""
    result = {}
    for name in TIME_CLAIMS:
        value = claims.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            result[name] = {
                "epoch": value,
                "iso": iso_time(value),
                "relative": relative_time(name, value, now),
                "seconds_from_now": round(value - now, 3),
            }
    return result


# -- decoding -----------------------------------------------------------------------------


def _jwe_header(token: str) -> dict[str, Any] | None:
    try:
        header = json.loads(jws.b64decode(token.split(".", 1)[0].encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        return None
    return header if isinstance(header, dict) else None


def inspect_token(token: str, *, client_ids: Iterable[str] = ()) -> Inspection:
    """Decode ``token`` without verifying it and say what it looks like."""
    length, print_ = len(token), fingerprint(token)
    try:
        raw = token.encode("ascii")
    except UnicodeEncodeError:
        return Inspection(
            "malformed",
            length,
            print_,
            Kind("malformed", "not a token"),
            problem="the token contains non-ASCII characters",
        )
    try:
        parsed = jws.parse(raw)
    except InvalidToken as error:
        return _not_jws(token, length, print_, error)
    header, claims = parsed.header, parsed.payload
    provider = guess_provider(claims.get("iss"), header, claims)
    return Inspection(
        "jws",
        length,
        print_,
        token_kind(header, claims, client_ids),
        header=header,
        claims=claims,
        signature_bytes=len(parsed.signature),
        provider=provider,
        notes=tuple(_notes(header, claims)),
    )


def _not_jws(token: str, length: int, print_: str, error: InvalidToken) -> Inspection:
    problem = error.hint or error.reason
    if error.reason == "not_a_jwt" and token.count(".") == 4:
        header = _jwe_header(token)
        iss = header.get("iss") if header else None
        reasons = (
            "five dot-separated parts: an encrypted JWT (JWE); only its issuer can read it",
            OPAQUE_CAUSE,
        )
        return Inspection(
            "jwe",
            length,
            print_,
            Kind("jwe", "encrypted token (JWE)", reasons=reasons),
            header=header,
            provider=guess_provider(iss, header or {}, {}) if iss else None,
            problem=problem,
        )
    if error.reason == "not_a_jwt" and "." not in token:
        return Inspection(
            "opaque",
            length,
            print_,
            Kind(
                "opaque",
                "opaque token (not a JWT)",
                reasons=("no dots: a reference only the issuer can look up", OPAQUE_CAUSE),
            ),
            problem=problem,
        )
    return Inspection(
        "malformed", length, print_, Kind("malformed", "not a valid JWT"), problem=problem
    )


# -- kind -----------------------------------------------------------------------------------


def _media_type(typ: str) -> str:
    lowered = typ.lower()
    return lowered[len("application/") :] if lowered.startswith("application/") else lowered


def token_kind(
    header: Mapping[str, Any], claims: Mapping[str, Any], client_ids: Iterable[str] = ()
) -> Kind:
    """Access token (RFC 9068 or provider-style), ID token, or another kind of JWT, and why."""
    typ = header.get("typ")
    if isinstance(typ, str) and _media_type(typ) == "at+jwt":
        return Kind(
            "access_token",
            "access token (RFC 9068)",
            "rfc9068",
            (f"typ is {typ!r}: the JWT profile for OAuth 2.0 access tokens",),
        )
    token = UnverifiedToken(None, header, claims)
    for provider in PROVIDERS.values():
        own = provider.kind(token)
        if own is not None:
            return Kind("access_token", own.label, "provider", (own.reason,))
    if isinstance(typ, str) and _media_type(typ) != "jwt":
        label = _OTHER_TYPES.get(_media_type(typ), f"a JWT of type {typ!r}")
        return Kind("other_jwt", label, None, (diagnostics.typ_hint(typ),))

    known = list(client_ids)
    azp = claims.get("azp")
    if isinstance(azp, str) and not any(name in claims for name in ("scope", "scp")):
        known.append(azp)  # an ID token's aud is the client it was issued to, which is azp
    why = diagnostics.id_token_signs(claims, known)
    if why is not None:
        return Kind(
            "id_token",
            "OpenID Connect ID token",
            None,
            (f"{why}: an ID token tells the client who logged in; APIs need the access token",),
        )

    typ_text = "no typ header" if typ is None else f"typ is {typ!r}"
    signs = [name for name in _ACCESS_SIGNS if name in claims]
    if claims.get("token_use") == "access":
        signs.append("token_use")
    if claims.get("typ") == "Bearer":
        signs.append("typ claim 'Bearer'")
    if signs:
        return Kind(
            "access_token",
            "access token (provider-style)",
            "provider",
            (
                f"{typ_text}, not at+jwt (RFC 9068): how many providers shape access tokens",
                "access-token claims present: " + ", ".join(signs),
            ),
        )
    return Kind(
        "unknown_jwt",
        "JWT of unclear kind",
        None,
        (f"{typ_text}; no scope, client id or ID-token claims",),
    )


def _notes(header: Mapping[str, Any], claims: Mapping[str, Any]) -> list[str]:
    notes = []
    alg = header.get("alg")
    if isinstance(alg, str) and alg.lower() == "none":
        notes.append("alg is 'none': an unsigned token, never accepted")
    elif isinstance(alg, str) and alg in HMAC_ALGORITHMS:  # a list or object is unhashable
        notes.append(f"alg {alg} uses a shared secret: accepted only with hmac_secret configured")
    followed = [name for name in _NEVER_FOLLOWED if name in header]
    if followed:
        notes.append(
            f"header carries {', '.join(followed)}: audmw never fetches or trusts keys named "
            "by the token itself"
        )
    if "crit" in header:
        notes.append(
            f"crit lists {shown(header['crit'])}: audmw supports no extension, so refuses it"
        )
    if "aud" not in claims:
        notes.append(
            "no aud: audmw refuses tokens that do not name the API (request the token with "
            "audience=/resource=)"
        )
    elif not claim_strings(claims["aud"]) or (
        isinstance(claims["aud"], list) and len(claim_strings(claims["aud"])) != len(claims["aud"])
    ):
        notes.append("aud is not a string or a list of strings")
    if "exp" not in claims:
        notes.append("no exp: audmw refuses tokens without an expiry")
    for name in ("exp", "nbf", "iat"):
        if name in claims and type(claims[name]) not in (int, float):
            notes.append(f"{name} is not a JSON number: refused")
    cnf = claims.get("cnf")
    if isinstance(cnf, Mapping) and "jkt" in cnf:
        notes.append(
            f"DPoP-bound (cnf.jkt {shown(cnf['jkt'])}): accepted only as 'Authorization: DPoP' "
            "with a proof signed by that key, never as Bearer (RFC 9449)"
        )
    if isinstance(cnf, Mapping) and "x5t#S256" in cnf:
        notes.append(
            f"certificate-bound (cnf x5t#S256 {shown(cnf['x5t#S256'])}): accepted only over TLS "
            "with that client certificate (RFC 8705)"
        )
    if _media_type(str(header.get("typ", ""))) == "at+jwt":
        missing = [name for name in RFC9068_REQUIRED if name not in claims]
        if missing:
            notes.append(f"RFC 9068 requires {', '.join(missing)}, missing here")
    return notes


# -- provider -------------------------------------------------------------------------------


def guess_provider(
    iss: Any, header: Mapping[str, Any], claims: Mapping[str, Any]
) -> Provider | None:
    """The provider ``iss`` (and, for custom domains, the token's shape) points at.

    Every provider is asked; the strongest evidence wins (the issuer's host, then the
    issuer's path, then the token's shape), and among equals the first provider by name.
    """
    if not isinstance(iss, str):
        return None
    token = UnverifiedToken(iss, header, claims)
    found = [
        recognition
        for provider in PROVIDERS.values()
        if (recognition := provider.recognize(token)) is not None
    ]
    if not found:
        return None
    best = min(found, key=lambda recognition: recognition.evidence)
    return Provider(best.id, best.name, best.why, best.pitfalls)


# -- machine output ---------------------------------------------------------------------------


def to_json(inspection: Inspection, now: float) -> dict[str, Any]:
    """The inspection as a JSON-ready dict (the ``--json`` schema of ``audmw inspect``)."""
    provider = inspection.provider
    return {
        "format": inspection.format,
        "length": inspection.length,
        "fingerprint": inspection.fingerprint,
        "header": inspection.header,
        "claims": inspection.claims,
        "signature": None
        if inspection.signature_bytes is None
        else {"bytes": inspection.signature_bytes, "verified": False},
        "times": time_claims(inspection.claims or {}, now),
        "kind": {
            "kind": inspection.kind.kind,
            "label": inspection.kind.label,
            "profile": inspection.kind.profile,
            "reasons": list(inspection.kind.reasons),
        },
        "provider": None
        if provider is None
        else {
            "id": provider.id,
            "name": provider.name,
            "why": provider.why,
            "pitfalls": list(provider.pitfalls),
        },
        "notes": list(inspection.notes),
        "problem": inspection.problem,
    }
