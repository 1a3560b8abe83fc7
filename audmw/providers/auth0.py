"""Auth0: issuer ``https://{domain}/`` with its trailing slash; ``aud`` may list ``/userinfo``."""

from __future__ import annotations

from typing import Any

from audmw.providers import Evidence, Provider, Recognition, UnverifiedToken, host_option
from audmw.values import claim_strings, flag


def preset(*, domain: str | None = None, permissions: bool | str = True) -> dict[str, Any]:
    """Auth0: issuer ``https://{domain}/`` (trailing slash); ``audience`` is the API Identifier.

    ``permissions`` (RBAC, "Add Permissions in the Access Token") count as scopes.
    """
    host = host_option(domain, "auth0", "domain", "your-tenant.us.auth0.com or a custom domain")
    scope_claims = ("scope", "permissions") if flag(permissions, "permissions") else ("scope",)
    return {
        "issuer": f"https://{host}/",
        "jwks_uri": f"https://{host}/.well-known/jwks.json",
        "scope_claims": scope_claims,
    }


def _is_userinfo(audience: str) -> bool:
    return audience.rstrip("/").endswith("/userinfo")


def _pitfalls(token: UnverifiedToken) -> tuple[str, ...]:
    audiences = claim_strings(token.claims.get("aud"))
    userinfo = [a for a in audiences if _is_userinfo(a)]
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
    if "permissions" in token.claims:
        pitfalls.append(
            "RBAC permissions are in 'permissions': add it to scope_claims "
            "(AUDMW_SCOPE_CLAIMS=scope,permissions) to require them like scopes"
        )
    if token.claims.get("gty") == "client-credentials":
        pitfalls.append(
            "machine-to-machine token (gty client-credentials; sub is CLIENT@clients): there is "
            "no user"
        )
    return tuple(pitfalls)


def recognize(token: UnverifiedToken) -> Recognition | None:
    if token.host.endswith(".auth0.com"):
        return Recognition("auth0", "Auth0", "iss host ends with .auth0.com", _pitfalls(token))
    iss = token.iss or ""
    # A custom domain: only the shape tells, the issuer's /userinfo among the audiences.
    if iss.endswith("/") and iss + "userinfo" in claim_strings(token.claims.get("aud")):
        return Recognition(
            "auth0",
            "Auth0",
            "aud lists the issuer's /userinfo (custom domain)",
            _pitfalls(token),
            Evidence.TOKEN_SHAPE,
        )
    return None


def audience_hint(audiences: tuple[str, ...]) -> str | None:
    if audiences and all(_is_userinfo(a) for a in audiences):
        return (
            "the token only grants the provider's userinfo endpoint: request it with "
            "audience=<this API's identifier>"
        )
    return None


PROVIDER = Provider(name="auth0", preset=preset, recognize=recognize, audience_hint=audience_hint)
