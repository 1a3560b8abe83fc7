from __future__ import annotations

from collections.abc import Iterator

import pytest

from audmw.testing import LocalIssuer, SigningKey, generate_key

API = "https://api.example.com"
SECRET = "s3cret:with+special/chars"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def client_key() -> SigningKey:
    return generate_key("ec-p256", "client-key-1")


@pytest.fixture
def issuer(client_key: SigningKey) -> Iterator[LocalIssuer]:
    """A fresh issuer with the clients the tests use."""
    with LocalIssuer() as issuer:
        issuer.register_client("svc", secret=SECRET, scopes={"read:messages", "write:messages"})
        issuer.register_client("keyed", keys=[client_key])
        issuer.register_client(
            "picky", secret=SECRET, audiences={API}, grant_types={"client_credentials"}
        )
        issuer.register_client("needs-audience", secret=SECRET, require_audience=True)
        yield issuer
