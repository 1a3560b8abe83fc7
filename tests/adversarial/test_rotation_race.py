"""A new key seen by many requests at once: each waits for the one fetch, none is refused.

Found under load (``bench.load``): after a rotation, a request that looked up the new kid
in the old key set while another request's fetch of the new set was under way was refused
with ``unknown_kid``, the refetch cooldown having just been started by that fetch.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from audmw import AccessToken, AuthError, Settings, TokenValidator
from audmw.testing import LocalIssuer


class HeldJwks(httpx.HTTPTransport):
    """Real HTTP, but a JWKS request waits until the test lets it go (while ``holding``)."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = False
        self.entered = threading.Event()
        self.release = threading.Event()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.holding and request.url.path.endswith("/jwks.json"):
            self.entered.set()
            self.release.wait(10)
        return super().handle_request(request)


class Clock:
    """The validator's clock, moved by hand past the refetch cooldown."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


COOLDOWN = 30.0


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer() as local:
        yield local


def _validate_in_thread(
    validator: TokenValidator, token: str, results: dict[str, AccessToken | AuthError], name: str
) -> threading.Thread:
    def run() -> None:
        try:
            results[name] = validator.validate(token)
        except AuthError as refusal:
            results[name] = refusal

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_new_kid_seen_during_its_fetch_is_verified_with_the_new_keys(
    issuer: LocalIssuer,
) -> None:
    transport = HeldJwks()
    clock = Clock()
    validator = TokenValidator(
        Settings(issuer=issuer.issuer, audience=issuer.audience, jwks_refresh_cooldown=COOLDOWN),
        transport=transport,
        clock=clock,
    )
    validator.validate(issuer.mint())  # the first key set
    clock.now += COOLDOWN + 1  # a new kid may be fetched again
    issuer.rotate("RS256")
    transport.holding = True
    results: dict[str, AccessToken | AuthError] = {}
    first = _validate_in_thread(validator, issuer.mint(sub="first"), results, "first")
    assert transport.entered.wait(10)  # its fetch of the new set is under way
    second = _validate_in_thread(validator, issuer.mint(sub="second"), results, "second")
    second.join(0.5)  # refused at once before the fix; now it waits for the fetch
    transport.release.set()
    first.join(10)
    second.join(10)
    assert {name: type(result).__name__ for name, result in results.items()} == {
        "first": "AccessToken",
        "second": "AccessToken",
    }
    assert validator.keys[issuer.issuer].fetches == 2


def test_the_same_without_blocking_an_event_loop(issuer: LocalIssuer) -> None:
    clock = Clock()
    validator = TokenValidator(
        Settings(issuer=issuer.issuer, audience=issuer.audience, jwks_refresh_cooldown=COOLDOWN),
        clock=clock,
    )

    async def scenario() -> list[str]:
        await validator.validate_async(issuer.mint())
        clock.now += COOLDOWN + 1
        issuer.rotate("RS256")
        tokens = [issuer.mint(sub=f"user-{n}") for n in range(8)]
        found = await asyncio.gather(
            *(validator.validate_async(token) for token in tokens), return_exceptions=True
        )
        return [type(result).__name__ for result in found]

    assert asyncio.run(scenario()) == ["AccessToken"] * 8
    assert validator.keys[issuer.issuer].fetches == 2
