"""Counts at real issuers over HTTP: a cold app under many requests at once fetches each
issuer's discovery and keys once; random kids make at most one refetch per cooldown."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import anyio
import pytest

from audmw import Guard, InvalidToken, Settings, TokenValidator
from audmw.request import IncomingRequest
from audmw.testing import LocalIssuer, SigningKey

from .conftest import AUDIENCE, Clock


@pytest.fixture
def issuers(signing_keys: list[SigningKey]) -> Iterator[tuple[LocalIssuer, LocalIssuer]]:
    with LocalIssuer(keys=signing_keys) as first, LocalIssuer(keys=signing_keys) as second:
        yield first, second


def _guard(
    issuers: tuple[LocalIssuer, ...], clock: Clock | None = None, **options: object
) -> Guard:
    settings = Settings(issuer=[i.issuer for i in issuers], audience=AUDIENCE, **options)
    validator = TokenValidator(settings, clock=clock) if clock is not None else None
    return Guard(settings, validator=validator)


def _request(token: str) -> IncomingRequest:
    return IncomingRequest("GET", "/api/me", (f"Bearer {token}",))


def _counts(*issuers: LocalIssuer) -> list[tuple[int, int]]:
    return [(issuer.discovery_requests, issuer.jwks_requests) for issuer in issuers]


@pytest.mark.anyio
async def test_a_thousand_requests_at_once_fetch_once_per_issuer(
    issuers: tuple[LocalIssuer, LocalIssuer],
) -> None:
    guard = _guard(issuers)
    tokens = [issuers[n % 2].mint(alg="ES256", sub=f"user-{n}") for n in range(1000)]
    subjects: list[str | None] = []

    async def work(token: str) -> None:
        subjects.append((await guard.authorize_async(_request(token))).subject)

    async with anyio.create_task_group() as group:
        for token in tokens:
            group.start_soon(work, token)
    assert len(subjects) == 1000
    assert _counts(*issuers) == [(1, 1), (1, 1)]


def test_threads_released_at_once_fetch_once_per_issuer(
    issuers: tuple[LocalIssuer, LocalIssuer],
) -> None:
    guard = _guard(issuers)
    tokens = [issuers[n % 2].mint(alg="ES256", sub=f"user-{n}") for n in range(200)]
    barrier = threading.Barrier(len(tokens))
    results: list[object] = []

    def work(token: str) -> None:
        barrier.wait()
        try:
            results.append(guard.authorize(_request(token)).subject)
        except Exception as exc:  # collected and asserted below
            results.append(exc)

    threads = [threading.Thread(target=work, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(str, results)) == sorted(f"user-{n}" for n in range(200))
    assert _counts(*issuers) == [(1, 1), (1, 1)]


def test_a_flood_of_random_kids_refetches_once_per_cooldown(
    issuers: tuple[LocalIssuer, LocalIssuer], clock: Clock
) -> None:
    issuer = issuers[0]
    guard = _guard((issuer,), clock, jwks_refresh_cooldown=30)
    guard.authorize(_request(issuer.mint()))
    reasons = []
    for step in range(950):  # 95 s, ten tokens a second
        clock.now = clock.now if step == 0 else clock.now + 0.1
        token = issuer.mint(alg="ES256", kid=uuid.uuid4().hex)
        with pytest.raises(InvalidToken) as refused:
            guard.authorize(_request(token))
        reasons.append(refused.value.reason)
    assert reasons == ["unknown_kid"] * 950
    # At start-up, then once 30, 60 and 90 s had passed since the last fetch.
    assert _counts(issuer) == [(1, 4)]
