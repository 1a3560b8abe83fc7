from __future__ import annotations

from collections.abc import Iterator

import pytest

from audmw import Settings
from audmw.testing import LocalIssuer

AUDIENCE = "https://api.example.com"


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    """One issuer per module: minting is cheap, starting a server per test is not."""
    with LocalIssuer() as local:
        yield local


@pytest.fixture
def settings(issuer: LocalIssuer) -> Settings:
    return Settings(issuer=issuer.issuer, audience=AUDIENCE)
