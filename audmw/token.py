"""The validated access token handed to views."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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

    def has_scopes(self, *scopes: str) -> bool:
        return self.scopes.issuperset(scopes)

    def __getitem__(self, claim: str) -> Any:
        return self.claims[claim]
