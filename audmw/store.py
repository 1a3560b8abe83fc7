"""State that several requests, processes or hosts must agree on, behind one small interface.

A ``SharedStore`` keeps short byte values under digest keys until they expire. ``add`` is
the one atomic operation every use needs: set the key only if it is absent, and say whether
it was. DPoP proofs' ``jti``s use it to refuse a replay; a cache of introspection answers
would use ``get`` and ``add`` the same way. Keys are digests the caller made, never a token.

``MemoryStore`` serves one process (bounded, expiring); ``RedisStore`` (the ``redis`` extra)
is shared by every process and host that points at the same server. A store that cannot
answer raises ``StoreUnavailable`` (503): a check it backs is refused, never skipped.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from audmw.errors import ConfigurationError, StoreUnavailable

if TYPE_CHECKING:
    from audmw.settings import Settings

__all__ = ["MemoryStore", "RedisStore", "SharedStore", "store_for"]

_RETRY_AFTER = 5
_PURGE_INTERVAL = 1.0  # seconds between full sweeps of a full MemoryStore


class SharedStore(Protocol):
    """Expiring byte values under digest keys; ``add`` is atomic set-if-absent."""

    def add(self, key: bytes, value: bytes, ttl: float) -> bool:
        """Store ``value`` under ``key`` for ``ttl`` seconds unless the key is present.

        True when it was stored, False when the key was already there (and unexpired).
        """
        ...

    async def add_async(self, key: bytes, value: bytes, ttl: float) -> bool: ...

    def get(self, key: bytes) -> bytes | None: ...

    async def get_async(self, key: bytes) -> bytes | None: ...


class MemoryStore:
    """One process's store: at most ``size`` unexpired entries; thread-safe.

    When every slot holds an unexpired entry, ``add`` raises ``StoreUnavailable`` instead of
    forgetting one: forgetting a proof's ``jti`` early would let that proof be replayed.
    """

    def __init__(self, size: int = 200_000, *, clock: Callable[[], float] = time.monotonic):
        self.size = size
        self._clock = clock
        self._entries: dict[bytes, tuple[float, bytes]] = {}
        self._lock = threading.Lock()
        self._purged_at = -_PURGE_INTERVAL

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, key: bytes, value: bytes, ttl: float) -> bool:
        now = self._clock()
        with self._lock:
            found = self._entries.get(key)
            if found is not None and found[0] > now:
                return False
            if found is None and len(self._entries) >= self.size:
                self._purge(now)
                if len(self._entries) >= self.size:
                    raise StoreUnavailable(
                        "replay_store_full",
                        retry_after=_RETRY_AFTER,
                        hint=f"the in-memory store holds {self.size} unexpired entries; raise "
                        "replay_store_size or use a Redis store",
                    )
            self._entries[key] = (now + ttl, value)
            return True

    async def add_async(self, key: bytes, value: bytes, ttl: float) -> bool:
        return self.add(key, value, ttl)

    def get(self, key: bytes) -> bytes | None:
        found = self._entries.get(key)
        if found is None or found[0] <= self._clock():
            return None
        return found[1]

    async def get_async(self, key: bytes) -> bytes | None:
        return self.get(key)

    def _purge(self, now: float) -> None:
        # At most one sweep a second: a full store under load must not sweep on every add.
        if now - self._purged_at < _PURGE_INTERVAL:
            return
        self._purged_at = now
        expired = [key for key, (expires, _) in self._entries.items() if expires <= now]
        for key in expired:
            del self._entries[key]


class RedisStore:
    """A store shared through a Redis server: ``SET key value NX PX ttl`` is the atomic add.

    One client for threads (WSGI) and one per event loop for coroutines, both made on first
    use. Any failure to reach the server, or a timeout, is ``StoreUnavailable``.
    """

    def __init__(self, url: str, *, prefix: str = "audmw:", timeout: float = 5.0) -> None:
        try:
            import redis  # noqa: F401 -- the optional extra must be installed
        except ImportError:
            raise ConfigurationError(
                "audmw: a redis:// store needs the redis client: pip install 'audmw[redis]'"
            ) from None
        self.url = url
        self.prefix = prefix.encode()
        self.timeout = timeout
        self._client: Any = None
        # One client per event loop: a client's connections belong to the loop they began in.
        self._async_clients: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def _sync(self) -> Any:
        if self._client is None:
            import redis

            with self._lock:
                if self._client is None:
                    self._client = redis.Redis.from_url(
                        self.url, socket_timeout=self.timeout, socket_connect_timeout=self.timeout
                    )
        return self._client

    def _async(self) -> Any:
        import asyncio

        import redis.asyncio

        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            client = redis.asyncio.Redis.from_url(
                self.url, socket_timeout=self.timeout, socket_connect_timeout=self.timeout
            )
            self._async_clients[loop] = client
        return client

    def _unavailable(self, error: Exception) -> StoreUnavailable:
        return StoreUnavailable(
            "replay_store_unavailable",
            retry_after=_RETRY_AFTER,
            hint=f"the Redis store at {_safe_url(self.url)} cannot be reached "
            f"({type(error).__name__})",
        )

    def add(self, key: bytes, value: bytes, ttl: float) -> bool:
        try:
            stored = self._sync().set(self.prefix + key, value, nx=True, px=_milliseconds(ttl))
        except Exception as error:  # any failure of the store refuses, never a 500
            raise self._unavailable(error) from None
        return bool(stored)

    async def add_async(self, key: bytes, value: bytes, ttl: float) -> bool:
        try:
            stored = await self._async().set(
                self.prefix + key, value, nx=True, px=_milliseconds(ttl)
            )
        except Exception as error:  # any failure of the store refuses, never a 500
            raise self._unavailable(error) from None
        return bool(stored)

    def get(self, key: bytes) -> bytes | None:
        try:
            found = self._sync().get(self.prefix + key)
        except Exception as error:  # any failure of the store refuses, never a 500
            raise self._unavailable(error) from None
        return bytes(found) if found is not None else None

    async def get_async(self, key: bytes) -> bytes | None:
        try:
            found = await self._async().get(self.prefix + key)
        except Exception as error:  # any failure of the store refuses, never a 500
            raise self._unavailable(error) from None
        return bytes(found) if found is not None else None


def _milliseconds(ttl: float) -> int:
    return max(1, int(ttl * 1000))


def _safe_url(url: str) -> str:
    """The URL without a password, for logs."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def store_for(settings: Settings) -> SharedStore:
    """The store ``settings.replay_store`` names."""
    if settings.replay_store == "memory":
        return MemoryStore(settings.replay_store_size)
    return RedisStore(settings.replay_store, timeout=settings.http_timeout)
