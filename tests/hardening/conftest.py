"""Fixtures for the hardening tests: a real LocalIssuer over HTTP and a clock moved by hand."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from audmw.testing import LocalIssuer, SigningKey, generate_key
from audmw.testing.issuer import FAMILIES

AUDIENCE = "https://api.example.com"


class Clock:
    """A clock the test moves by hand: retry and cooldown times pass without sleeping."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def hardening_keys() -> list[SigningKey]:
    return [generate_key(family) for family in FAMILIES]


@pytest.fixture
def issuer(hardening_keys: list[SigningKey]) -> Iterator[LocalIssuer]:
    with LocalIssuer(keys=hardening_keys, audience=AUDIENCE) as local:
        yield local


@pytest.fixture
def clock() -> Clock:
    return Clock()
