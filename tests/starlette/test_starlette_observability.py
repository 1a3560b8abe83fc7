"""Decisions, metrics and spans reported by the Starlette middleware and under FastAPI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from audmw import AccessToken, Settings
from audmw.fastapi import BearerToken, RequireScopes
from audmw.health import report
from audmw.observe import Decision
from audmw.starlette import GUARD_SCOPE_KEY, AudienceMiddleware, public, require_scopes
from audmw.testing import LocalIssuer
from tests import observability_scenarios as scenarios
from tests.observability_scenarios import AUDIENCE, SCOPE, Served
from tests.otel_support import Recorded, refreshes


@require_scopes(SCOPE)
async def item(request: Request) -> JSONResponse:
    return JSONResponse({"id": request.path_params["item_id"]})


@public
async def open_page(request: Request) -> JSONResponse:
    return JSONResponse({})


@public
async def health(request: Request) -> JSONResponse:
    document = report(request.scope[GUARD_SCOPE_KEY], detail=False)
    return JSONResponse(document, status_code=200 if document["healthy"] else 503)


def starlette_app(settings: Settings) -> Starlette:
    # The item route sits in a mount: its template is the mount's path and the route's.
    return Starlette(
        routes=[
            Mount("/items", routes=[Route("/{item_id:int}", item)]),
            Route("/public", open_page),
            Route("/health", health),
        ],
        middleware=[Middleware(AudienceMiddleware, settings=settings)],
    )


def fastapi_app(settings: Settings) -> FastAPI:
    app = FastAPI(middleware=[Middleware(AudienceMiddleware, settings=settings)])

    @app.get("/items/{item_id}")
    @require_scopes(SCOPE)
    async def read_item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.get("/public")
    @public
    async def open_route() -> dict[str, str]:
        return {}

    app.add_route("/health", health)

    return app


APPS: dict[str, tuple[Callable[[Settings], Any], str]] = {
    "starlette": (starlette_app, "/items/{item_id:int}"),
    "fastapi": (fastapi_app, "/items/{item_id}"),
}


@pytest.fixture(params=sorted(APPS))
def serve(request: pytest.FixtureRequest) -> Iterator[Callable[..., Served]]:
    build, route = APPS[request.param]
    clients: list[TestClient] = []

    def serve(
        issuer: LocalIssuer,
        hook: Callable[[Decision], Any] | None = None,
        observed: bool = True,
        **options: Any,
    ) -> Served:
        served = Served(lambda path, headers: 0, route)
        settings = Settings(
            issuer=issuer.issuer,
            audience=AUDIENCE,
            decision_hook=(hook or served.decisions.append) if observed else None,
            **options,
        )
        client = TestClient(build(settings))
        clients.append(client)
        served.get = lambda path, headers: client.get(path, headers=headers).status_code
        return served

    yield serve
    for client in clients:
        client.close()


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
    with LocalIssuer() as own:  # rotated here: not the module's issuer
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


def test_made_up_methods_do_not_grow_the_metrics(issuer: LocalIssuer, telemetry: Recorded) -> None:
    """Every attribute value comes from a bounded set: a client inventing methods cannot make
    a time series per request (nor grow the SDK's memory)."""
    decisions: list[Decision] = []
    settings = Settings(issuer=issuer.issuer, audience=AUDIENCE, decision_hook=decisions.append)
    token = issuer.mint(scopes=[SCOPE], aud=AUDIENCE)
    with TestClient(starlette_app(settings)) as client:
        for number in range(50):
            method = f"M{number:03d}" + "X" * 200
            client.request(method, "/items/42", headers={"Authorization": f"Bearer {token}"})
    assert {d.method for d in decisions} == {"_OTHER"}
    counted = {key: value for key, value in telemetry.collect()["audmw.decisions"].items() if value}
    assert {dict(key)["http.request.method"] for key in counted} == {"_OTHER"}
    assert sum(counted.values()) == 50


def test_a_fastapi_security_dependency_alone_reports_its_decisions(issuer: LocalIssuer) -> None:
    """Without the middleware, the dependency decides, and reports as the middleware would."""
    decisions: list[Decision] = []
    settings = Settings(issuer=issuer.issuer, audience=AUDIENCE, decision_hook=decisions.append)
    scheme = BearerToken(settings=settings)
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def read_item(
        item_id: int,
        token: AccessToken = RequireScopes(SCOPE, scheme=scheme),  # noqa: B008
    ) -> dict[str, int]:
        return {"id": item_id}

    good = issuer.mint(scopes=[SCOPE], aud=AUDIENCE)
    poor = issuer.mint(scopes=["other"], aud=AUDIENCE)
    with TestClient(app) as client:
        assert (
            client.get("/items/42", headers={"Authorization": f"Bearer {good}"}).status_code == 200
        )
        assert (
            client.get("/items/42", headers={"Authorization": f"Bearer {poor}"}).status_code == 403
        )
    assert [(d.outcome, d.reason, d.route) for d in decisions] == [
        ("accepted", "ok", "/items/{item_id}"),
        ("refused", "insufficient_scope", "/items/{item_id}"),
    ]


def test_an_issuer_that_hangs_past_the_deadline(
    serve: Callable[..., Served], telemetry: Recorded
) -> None:
    """The whole fetch is cut off at http_timeout; the refresh span says so."""
    with LocalIssuer() as hanging:
        served = serve(hanging, http_timeout=0.5)
        token = hanging.mint(scopes=[SCOPE], aud=AUDIENCE)
        hanging.set_mode("hang")
        assert served.get("/items/42", {"Authorization": f"Bearer {token}"}) == 503
    (decision,) = served.decisions
    assert decision.reason == "keys_unavailable"
    assert telemetry.count("audmw.key_fetches", **{"audmw.result": "failure"}) == 1
    (refresh,) = refreshes(telemetry.spans())
    assert refresh.status.status_code.name == "ERROR"
    assert dict(refresh.attributes or {})["error.type"] == "FetchFailed"


def test_dpop_decisions_carry_their_scheme(
    serve: Callable[..., Served], issuer: LocalIssuer
) -> None:
    scenarios.dpop(serve, issuer)


def test_an_observed_request_answers_dpop_as_an_unobserved_one(issuer: LocalIssuer) -> None:
    """The observed path marks the DPoP scheme on refusals and hands out nonces."""
    from audmw.testing.dpop import DPoPKey

    decisions: list[Decision] = []
    settings = Settings(
        issuer=issuer.issuer, audience=AUDIENCE, dpop_nonce=True, decision_hook=decisions.append
    )
    key = DPoPKey()
    token = issuer.mint(scopes=[SCOPE], aud=AUDIENCE, dpop=key)
    url = "http://testserver/items/42"
    with TestClient(starlette_app(settings)) as client:
        first = client.get(url, headers=key.headers("GET", url, token))
        assert first.status_code == 401
        assert 'DPoP error="use_dpop_nonce"' in first.headers["www-authenticate"]
        nonce = first.headers["dpop-nonce"]
        second = client.get(url, headers=key.headers("GET", url, token, nonce=nonce))
        assert second.status_code == 200
    assert [(d.reason, d.scheme) for d in decisions] == [
        ("dpop_nonce_required", "DPoP"),
        ("ok", "DPoP"),
    ]
