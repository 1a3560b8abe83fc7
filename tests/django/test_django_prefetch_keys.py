"""``PREFETCH_KEYS``: building the WSGI or ASGI handler (what a server does in each worker at
start-up) fetches the issuers' keys; an issuer that is down then does not stop the app."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import signals
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.test import override_settings
from django_support import AUDIENCE, audmw_settings
from werkzeug.test import Client

from audmw.testing import LocalIssuer


@pytest.fixture(autouse=True)
def no_connection_checks() -> Iterator[None]:
    """A handler built here serves outside Django's test client, which stops closing stale
    database connections at each request; stop it here too (these views use no database)."""
    signals.request_started.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)


@pytest.fixture
def own_issuer() -> Iterator[LocalIssuer]:
    """An issuer of its own: the test counts every request it serves."""
    with LocalIssuer() as local:
        yield local


def _configured(issuer: LocalIssuer, **extra: Any) -> Any:
    return override_settings(AUDMW=audmw_settings(issuer, **extra))


@pytest.mark.parametrize("handler", [WSGIHandler, ASGIHandler])
def test_the_keys_are_fetched_when_the_handler_is_built(
    own_issuer: LocalIssuer, handler: type[Any]
) -> None:
    with _configured(own_issuer, PREFETCH_KEYS=True):
        handler()
        assert (own_issuer.discovery_requests, own_issuer.jwks_requests) == (1, 1)


def test_the_first_request_finds_the_keys(own_issuer: LocalIssuer) -> None:
    with _configured(own_issuer, PREFETCH_KEYS=True):
        client = Client(WSGIHandler())
        assert own_issuer.jwks_requests == 1
        token = own_issuer.mint(aud=AUDIENCE)
        response = client.get("/any", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
    assert (own_issuer.discovery_requests, own_issuer.jwks_requests) == (1, 1)


def test_without_it_nothing_is_fetched_before_a_request(own_issuer: LocalIssuer) -> None:
    with _configured(own_issuer):
        WSGIHandler()
        assert (own_issuer.discovery_requests, own_issuer.jwks_requests) == (0, 0)


def test_an_issuer_down_at_start_up_does_not_stop_the_app(
    own_issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="audmw")
    token = own_issuer.mint(aud=AUDIENCE)
    own_issuer.stop()  # nothing answers at its address any more
    with _configured(own_issuer, PREFETCH_KEYS=True):
        client = Client(WSGIHandler())
        assert "reason=prefetch_failed" in caplog.text
        assert client.get("/open").status_code == 200
        response = client.get("/any", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1


def test_a_bad_configuration_is_left_to_the_requests_and_checks(own_issuer: LocalIssuer) -> None:
    with override_settings(AUDMW={"ISSUER": own_issuer.issuer, "PREFETCH_KEYS": True}):
        client = Client(WSGIHandler())  # builds, as without prefetch_keys
        assert client.get("/open").status_code == 500  # no audience: nothing is let through
    assert own_issuer.jwks_requests == 0
