"""Health of the key sources: per issuer, when its keys were fetched, how many it publishes,
the last error, and when the next refresh is due.

Reading it fetches nothing and needs no token, so a health-check route can answer with it::

    report(guard, detail=False)   # {"healthy": true, "key_sources": [...]}

Keys are fetched when the first token needs them, so a source that was never fetched is
healthy (``unfetched``); one whose refresh failed while good keys are still in use is healthy
too (``stale``); one with no keys after a failed fetch is not (``unavailable``: tokens are
answered 503).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from audmw.inspection import iso_time
from audmw.keys import IssuerKeys

__all__ = ["KeySourceHealth", "healthy", "key_sources", "report"]


@dataclass(frozen=True)
class KeySourceHealth:
    """The state of one key set (one issuer's, or the configured ``jwks_uri``'s)."""

    issuers: tuple[str, ...]
    """The configured issuers whose tokens these keys verify."""
    state: str
    """``ok``, ``unfetched``, ``stale`` (a refresh failed; the last good keys are in use) or
    ``unavailable`` (no keys: tokens are answered 503 until a fetch succeeds)."""
    keys: int
    """Usable keys published (those audmw can verify with)."""
    fetched_at: float | None
    """When the keys in use were fetched (seconds since the epoch)."""
    next_refresh: float | None
    """When the next fetch is due: the key set's expiry, or the retry after a failure; None
    until the first token asks for keys."""
    last_error: str | None
    """Why the last fetch failed (for the operator: it names URLs); None after a success."""
    failed_at: float | None
    fetches: int
    """Fetches attempted since start-up."""
    jwks_uri: str | None

    @property
    def healthy(self) -> bool:
        return self.state != "unavailable"

    def as_dict(self, *, detail: bool = True) -> dict[str, Any]:
        """JSON-ready; ``detail=False`` leaves out the URL and the error text (for a route
        anyone may call)."""
        document: dict[str, Any] = {
            "issuers": list(self.issuers),
            "state": self.state,
            "healthy": self.healthy,
            "keys": self.keys,
            "fetched_at": _iso(self.fetched_at),
            "next_refresh": _iso(self.next_refresh),
            "failed_at": _iso(self.failed_at),
            "fetches": self.fetches,
        }
        if detail:
            document["jwks_uri"] = self.jwks_uri
            document["last_error"] = self.last_error
        return document


def _iso(seconds: float | None) -> str | None:
    return None if seconds is None else iso_time(seconds)


def _key_sets(source: Any) -> list[tuple[IssuerKeys, tuple[str, ...]]]:
    """The distinct key sets of a ``Guard``, a ``TokenValidator`` or a mapping of them."""
    validator = getattr(source, "validator", source)
    by_issuer = getattr(validator, "keys", source)
    if not hasattr(by_issuer, "items"):
        raise TypeError("pass a Guard, a TokenValidator, or its keys by issuer")
    found: dict[int, tuple[IssuerKeys, list[str]]] = {}
    for issuer, keys in by_issuer.items():
        if isinstance(keys, IssuerKeys):
            found.setdefault(id(keys), (keys, []))[1].append(issuer)
    return [(keys, tuple(issuers)) for keys, issuers in found.values()]


def _health(keys: IssuerKeys, issuers: tuple[str, ...], now: float) -> KeySourceHealth:
    failed = keys.failed_at
    if not keys.loaded:
        state = "unfetched" if failed is None else "unavailable"
    else:
        state = "ok" if failed is None else "stale"
    due: float | None = keys.expires_at if keys.loaded else None
    if failed is not None:  # retried once the wait after a failure is over
        due = now + keys.retry_after(now)
    return KeySourceHealth(
        issuers=issuers,
        state=state,
        keys=len(keys.keys),
        fetched_at=keys.fetched_at,
        next_refresh=due,
        last_error=keys.last_error,
        failed_at=failed,
        fetches=keys.fetches,
        jwks_uri=keys.jwks_uri,
    )


def key_sources(
    source: Any, *, clock: Callable[[], float] = time.time
) -> tuple[KeySourceHealth, ...]:
    """The health of every key set ``source`` (a ``Guard`` or ``TokenValidator``) uses."""
    now = clock()
    return tuple(_health(keys, issuers, now) for keys, issuers in _key_sets(source))


def healthy(source: Any) -> bool:
    """Whether every key set can verify tokens (or has not been needed yet)."""
    return all(health.healthy for health in key_sources(source))


def report(source: Any, *, detail: bool = True) -> dict[str, Any]:
    """``{"healthy": ..., "key_sources": [...]}`` for a health-check route or a log line."""
    sources: Iterable[KeySourceHealth] = key_sources(source)
    listed = [health.as_dict(detail=detail) for health in sources]
    return {"healthy": all(item["healthy"] for item in listed), "key_sources": listed}
