"""Keycloak: realm issuers ``{base_url}/realms/{realm}``, roles in their own claims."""

from __future__ import annotations

import re
from typing import Any

from audmw.providers import Evidence, Provider, Recognition, UnverifiedToken, required_option
from audmw.values import claim_strings, flag, shown

_REALM_PATH = re.compile(r"/realms/[^/]+/?$")
# The audience Keycloak writes when no Audience mapper names the API.
_DEFAULT_AUDIENCE = "account"


def preset(
    *,
    base_url: str | None = None,
    realm_name: str | None = None,
    client_id: str | None = None,
    roles: bool | str = True,
) -> dict[str, Any]:
    """Keycloak realm ``{base_url}/realms/{realm_name}`` (base_url ends in ``/auth`` before v17).

    ``client_id`` is this API's client in Keycloak: the default audience (put there by an
    Audience mapper) and, with ``roles``, the client whose roles count with the realm roles.
    """
    base = required_option(base_url, "keycloak", "base_url", "https://keycloak.example.com")
    name = required_option(realm_name, "keycloak", "realm_name", "myrealm")
    issuer = f"{base.rstrip('/')}/realms/{name}"
    claims = ["scope"]
    if flag(roles, "roles"):
        claims.append("realm_access.roles")
        if client_id:
            claims.append(f"resource_access.{client_id}.roles")
    settings: dict[str, Any] = {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/protocol/openid-connect/certs",
        "scope_claims": tuple(claims),
    }
    if client_id:
        settings["audience"] = client_id
    return settings


def recognize(token: UnverifiedToken) -> Recognition | None:
    if not _REALM_PATH.search(token.path):
        return None
    audiences = list(claim_strings(token.claims.get("aud")))
    pitfalls = []
    if not audiences or audiences == [_DEFAULT_AUDIENCE]:
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
    if "typ" in token.claims:
        pitfalls.append(
            f"the body claim typ {shown(token.claims['typ'])} is Keycloak's own marker, not "
            "the JOSE header typ"
        )
    return Recognition(
        "keycloak", "Keycloak", "iss path is /realms/<realm>", tuple(pitfalls), Evidence.ISSUER_PATH
    )


def audience_hint(audiences: tuple[str, ...]) -> str | None:
    if audiences == (_DEFAULT_AUDIENCE,):
        return (
            "Keycloak's default; add an Audience mapper (client scope) that puts this API's "
            "identifier in aud"
        )
    return None


PROVIDER = Provider(
    name="keycloak",
    preset=preset,
    recognize=recognize,
    audience_hint=audience_hint,
    missing_audience_hint="Keycloak: add an Audience mapper",
)
