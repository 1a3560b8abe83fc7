"""Every route of both example apps x every token case, through httpx's ASGI transport."""

from __future__ import annotations

import itertools
import logging
from types import ModuleType

import pytest
from dpop_challenge import BARE
from starlette_contract import (
    AUDIENCE,
    CASES,
    ROUTES,
    Route,
    asgi_client,
    check,
    expected_reasons,
    headers_for,
)

from audmw import Settings
from audmw.testing import LocalIssuer
from example_apps import fastapi_app, starlette_app

APPS = {"starlette": starlette_app, "fastapi": fastapi_app}


@pytest.mark.anyio
@pytest.mark.parametrize("name", APPS)
@pytest.mark.parametrize(("route", "case"), list(itertools.product(ROUTES, CASES)))
async def test_contract(
    name: str,
    route: Route,
    case: str,
    issuer: LocalIssuer,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    module: ModuleType = APPS[name]
    caplog.set_level(logging.INFO, logger="audmw")
    async with asgi_client(module.create_app(settings)) as client:
        response = await client.request(
            route.method, route.path, headers=headers_for(case, route, issuer)
        )
    check(case, route, response)
    refused = response.status_code >= 400
    reason = expected_reasons(case).get(case)
    if refused and reason is not None:
        assert f"reason={reason}" in caplog.text
    if route.scopes is None:
        assert caplog.text == ""  # a public route never reads the token


@pytest.mark.anyio
@pytest.mark.parametrize("module", APPS.values(), ids=APPS)
async def test_unknown_urls_answer_only_after_the_token_check(
    module: ModuleType, issuer: LocalIssuer, settings: Settings
) -> None:
    token = issuer.mint(scopes=["read:messages"])
    async with asgi_client(module.create_app(settings)) as client:
        # Anonymous callers cannot tell a missing route from a protected one.
        for method, path in [("GET", "/nowhere"), ("DELETE", "/api/messages"), ("GET", "/api")]:
            response = await client.request(method, path)
            assert response.status_code == 401, (method, path)
        authorized = {"Authorization": f"Bearer {token}"}
        assert (await client.get("/nowhere", headers=authorized)).status_code == 404
        assert (await client.delete("/api/messages", headers=authorized)).status_code == 405


@pytest.mark.anyio
@pytest.mark.parametrize("module", APPS.values(), ids=APPS)
async def test_keys_unavailable_is_503_with_retry_after(module: ModuleType) -> None:
    with LocalIssuer() as down:
        down.set_mode("error")
        token = down.mint(scopes=["read:messages"])
        app = module.create_app(Settings(issuer=down.issuer, audience=AUDIENCE))
        async with asgi_client(app) as client:
            assert (await client.get("/public")).status_code == 200
            response = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    assert "www-authenticate" not in response.headers
    assert response.json()["error"] == "temporarily_unavailable"


@pytest.mark.anyio
async def test_token_in_the_query_is_not_accepted(issuer: LocalIssuer, settings: Settings) -> None:
    token = issuer.mint()
    async with asgi_client(starlette_app.create_app(settings)) as client:
        alone = await client.get("/api/me", params={"access_token": token})
        both = await client.get(
            "/api/me", params={"access_token": token}, headers={"Authorization": f"Bearer {token}"}
        )
    assert (alone.status_code, alone.headers["www-authenticate"]) == (401, BARE)
    assert both.status_code == 400
    assert token not in alone.text + both.text
