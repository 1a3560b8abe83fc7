"""Refusal logging, and the operator's fix for the classic mistakes.

Everything here runs only after a refusal; nothing here is on the path of a valid token.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TextIO

from audmw.errors import AuthError, KeysUnavailable
from audmw.providers import PROVIDERS
from audmw.providers.entra import GRAPH_HINT as GRAPH_HINT
from audmw.values import SHOWN_CHARS, SHOWN_ITEMS, claim_strings, escaped
from audmw.values import shown as shown

if TYPE_CHECKING:
    from audmw.request import IncomingRequest

logger = logging.getLogger("audmw")

ID_TOKEN_CLAIMS = ("nonce", "at_hash", "c_hash")


def log_refusals(stream: TextIO | None = None) -> bool:
    """Send the ``audmw`` logger's lines (refusals at INFO, outages at WARNING) to stderr.

    The one line a service needs when nothing else configures logging (uvicorn configures
    only its own loggers, Flask only ``app.logger``): without it Python drops INFO records.
    Does nothing, and returns False, when a handler already receives its records (the
    application's logging configuration wins) or the logger has a level of its own.
    """
    if logger.hasHandlers() or logger.level != logging.NOTSET:
        return False
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return True


# The request being verified in this context (set only while a token not found in the
# verified-token cache is checked): the checks below the guard log without seeing it.
_refusing: contextvars.ContextVar[IncomingRequest | None] = contextvars.ContextVar(
    "audmw_refusing", default=None
)


def refusals_of(request: IncomingRequest) -> contextvars.Token[IncomingRequest | None]:
    """Refusals logged from now on in this context are ``request``'s (their ``audmw_route``),
    until ``refusals_done`` with what this returned. For the checks below the guard, which log
    without seeing the request; set only while a token not found in the cache is checked."""
    return _refusing.set(request)


def refusals_done(reset: contextvars.Token[IncomingRequest | None]) -> None:
    _refusing.reset(reset)


def log_refusal(
    error: AuthError,
    fingerprint: str | None = None,
    *,
    issuer: str | None = None,
    request: IncomingRequest | None = None,
) -> None:
    """One line per refusal: reason code, status, token fingerprint (never the token), fix.

    The record's ``extra`` fields (``audmw_reason``, ``audmw_token``, ``audmw_issuer``,
    ``audmw_route``) are for JSON log formatters. ``audmw_route`` is the route template the
    adapter names for ``request`` (or the request being verified), never the raw path; it is
    worked out here, for refusals only.
    """
    level = logging.WARNING if isinstance(error, KeysUnavailable) else logging.INFO
    if not logger.isEnabledFor(level):
        return
    from audmw.observe import log_fields  # imported late: it imports this module's users

    extra: dict[str, Any] = {
        "audmw_reason": error.reason,
        "audmw_token": fingerprint,
        "audmw_issuer": issuer,
        **log_fields(),
    }
    if "audmw_route" not in extra:
        if request is None:
            request = _refusing.get()
        route = request.route() if request is not None else None
        if route is not None:
            extra["audmw_route"] = route
    logger.log(
        level,
        "audmw refused request: reason=%s status=%d%s%s",
        error.reason,
        error.status,
        f" token={fingerprint}" if fingerprint else "",
        f" — {error.hint}" if error.hint else "",
        extra=extra,
    )


def shown_words(words: Iterable[str]) -> str:
    """Words of the token (scopes), space-separated, the first few of many."""
    words = list(words)
    # Escaped: a scope is the token's to choose, and "x\nINFO ..." must not forge a log line.
    text = " ".join(
        shown(word) if len(word) > SHOWN_CHARS else escaped(word) for word in words[:20]
    )
    return text + (f" … ({len(words)} in all)" if len(words) > 20 else "")


def _quoted_list(values: Iterable[str]) -> str:
    values = list(values)
    quoted = ", ".join(shown(v) for v in values[:SHOWN_ITEMS])
    more = f", … ({len(values)} in all)" if len(values) > SHOWN_ITEMS else ""
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
    # Only the strings: an object or a list inside aud cannot be looked up in a set.
    audiences = claim_strings(claims.get("aud"))
    known = set(client_ids)
    if known and any(a in known for a in audiences):
        return "aud is a client id"
    return None


def audience_hint(
    aud: Any, expected: Iterable[str], claim: str = "aud", resource: str | None = None
) -> str:
    """The fix for an ``aud`` (or the configured audience claim) that does not name this API.

    ``resource`` is this API's resource identifier (RFC 8707), when it has one: a token of a
    trusted issuer for another resource was requested with the wrong ``resource=``.
    """
    expected = tuple(expected)
    wanted = " or ".join(repr(a) for a in expected)
    if claim != "aud":
        if aud is None:
            return f"the token has no {claim}; expected {wanted}"
        return (
            f"{claim} is {_quoted_list(_strings_of(aud))}, expected {wanted}: add the client to "
            "the allowed list if this API should accept its tokens"
        )
    if aud is None:
        notes = [p.missing_audience_hint for p in PROVIDERS.values() if p.missing_audience_hint]
        return (
            f"the token has no aud; expected {wanted}. Request it with audience=/resource= "
            "naming this API" + (f" ({'; '.join(notes)})" if notes else "")
        )
    values = _strings_of(aud)
    base = f"aud is {_quoted_list(values)}, expected {wanted}"
    explained = _first(provider.audience_hint(values) for provider in PROVIDERS.values())
    if explained is not None:
        return f"{base} — {explained}"
    if any(v.rstrip("/") in {e.rstrip("/") for e in expected} for v in values):
        return base + " — they differ only by a trailing slash; aud is compared exactly"
    if resource is not None:
        return (
            f"{base} — the issuer made this token for another resource "
            f"({', '.join(shown(v) for v in values[:SHOWN_ITEMS])}); the client must request "
            f"its token with resource={resource}"
        )
    return base + " — request the token with audience=/resource= naming this API"


def issuer_hint(
    iss: Any, expected: Iterable[str], *, header: Mapping[str, Any] | None = None
) -> str:
    expected = tuple(expected)
    wanted = " or ".join(repr(i) for i in expected)
    if not isinstance(iss, str):
        return f"the token has no string iss; expected {wanted}"
    base = f"iss is {shown(iss)}, expected {wanted}"
    explained = signature_hint(header) if header is not None else None
    if explained is None:
        explained = _first(provider.issuer_hint(iss, expected) for provider in PROVIDERS.values())
    if explained is not None:
        return f"{base} — {explained}"
    if any(iss.rstrip("/") == e.rstrip("/") for e in expected):
        return base + (
            " — they differ only by a trailing slash; copy the issuer exactly from the "
            "provider's discovery document"
        )
    return base


def signature_hint(header: Mapping[str, Any]) -> str | None:
    """Why a token with this header cannot be verified here, when a provider knows why."""
    return _first(provider.header_hint(header) for provider in PROVIDERS.values())


def typ_hint(typ: str) -> str:
    explained = _first(provider.typ_hint(typ) for provider in PROVIDERS.values())
    if explained is not None:
        return f"typ is {shown(typ)}: {explained}"
    return f"typ is {shown(typ)}, which names another kind of JWT than an access token"


def _strings_of(aud: Any) -> tuple[str, ...]:
    # The validator may hand over the claim as a list or as the tuple it normalised it to.
    return claim_strings(list(aud) if isinstance(aud, tuple) else aud)


def _first(answers: Iterable[str | None]) -> str | None:
    return next((answer for answer in answers if answer is not None), None)


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
