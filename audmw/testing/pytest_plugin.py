"""pytest plugin (entry point ``audmw``): the ``audmw_issuer`` fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from audmw.testing.issuer import LocalIssuer


@pytest.fixture
def audmw_issuer() -> Iterator[LocalIssuer]:
    """A ``LocalIssuer`` serving on 127.0.0.1 for the duration of one test."""
    with LocalIssuer() as issuer:
        yield issuer
