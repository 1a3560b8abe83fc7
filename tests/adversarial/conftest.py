"""One issuer, one counting server and one server per adapter, shared by this folder's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adversarial.kit import CLIENT_ID, Kit
from adversarial.running import Adapters
from audmw.testing import LocalIssuer, generate_key


@pytest.fixture(scope="package")
def corpus_issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer() as issuer:
        yield issuer


@pytest.fixture(scope="package")
def counting_server() -> Iterator[LocalIssuer]:
    """Where a token's jku or x5u points: it must never get a request."""
    with LocalIssuer(keys=[generate_key("rsa", "counting")]) as server:
        yield server


@pytest.fixture(scope="package")
def kit(corpus_issuer: LocalIssuer, counting_server: LocalIssuer) -> Kit:
    return Kit.create(corpus_issuer, counting_server.origin)


@pytest.fixture(scope="package")
def adapters(kit: Kit, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Adapters]:
    servers = Adapters(
        kit.issuer.issuer,
        tmp_path_factory.mktemp("corpus-servers"),
        {"AUDMW_CLIENT_IDS": CLIENT_ID},
    )
    yield servers
    servers.close()
