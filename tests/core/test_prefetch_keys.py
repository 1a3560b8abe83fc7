"""``Guard.prefetch_keys``: every issuer's discovery and keys, fetched side by side at
start-up; an issuer that is down is logged and left to the requests."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from audmw import Guard, KeysUnavailable, Settings
from audmw.request import IncomingRequest
from audmw.testing import LocalIssuer, SigningKey

from .conftest import AUDIENCE


@pytest.fixture
def issuers(signing_keys: list[SigningKey]) -> Iterator[tuple[LocalIssuer, LocalIssuer]]:
    with LocalIssuer(keys=signing_keys) as first, LocalIssuer(keys=signing_keys) as second:
        yield first, second


def _guard(*issuers: LocalIssuer, **options: object) -> Guard:
    return Guard(Settings(issuer=[i.issuer for i in issuers], audience=AUDIENCE, **options))


def _counts(*issuers: LocalIssuer) -> list[tuple[int, int]]:
    return [(issuer.discovery_requests, issuer.jwks_requests) for issuer in issuers]


def test_every_issuer_is_fetched_once(issuers: tuple[LocalIssuer, LocalIssuer]) -> None:
    guard = _guard(*issuers)
    assert guard.prefetch_keys() is True
    assert guard.prefetch_keys() is True  # loaded: nothing fetched again
    assert _counts(*issuers) == [(1, 1), (1, 1)]
    token = issuers[1].mint()
    guard.authorize(IncomingRequest("GET", "/", (f"Bearer {token}",)))
    assert _counts(*issuers) == [(1, 1), (1, 1)]


@pytest.mark.anyio
async def test_every_issuer_is_fetched_once_in_an_event_loop(
    issuers: tuple[LocalIssuer, LocalIssuer],
) -> None:
    guard = _guard(*issuers)
    assert await guard.prefetch_keys_async() is True
    assert _counts(*issuers) == [(1, 1), (1, 1)]


def test_an_issuer_that_is_down_is_logged_and_left_to_the_requests(
    issuers: tuple[LocalIssuer, LocalIssuer], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="audmw")
    first, second = issuers
    token = second.mint()
    second.stop()
    guard = _guard(first, second)
    assert guard.prefetch_keys() is False
    assert _counts(first) == [(1, 1)]
    assert "reason=prefetch_failed" in caplog.text
    with pytest.raises(KeysUnavailable) as refused:
        guard.authorize(IncomingRequest("GET", "/", (f"Bearer {token}",)))
    assert refused.value.retry_after >= 1


def test_shared_keys_are_fetched_once(issuers: tuple[LocalIssuer, LocalIssuer]) -> None:
    first, _ = issuers
    guard = Guard(
        Settings(
            issuer=[first.issuer, "https://other.example"],
            audience=AUDIENCE,
            jwks_uri=first.jwks_uri,
        )
    )
    assert guard.prefetch_keys() is True
    assert _counts(first) == [(0, 1)]  # the jwks_uri is given: no discovery


def test_shared_secrets_need_no_keys(issuers: tuple[LocalIssuer, LocalIssuer]) -> None:
    first, _ = issuers
    guard = _guard(first, algorithms=["HS256"], hmac_secret="s" * 32)
    assert guard.prefetch_keys() is True
    assert _counts(first) == [(0, 0)]
