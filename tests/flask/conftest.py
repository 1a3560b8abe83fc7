from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from audmw.testing import LocalIssuer
from audmw_flask import Audmw

AUDIENCE = "https://api.example.com"


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer() as running:
        yield running


@pytest.fixture
def make_app(issuer: LocalIssuer) -> Callable[..., Flask]:
    """A Flask app configured through ``app.config``; install the extension with ``install``."""

    def make(*, install: bool = True, **config: Any) -> Flask:
        app = Flask(__name__)
        app.config.update(
            TESTING=True,
            AUDMW_ISSUER=issuer.issuer,
            AUDMW_AUDIENCE=AUDIENCE,
            **{f"AUDMW_{name.upper()}": value for name, value in config.items()},
        )
        if install:
            Audmw(app)
        return app

    return make
