"""Decisions, metrics and spans reported by the Flask extension."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from audmw import public, require_scopes
from audmw.health import report
from audmw.observe import Decision
from audmw.testing import LocalIssuer
from audmw_flask import Audmw
from tests import observability_scenarios as scenarios
from tests.observability_scenarios import AUDIENCE, SCOPE, Served
from tests.otel_support import Recorded


def flask_app(**config: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(TESTING=True, **config)

    @app.get("/items/<int:item_id>")
    @require_scopes(SCOPE)
    def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.get("/public")
    @public
    def open_page() -> dict[str, str]:
        return {}

    @app.get("/health")
    @public
    def health() -> tuple[dict[str, Any], int]:
        document = report(app.extensions["audmw"].guard, detail=False)
        return document, 200 if document["healthy"] else 503

    Audmw(app)
    return app


@pytest.fixture
def serve() -> Callable[..., Served]:
    def serve(
        issuer: LocalIssuer,
        hook: Callable[[Decision], Any] | None = None,
        observed: bool = True,
        **options: Any,
    ) -> Served:
        served = Served(lambda path, headers: 0, "/items/<int:item_id>", origin="http://localhost")
        app = flask_app(
            AUDMW_ISSUER=issuer.issuer,
            AUDMW_AUDIENCE=AUDIENCE,
            AUDMW_DECISION_HOOK=(hook or served.decisions.append) if observed else None,
            **{f"AUDMW_{name.upper()}": value for name, value in options.items()},
        )
        client = app.test_client()
        served.get = lambda path, headers: client.get(path, headers=headers).status_code
        return served

    return serve


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer() as local:
        yield local


def test_an_accepted_request_then_a_cached_one(
    serve: Callable[..., Served], issuer: LocalIssuer, telemetry: Recorded
) -> None:
    scenarios.accepted_then_cached(serve, issuer, telemetry)


def test_refusals_by_reason(
    serve: Callable[..., Served], issuer: LocalIssuer, telemetry: Recorded
) -> None:
    scenarios.refusals(serve, issuer, telemetry)


def test_a_key_rotation(serve: Callable[..., Served], telemetry: Recorded) -> None:
    with LocalIssuer() as own:
        scenarios.rotation(serve, own, telemetry)


def test_an_outage_of_the_issuer(serve: Callable[..., Served], telemetry: Recorded) -> None:
    scenarios.outage(serve, telemetry)


def test_introspection_is_traced_and_measured(
    serve: Callable[..., Served], telemetry: Recorded
) -> None:
    scenarios.introspection(serve, telemetry)


def test_an_exception_in_the_hook_changes_no_decision(
    serve: Callable[..., Served], issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    scenarios.hook_failure(serve, issuer, caplog)


def test_refusal_records_carry_structured_fields(
    serve: Callable[..., Served], issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    scenarios.log_fields(serve, issuer, caplog)


def test_unobserved_refusals_name_their_route(
    serve: Callable[..., Served], issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    scenarios.unobserved_refusals_name_their_route(serve, issuer, caplog)


def test_a_health_route_reports_the_key_sources_without_a_token(
    serve: Callable[..., Served],
) -> None:
    scenarios.health_route(serve)


def test_a_refusal_before_the_token_is_read_is_reported(
    serve: Callable[..., Served], issuer: LocalIssuer
) -> None:
    scenarios.refused_before_the_token(serve, issuer)


def test_dpop_decisions_carry_their_scheme(
    serve: Callable[..., Served], issuer: LocalIssuer
) -> None:
    scenarios.dpop(serve, issuer)
