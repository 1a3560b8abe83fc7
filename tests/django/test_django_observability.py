"""Decisions, metrics and spans reported by the Django middleware, under WSGI and ASGI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.http import HttpRequest, JsonResponse
from django.test import AsyncClient, Client, override_settings
from django.urls import path

from audmw import public, require_scopes
from audmw.health import report
from audmw.observe import Decision
from audmw.testing import LocalIssuer
from audmw_django.conf import current
from tests import observability_scenarios as scenarios
from tests.observability_scenarios import AUDIENCE, SCOPE, Served
from tests.otel_support import Recorded


@require_scopes(SCOPE)
def item(request: HttpRequest, item_id: int) -> JsonResponse:
    return JsonResponse({"id": item_id})


@public
def open_page(request: HttpRequest) -> JsonResponse:
    return JsonResponse({})


@public
def health(request: HttpRequest) -> JsonResponse:
    document = report(current().guard, detail=False)
    return JsonResponse(document, status=200 if document["healthy"] else 503)


urlpatterns = [
    path("items/<int:item_id>", item),
    path("public", open_page),
    path("health", health),
]


@pytest.fixture(params=["wsgi", "asgi"])
def serve(request: pytest.FixtureRequest) -> Iterator[Callable[..., Served]]:
    overrides: list[override_settings] = []

    def serve(
        issuer: LocalIssuer,
        hook: Callable[[Decision], Any] | None = None,
        observed: bool = True,
        **options: Any,
    ) -> Served:
        served = Served(lambda path, headers: 0, "items/<int:item_id>")
        audmw = {
            "ISSUER": issuer.issuer,
            "AUDIENCE": AUDIENCE,
            "DECISION_HOOK": (hook or served.decisions.append) if observed else None,
            **{name.upper(): value for name, value in options.items()},
        }
        override = override_settings(AUDMW=audmw, ROOT_URLCONF=__name__)
        override.enable()
        overrides.append(override)
        if request.param == "wsgi":
            client = Client()

            def get(path: str, headers: dict[str, str]) -> int:
                return int(client.get(path, headers=headers).status_code)
        else:
            async_client = AsyncClient()

            def get(path: str, headers: dict[str, str]) -> int:
                response = async_to_sync(async_client.get)(path, headers=headers)
                return int(response.status_code)

        served.get = get
        return served

    yield serve
    for override in reversed(overrides):
        override.disable()


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


def test_drf_authentication_reports_its_decisions(issuer: LocalIssuer) -> None:
    """Without the middleware, DRF's ``AudienceAuthentication`` decides, and reports."""
    from django_support import MIDDLEWARE, audmw_settings

    decisions: list[Decision] = []
    audmw = audmw_settings(issuer, EXEMPT_PATHS=[], DECISION_HOOK=decisions.append)
    alone = [m for m in MIDDLEWARE if not m.startswith("audmw")]
    good = issuer.mint(scopes=["read:messages"], aud=AUDIENCE)
    elsewhere = issuer.mint(scopes=["read:messages"], aud="https://other.example")
    with override_settings(AUDMW=audmw, MIDDLEWARE=alone):
        client = Client()
        accepted = client.get("/drf/messages", headers={"Authorization": f"Bearer {good}"})
        refused = client.get("/drf/messages", headers={"Authorization": f"Bearer {elsewhere}"})
    assert (accepted.status_code, refused.status_code) == (200, 401), decisions
    assert [(d.outcome, d.reason, d.route) for d in decisions] == [
        ("accepted", "ok", "drf/messages"),
        ("refused", "aud_mismatch", "drf/messages"),
    ]


def test_dpop_decisions_carry_their_scheme(
    serve: Callable[..., Served], issuer: LocalIssuer
) -> None:
    scenarios.dpop(serve, issuer)
