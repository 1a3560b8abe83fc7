"""pytest plugin (entry point ``audmw``): the ``audmw_session_issuer`` and ``audmw_issuer``
fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from audmw.testing.issuer import LocalIssuer
from audmw.testing.session import session_issuer


@pytest.fixture(scope="session")
def audmw_session_issuer() -> LocalIssuer:
    """The one ``LocalIssuer`` of the test run (``audmw.testing.session_issuer()``): its URL
    and keys never change, so an app built once trusts it in every test. Tests that change
    the issuer (``rotate``, ``set_mode``) take ``audmw_issuer`` instead."""
    return session_issuer()


@pytest.fixture
def audmw_issuer() -> Iterator[LocalIssuer]:
    """A new ``LocalIssuer`` for one test (a new URL and new keys): for tests that build
    their validator or app inside the test and may change the issuer."""
    with LocalIssuer() as issuer:
        yield issuer
