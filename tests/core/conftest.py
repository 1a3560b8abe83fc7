"""Fixtures for the core tests: a real LocalIssuer over HTTP, a movable clock, validators."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from audmw import Settings, TokenValidator
from audmw.testing import LocalIssuer, SigningKey, generate_key
from audmw.testing.issuer import FAMILIES

AUDIENCE = "https://api.example.com"


class Clock:
    """A clock the test moves by hand, so TTLs, cooldowns and expiry need no sleeping."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def signing_keys() -> list[SigningKey]:
    """One key per family, generated once: RSA key generation is the slow part of a test."""
    return [generate_key(family) for family in FAMILIES]


@pytest.fixture
def issuer(signing_keys: list[SigningKey]) -> Iterator[LocalIssuer]:
    with LocalIssuer(keys=signing_keys) as local:
        yield local


@pytest.fixture
def clock() -> Clock:
    return Clock()


MakeValidator = Callable[..., TokenValidator]


@pytest.fixture
def make_validator(issuer: LocalIssuer, clock: Clock) -> MakeValidator:
    """A validator for ``issuer`` and ``AUDIENCE`` on the test clock; keywords go to Settings."""

    def make(*, transport: Any = None, **options: Any) -> TokenValidator:
        options.setdefault("issuer", issuer.issuer)
        options.setdefault("audience", AUDIENCE)
        return TokenValidator(Settings(**options), clock=clock, transport=transport)

    return make


@pytest.fixture
def validator(make_validator: MakeValidator) -> TokenValidator:
    return make_validator()
