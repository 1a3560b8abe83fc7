"""Amazon Cognito: access tokens without ``aud``; the app client is in ``client_id``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from audmw.errors import ConfigurationError
from audmw.providers import Provider, Recognition, UnverifiedToken, required_option
from audmw.values import comma_strings, flag

_POOL = re.compile(r"([a-z]{2}(?:-[a-z]+)+-\d+)_[A-Za-z0-9]+")
_HOST = re.compile(r"cognito-idp\.[a-z0-9-]+\.amazonaws\.com")


def preset(
    *,
    user_pool_id: str | None = None,
    client_id: str | Iterable[str] | None = None,
    region: str | None = None,
    groups: bool | str = True,
) -> dict[str, Any]:
    """Amazon Cognito user pool: access tokens have no ``aud``, so ``client_id`` is checked.

    ``client_id`` lists the app clients allowed to call this API; ``token_use`` must be
    ``access`` (ID tokens are refused). ``groups`` (``cognito:groups``) count as scopes.
    """
    pool = required_option(user_pool_id, "cognito", "user_pool_id", "eu-west-1_AbCdEf123")
    match = _POOL.fullmatch(pool)
    if match is None:
        raise ConfigurationError(
            f"audmw: cognito user_pool_id {pool!r} is not of the form <region>_<id>, "
            "e.g. eu-west-1_AbCdEf123"
        )
    clients = comma_strings(client_id, "client_id")
    if not clients:
        raise ConfigurationError(
            "audmw: the cognito preset needs client_id= (AUDMW_CLIENT_ID): the app client "
            "id(s) allowed to call this API, since Cognito access tokens carry no aud"
        )
    issuer = f"https://cognito-idp.{region or match.group(1)}.amazonaws.com/{pool}"
    return {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "audience": clients,
        "audience_claim": "client_id",
        "required_claims": {"token_use": "access"},
        "scope_claims": ("scope", "cognito:groups") if flag(groups, "groups") else ("scope",),
        "algorithms": ("RS256",),
    }


def recognize(token: UnverifiedToken) -> Recognition | None:
    if not _HOST.fullmatch(token.host):
        return None
    pitfalls = []
    if token.claims.get("token_use") == "id":
        pitfalls.append("token_use is 'id': this is the ID token; send the access token")
    pitfalls += [
        "Cognito access tokens carry no aud; the app client is in client_id",
        "custom scopes are named <resource server id>/<scope>: require them by that full name",
        "groups are in cognito:groups",
    ]
    return Recognition("cognito", "Amazon Cognito", "iss host is cognito-idp.*", tuple(pitfalls))


PROVIDER = Provider(
    name="cognito",
    preset=preset,
    recognize=recognize,
    missing_audience_hint="Cognito has no aud: use client_id rules",
)
