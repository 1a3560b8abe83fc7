"""The interface between ``Guard`` and whatever verifies a token it has not seen before.

The JWT ``TokenValidator`` is one ``Verifier``; an introspection client for opaque tokens
would be another. ``Guard`` looks a token up in the verifier's ``cache`` first (by the digest
of its exact bytes) and calls ``verify`` or ``verify_async`` only on a miss.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple, Protocol

from audmw import diagnostics
from audmw.cache import VerifiedTokens
from audmw.errors import InvalidToken
from audmw.token import AccessToken

__all__ = ["PendingToken", "Verifier", "pending_token"]


class PendingToken(NamedTuple):
    """A token not found among verified ones: its exact bytes and their cache key."""

    raw: bytes
    key: bytes

    @property
    def fingerprint(self) -> str:
        """The 16-hex-digit fingerprint logs use instead of the token."""
        return self.key[:8].hex()


class Verifier(Protocol):
    """Checks tokens in full; remembers the tokens it accepts in ``cache``."""

    @property
    def cache(self) -> VerifiedTokens: ...

    @property
    def max_token_bytes(self) -> int: ...

    def verify(self, pending: PendingToken) -> AccessToken: ...

    async def verify_async(self, pending: PendingToken) -> AccessToken: ...


def _fingerprint(token: str | bytes) -> str:
    raw = token.encode("utf-8", "surrogatepass") if isinstance(token, str) else bytes(token)
    return hashlib.sha256(raw).hexdigest()[:16]


def pending_token(token: str | bytes, max_bytes: int) -> PendingToken:
    """The ``PendingToken`` of a token, or the logged refusal of one too long or not ASCII."""
    if len(token) <= max_bytes:
        if not isinstance(token, str):
            raw = bytes(token)
            return PendingToken(raw, VerifiedTokens.key(raw))
        if token.isascii():
            raw = token.encode("ascii")
            return PendingToken(raw, VerifiedTokens.key(raw))
    if len(token) > max_bytes:
        error = InvalidToken(
            "token_too_large", hint=f"token is {len(token)} bytes, limit {max_bytes}"
        )
    else:
        error = InvalidToken("not_a_jwt", hint="token contains non-ASCII characters")
    diagnostics.log_refusal(error, _fingerprint(token))
    raise error
