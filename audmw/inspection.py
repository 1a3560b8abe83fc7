"""What a token is, read without verifying it: header, claims, times, kind and likely provider.

Nothing here decides whether a token is accepted (that is ``TokenValidator``'s job); this
only explains what the token looks like, so that a rejection can be understood. The raw token
is never part of the result, only its length and the fingerprint audmw logs.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from audmw import diagnostics, jws
from audmw.errors import InvalidToken
from audmw.settings import HMAC_ALGORITHMS

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
    if isinstance(typ, str) and _media_type(typ) != "jwt":
        if "okta-internal" in typ:
            return Kind(
                "access_token",
                "access token for Okta's own APIs",
                "provider",
                (diagnostics.typ_hint(typ),),
            )
        label = _OTHER_TYPES.get(_media_type(typ), f"a JWT of type {typ!r}")
        return Kind("other_jwt", label, None, (diagnostics.typ_hint(typ),))

    known = list(client_ids)
    azp = claims.get("azp")
    if isinstance(azp, str) and not any(name in claims for name in ("scope", "scp")):
        known.append(azp)  # an ID token's aud is the client it was issued to, which is azp
    why = diagnostics.id_token_signs(claims, known)
    if why is None and claims.get("typ") == "ID":
        why = "Keycloak's typ claim is 'ID'"
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
    if "nonce" in header:
        return Kind(
            "access_token",
            "access token for another API (Microsoft Graph)",
            "provider",
            (
                "the header carries a nonce: a Microsoft Graph token, which only Graph can "
                "verify; request a token with this API's scope (api://<app>/.default)",
            ),
        )
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


def _audiences(claims: Mapping[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list):
        return [a for a in aud if isinstance(a, str)]
    return []


def _notes(header: Mapping[str, Any], claims: Mapping[str, Any]) -> list[str]:
    notes = []
    alg = header.get("alg")
    if isinstance(alg, str) and alg.lower() == "none":
        notes.append("alg is 'none': an unsigned token, never accepted")
    elif alg in HMAC_ALGORITHMS:
        notes.append(f"alg {alg} uses a shared secret: accepted only with hmac_secret configured")
    followed = [name for name in _NEVER_FOLLOWED if name in header]
    if followed:
        notes.append(
            f"header carries {', '.join(followed)}: audmw never fetches or trusts keys named "
            "by the token itself"
        )
    if "crit" in header:
        notes.append(f"crit lists {header['crit']!r}: audmw supports no extension, so refuses it")
    if "aud" not in claims:
        notes.append(
            "no aud: audmw refuses tokens that do not name the API (request the token with "
            "audience=/resource=)"
        )
    elif not _audiences(claims) or (
        isinstance(claims["aud"], list) and len(_audiences(claims)) != len(claims["aud"])
    ):
        notes.append("aud is not a string or a list of strings")
    if "exp" not in claims:
        notes.append("no exp: audmw refuses tokens without an expiry")
    for name in ("exp", "nbf", "iat"):
        if name in claims and type(claims[name]) not in (int, float):
            notes.append(f"{name} is not a JSON number: refused")
    if _media_type(str(header.get("typ", ""))) == "at+jwt":
        missing = [name for name in RFC9068_REQUIRED if name not in claims]
        if missing:
            notes.append(f"RFC 9068 requires {', '.join(missing)}, missing here")
    return notes


# -- provider -------------------------------------------------------------------------------

_KEYCLOAK_PATH = re.compile(r"/realms/[^/]+/?$")
_OKTA_HOST = re.compile(r".+\.(?:okta|oktapreview|okta-emea|okta-gov|okta-mil)\.com")
_COGNITO_HOST = re.compile(r"cognito-idp\.[a-z0-9-]+\.amazonaws\.com")

_Pitfalls = Callable[[Mapping[str, Any], Mapping[str, Any]], list[str]]


def _auth0(header: Mapping[str, Any], claims: Mapping[str, Any]) -> list[str]:
    audiences = _audiences(claims)
    userinfo = [a for a in audiences if a.rstrip("/").endswith("/userinfo")]
    pitfalls = [
        "the issuer ends with a slash (https://TENANT/): configure it exactly so",
        "without audience=<API identifier> on /authorize or /oauth/token, Auth0 issues an "
        "opaque or encrypted token that only /userinfo accepts",
    ]
    if userinfo and len(userinfo) == len(audiences):
        pitfalls.insert(0, "aud names only the userinfo endpoint: request with audience=")
    elif userinfo:
        pitfalls.append(
            "aud also lists the userinfo endpoint (openid scope); audmw accepts any matching member"
        )
    if "permissions" in claims:
        pitfalls.append(
            "RBAC permissions are in 'permissions': add it to scope_claims "
            "(AUDMW_SCOPE_CLAIMS=scope,permissions) to require them like scopes"
        )
    if claims.get("gty") == "client-credentials":
        pitfalls.append(
            "machine-to-machine token (gty client-credentials; sub is CLIENT@clients): there is "
            "no user"
        )
    return pitfalls


def _entra_common(header: Mapping[str, Any], claims: Mapping[str, Any]) -> list[str]:
    pitfalls = []
    if "nonce" in header:
        pitfalls.append(
            "the header carries a nonce: a Microsoft Graph token, which your API cannot "
            "verify; request scope=<your API>/.default"
        )
    if "roles" in claims or "scp" not in claims:
        pitfalls.append(
            "app permissions and app roles are in 'roles' (app-only tokens have no scp): add "
            "roles to scope_claims to require them"
        )
    pitfalls.append(
        "multi-tenant apps: the issuer contains the tenant id (tid); list each allowed "
        "tenant's issuer"
    )
    return pitfalls


def _entra_v1(header: Mapping[str, Any], claims: Mapping[str, Any]) -> list[str]:
    return [
        "v1 token (the API's accessTokenAcceptedVersion is null or 1): if clients may also get "
        "v2 tokens, accept both issuers or set accessTokenAcceptedVersion=2",
        "aud is the App ID URI (api://...) or the client id, whichever the client requested: "
        "configure both as audiences",
        "the client is in appid",
        *_entra_common(header, claims),
    ]


def _entra_v2(header: Mapping[str, Any], claims: Mapping[str, Any]) -> list[str]:
    return [
        "v2 tokens always carry the API's client-id GUID as aud, never the App ID URI",
        "the client is in azp",
        *_entra_common(header, claims),
    ]


def _okta_custom(header: Mapping[str, Any], claims: Mapping[str, Any]) -> list[str]:
    pitfalls = [
        "configure the issuer with its /oauth2/<server> path: tokens of different "
        "authorization servers are not interchangeable",
        "scopes are in 'scp' as a JSON array (audmw reads arrays); the client is cid, the user uid",
    ]
    if "api://default" in _audiences(claims):
        pitfalls.append("aud api://default is the default authorization server's audience")
    return pitfalls


def _okta_org(header: Mapping[str, Any], claims: Mapping[str, Any]) -> list[str]:
    return [
        "a token of Okta's org authorization server (iss without /oauth2/): only Okta's own "
        "APIs can validate it; request tokens from a custom authorization server "
        "(/oauth2/default/v1/token)",
    ]


def _keycloak(header: Mapping[str, Any], claims: Mapping[str, Any]) -> list[str]:
    audiences = _audiences(claims)
    pitfalls = []
    if not audiences or audiences == ["account"]:
        pitfalls.append(
            "aud is "
            + ("'account', Keycloak's default" if audiences else "absent")
            + ": add an Audience mapper (client scope) that puts the API's identifier in aud"
        )
    pitfalls += [
        "roles are in realm_access.roles and resource_access.<client>.roles: add those paths "
        "to scope_claims to require them",
        "iss carries the host name the client used to reach Keycloak: clients and the API must "
        "use the same one (KC_HOSTNAME)",
    ]
    if "typ" in claims:
        pitfalls.append(
            f"the body claim typ {claims['typ']!r} is Keycloak's own marker, not the JOSE "
            "header typ"
        )
    return pitfalls


def _cognito(header: Mapping[str, Any], claims: Mapping[str, Any]) -> list[str]:
    pitfalls = []
    if claims.get("token_use") == "id":
        pitfalls.append("token_use is 'id': this is the ID token; send the access token")
    pitfalls += [
        "Cognito access tokens carry no aud; the app client is in client_id",
        "custom scopes are named <resource server id>/<scope>: require them by that full name",
        "groups are in cognito:groups",
    ]
    return pitfalls


def _google(header: Mapping[str, Any], claims: Mapping[str, Any]) -> list[str]:
    return [
        "Google signs ID tokens (aud = the service URL, for Cloud Run and IAP); Google's "
        "OAuth access tokens are opaque and cannot be verified locally",
    ]


def _provider(id_: str, name: str, why: str, pitfalls: _Pitfalls) -> Callable[..., Provider]:
    def build(header: Mapping[str, Any], claims: Mapping[str, Any]) -> Provider:
        return Provider(id_, name, why, tuple(pitfalls(header, claims)))

    return build


def guess_provider(
    iss: Any, header: Mapping[str, Any], claims: Mapping[str, Any]
) -> Provider | None:
    """The provider ``iss`` (and, for custom domains, the token's shape) points at."""
    if not isinstance(iss, str):
        return None
    parts = urlsplit(iss)
    host, path = (parts.hostname or "").lower(), parts.path
    build: Callable[..., Provider] | None = None
    if host.endswith(".auth0.com"):
        build = _provider("auth0", "Auth0", "iss host ends with .auth0.com", _auth0)
    elif host == "sts.windows.net":
        build = _provider(
            "entra-v1",
            "Microsoft Entra ID (v1.0 token)",
            "iss is https://sts.windows.net/…",
            _entra_v1,
        )
    elif host == "login.microsoftonline.com" and path.rstrip("/").endswith("/v2.0"):
        build = _provider(
            "entra-v2",
            "Microsoft Entra ID (v2.0 token)",
            "iss is https://login.microsoftonline.com/…/v2.0",
            _entra_v2,
        )
    elif _COGNITO_HOST.fullmatch(host):
        build = _provider("cognito", "Amazon Cognito", "iss host is cognito-idp.*", _cognito)
    elif host == "accounts.google.com":
        build = _provider("google", "Google", "iss is https://accounts.google.com", _google)
    elif _KEYCLOAK_PATH.search(path):
        build = _provider("keycloak", "Keycloak", "iss path is /realms/<realm>", _keycloak)
    elif path.startswith("/oauth2/") and (_OKTA_HOST.fullmatch(host) or "cid" in claims):
        build = _provider(
            "okta-custom",
            "Okta (custom authorization server)",
            "iss path is /oauth2/<server>",
            _okta_custom,
        )
    elif _OKTA_HOST.fullmatch(host) or "okta-internal" in str(header.get("typ", "")):
        build = _provider(
            "okta-org",
            "Okta (org authorization server)",
            "iss is an Okta org without /oauth2/",
            _okta_org,
        )
    elif iss.endswith("/") and any(a == iss + "userinfo" for a in _audiences(claims)):
        build = _provider(
            "auth0", "Auth0", "aud lists the issuer's /userinfo (custom domain)", _auth0
        )
    return build(header, claims) if build is not None else None


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
