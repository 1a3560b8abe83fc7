"""``AUDMW_PREFETCH_KEYS``: ``init_app`` (each worker building its app) fetches the issuers'
keys; an issuer that is down then does not stop the app."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from flask import Flask

from audmw import ConfigurationError
from audmw.testing import LocalIssuer
from audmw_flask import Audmw, public
from example_apps import flask_app

AUDIENCE = "https://api.example.com"


@pytest.fixture
def own_issuer() -> Iterator[LocalIssuer]:
    """An issuer of its own: the test counts every request it serves."""
    with LocalIssuer() as local:
        yield local


def _app(issuer: LocalIssuer, **config: object) -> Flask:
    app = Flask(__name__)
    app.config.update(AUDMW_ISSUER=issuer.issuer, AUDMW_AUDIENCE=AUDIENCE, **config)

    @app.get("/me")
    def me() -> str:
        return "me"

    @app.get("/")
    @public
    def home() -> str:
        return "home"

    Audmw(app)
    return app


def test_init_app_fetches_the_keys(own_issuer: LocalIssuer) -> None:
    app = _app(own_issuer, AUDMW_PREFETCH_KEYS=True)
    assert (own_issuer.discovery_requests, own_issuer.jwks_requests) == (1, 1)
    token = own_issuer.mint(aud=AUDIENCE)
    response = app.test_client().get("/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert (own_issuer.discovery_requests, own_issuer.jwks_requests) == (1, 1)


def test_without_it_nothing_is_fetched_before_a_request(own_issuer: LocalIssuer) -> None:
    _app(own_issuer)
    assert (own_issuer.discovery_requests, own_issuer.jwks_requests) == (0, 0)


def test_an_issuer_down_at_start_up_does_not_stop_the_app(
    own_issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="audmw")
    token = own_issuer.mint(aud=AUDIENCE)
    own_issuer.stop()  # nothing answers at its address any more
    client = _app(own_issuer, AUDMW_PREFETCH_KEYS=True).test_client()
    assert "reason=prefetch_failed" in caplog.text
    assert client.get("/").status_code == 200
    response = client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1


def test_a_bad_configuration_still_fails_init_app(own_issuer: LocalIssuer) -> None:
    app = Flask(__name__)
    app.config.update(AUDMW_ISSUER=own_issuer.issuer, AUDMW_PREFETCH_KEYS=True)
    with pytest.raises(ConfigurationError, match="no audience configured"):
        Audmw(app)
    assert own_issuer.jwks_requests == 0


def test_the_example_app_prefetches_with_the_environment_variable(
    own_issuer: LocalIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDMW_ISSUER", own_issuer.issuer)
    monkeypatch.setenv("AUDMW_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("AUDMW_PREFETCH_KEYS", "1")
    flask_app.create_app()
    assert own_issuer.jwks_requests == 1
