"""``VerifiedTokens``: tokens verified earlier, so that a token sent again costs one digest.

Entries are keyed by the SHA-256 digest of the token's exact bytes, never by the token
(RFC 9700 §4.9.3), and hold the ``AccessToken`` with what vouched for it: the key that
verified the signature and the key set that published it. An entry is dropped once the token
expires or its key is no longer published, so a revoked key stops a cached token at once.

One object per validator owns the entries; ``Guard`` looks tokens up through it before any
parsing. The interface (``key``, ``get``, ``remember``, ``evict``) is what a shared store
would implement too.

When it is full, room is made CLOCK-wise (second chance): a hit sets the entry's visited
mark; the oldest entry goes unless it was visited since it was last passed, in which case its
mark is cleared and it moves to the back. An expired entry goes whatever its mark. Clients
reuse a token for minutes and then switch to a new one: the tokens they stopped sending are
never visited again and go first, where oldest-first would also drop tokens still in use.
A hit costs one list store more than a plain lookup, with no lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Container
from typing import Protocol

from audmw.token import AccessToken

__all__ = ["KeySet", "VerifiedTokens"]


class KeySet(Protocol):
    """A source of verification keys: the keys it publishes now."""

    @property
    def active(self) -> Container[object]: ...


class _Entry:
    """A verified token, what vouched for it, and whether it was hit since last passed."""

    __slots__ = ("keys", "signing_key", "token", "visited")

    def __init__(self, token: AccessToken, signing_key: object, keys: KeySet | None) -> None:
        self.token = token
        self.signing_key = signing_key
        self.keys = keys
        self.visited = False


class VerifiedTokens:
    """A bounded map from token digest to verified token; safe for concurrent threads."""

    def __init__(
        self, size: int, *, leeway: float = 0.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.size = size
        self._leeway = leeway
        self._clock = clock
        self._entries: dict[bytes, _Entry] = {}
        self.evictions = 0
        """Entries dropped so far: expired, key no longer published, or room made."""

    @staticmethod
    def key(raw: bytes) -> bytes:
        """The cache key of a token's exact bytes (also the source of its log fingerprint)."""
        return hashlib.sha256(raw).digest()

    def get(self, key: bytes) -> AccessToken | None:
        """The token verified under ``key``, if it is still current and its key published."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        token = entry.token
        keys = entry.keys
        if token.expires_at + self._leeway < self._clock() or (
            keys is not None and entry.signing_key not in keys.active
        ):
            # Expired, or its key is no longer published: the full checks give the reason.
            if self._entries.pop(key, None) is not None:
                self.evictions += 1
            return None
        entry.visited = True
        return token

    def remember(
        self,
        key: bytes,
        token: AccessToken,
        signing_key: object = None,
        keys: KeySet | None = None,
    ) -> None:
        """Keep ``token``, verified with ``signing_key`` of ``keys`` (None: no key set)."""
        if not self.size:
            return
        entries = self._entries
        if len(entries) >= self.size:
            self.make_room()
        entries[key] = _Entry(token, signing_key, keys)

    def make_room(self) -> None:
        """Drop one entry: the oldest not visited since it was last passed, or expired.

        Each visited entry passed loses its mark, so the walk ends within one round of the
        entries. Another thread may change the dict meanwhile: the walk then stops, and the
        next ``remember`` trims again.
        """
        entries = self._entries
        now = self._clock() - self._leeway
        with contextlib.suppress(KeyError, RuntimeError, StopIteration):
            for _ in range(len(entries) + 1):
                key = next(iter(entries))
                entry = entries[key]
                if entry.visited and entry.token.expires_at >= now:
                    entry.visited = False
                    del entries[key]
                    entries[key] = entry  # a second chance, at the back
                    continue
                del entries[key]
                self.evictions += 1
                return

    def evict(self, key: bytes) -> None:
        self._entries.pop(key, None)

    def keys(self) -> list[bytes]:
        """The digests held now (never a token)."""
        return list(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __repr__(self) -> str:
        return f"VerifiedTokens(size={self.size}, entries={len(self._entries)})"
