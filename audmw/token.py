"""The validated access token handed to views."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

CLIENT_ID_CLAIMS = ("client_id", "azp", "cid", "appid")


@dataclass(frozen=True, eq=False, init=False)
class AccessToken:
    """What a verified token says. It never holds the raw token, only a short fingerprint."""

    claims: Mapping[str, Any] = field(repr=False)
    subject: str | None
    issuer: str
    audience: tuple[str, ...]
    scopes: frozenset[str]
    client_id: str | None
    expires_at: float
    token_id: str | None = None
    not_before: float | None = field(default=None, repr=False)
    fingerprint: str = ""

    def __init__(
        self,
        *,
        claims: Mapping[str, Any],
        subject: str | None,
        issuer: str,
        audience: tuple[str, ...],
        scopes: frozenset[str],
        client_id: str | None,
        expires_at: float,
        token_id: str | None = None,
        not_before: float | None = None,
        fingerprint: str = "",
    ) -> None:
        # One dict update instead of a frozen dataclass's ten object.__setattr__ calls: this
        # runs once per validated token.
        self.__dict__.update(
            claims=claims,
            subject=subject,
            issuer=issuer,
            audience=audience,
            scopes=scopes,
            client_id=client_id,
            expires_at=expires_at,
            token_id=token_id,
            not_before=not_before,
            fingerprint=fingerprint,
        )

    @classmethod
    def verified(
        cls,
        claims: Mapping[str, Any],
        subject: str | None,
        issuer: str,
        audience: tuple[str, ...],
        scopes: frozenset[str],
        client_id: str | None,
        expires_at: float,
        token_id: str | None,
        not_before: float | None,
        fingerprint: str,
    ) -> AccessToken:
        """The validator's constructor: positional, without keyword packing (half the cost)."""
        token = object.__new__(cls)
        fields = token.__dict__
        fields["claims"] = claims
        fields["subject"] = subject
        fields["issuer"] = issuer
        fields["audience"] = audience
        fields["scopes"] = scopes
        fields["client_id"] = client_id
        fields["expires_at"] = expires_at
        fields["token_id"] = token_id
        fields["not_before"] = not_before
        fields["fingerprint"] = fingerprint
        return token

    @property
    def display_name(self) -> str:
        """Who the token speaks for: its subject, else its client, else empty."""
        return self.subject or self.client_id or ""

    @cached_property
    def username(self) -> str | None:
        """The human-readable name of the resource owner: ``username`` (RFC 7662 §2.2, as an
        introspection answer or a Cognito token gives it), else ``preferred_username``
        (OpenID Connect, as Keycloak and Entra ID put it in access tokens). For display and
        logs only: it may change and need not be unique; ``subject`` identifies the user."""
        for claim in ("username", "preferred_username"):
            value = self.claims.get(claim)
            if isinstance(value, str) and value:
                return value
        return None

    @cached_property
    def authentication_context(self) -> str | None:
        """The ``acr`` claim: how the user authenticated (RFC 9470), when it is a string."""
        acr = self.claims.get("acr")
        return acr if isinstance(acr, str) else None

    @cached_property
    def authenticated_at(self) -> float | None:
        """The ``auth_time`` claim: when the user authenticated, in seconds since the epoch."""
        value = self.claims.get("auth_time")
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        try:
            seconds = float(value)
        except OverflowError:  # an integer of hundreds of digits is no time
            return None
        return seconds if math.isfinite(seconds) else None

    @cached_property
    def authorization_details(self) -> tuple[Mapping[str, Any], ...]:
        """The token's ``authorization_details`` entries (RFC 9396): each a JSON object with
        a string ``type``. Anything else in the claim is left out; a claim that is not an
        array gives none, so a route that needs an entry refuses the token."""
        value = self.claims.get("authorization_details")
        if not isinstance(value, list):
            return ()
        return tuple(
            entry
            for entry in value
            if isinstance(entry, dict) and isinstance(entry.get("type"), str)
        )

    def authorization_details_of(self, type: str) -> tuple[Mapping[str, Any], ...]:
        """The ``authorization_details`` entries of one ``type``."""
        return tuple(entry for entry in self.authorization_details if entry["type"] == type)

    @cached_property
    def kind(self) -> Literal["user", "app"] | None:
        """Whom the token speaks for: ``"user"`` (delegated), ``"app"`` (a client acting on
        its own, the client credentials grant), or None when the claims do not tell."""
        return token_kind(self.claims)

    def has_scopes(self, *scopes: str) -> bool:
        return self.scopes.issuperset(scopes)

    def __getitem__(self, claim: str) -> Any:
        return self.claims[claim]


# Keycloak names a client's own user "service-account-<client id>".
_SERVICE_ACCOUNT_PREFIX = "service-account-"


def token_kind(claims: Mapping[str, Any]) -> Literal["user", "app"] | None:
    """``"app"`` for a token a client obtained for itself, ``"user"`` for one issued for a
    user, None when the claims do not tell (RFC 9700 §4.15).

    Only signals the issuer sets are used: Entra ID's ``idtyp`` (and, without it, ``oid``
    equal to ``sub`` in app tokens, ``scp`` only in user tokens), Auth0's ``gty``, Keycloak's
    service-account user, and RFC 9068 §2.2: without a resource owner, ``sub`` is absent or
    names the client. A ``sub`` that differs from the client id means a user only when none
    of these says otherwise.
    """
    idtyp = claims.get("idtyp")
    if idtyp == "app":
        return "app"
    if idtyp == "user":
        return "user"
    if claims.get("gty") == "client-credentials":
        return "app"
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        return "app"
    clients = {value for name in CLIENT_ID_CLAIMS if isinstance(value := claims.get(name), str)}
    if subject in clients:
        return "app"
    if isinstance(claims.get("tid"), str) and isinstance(claims.get("oid"), str):
        # Entra ID without idtyp: app tokens have sub == oid and no scp.
        if claims["oid"] == subject:
            return "app"
        return "user" if "scp" in claims else None
    username = claims.get("preferred_username")
    if isinstance(username, str) and username.startswith(_SERVICE_ACCOUNT_PREFIX):
        return "app"
    if claims.get("clientHost") is not None or claims.get("clientAddress") is not None:
        return "app"  # Keycloak's service account mappers
    return "user" if clients else None
