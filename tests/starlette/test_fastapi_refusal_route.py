"""A refusal by a FastAPI security dependency names the route template in its log record."""

# No ``from __future__ import annotations``: FastAPI must see the dependencies in Annotated.
import logging
from typing import Annotated

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from audmw import AccessToken, Settings
from audmw.fastapi import AuthRefused, BearerToken, RequireScopes, refusal_handler
from audmw.testing import LocalIssuer

AUDIENCE = "https://api.example.com"


def test_dependency_refusals_name_the_route_template(
    issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    scheme = BearerToken(settings=Settings(issuer=issuer.issuer, audience=AUDIENCE))
    api = FastAPI(exception_handlers={AuthRefused: refusal_handler})

    @api.get("/items/{item_id}")
    async def item(
        item_id: int, token: Annotated[AccessToken, RequireScopes("read", scheme=scheme)]
    ) -> dict[str, int]:
        return {"item": item_id}

    caplog.set_level(logging.INFO, logger="audmw")
    client = TestClient(api)
    wrong_audience = issuer.mint(aud="https://elsewhere.example.com", scopes="read")
    no_scope = issuer.mint(aud=AUDIENCE, scopes="write")
    for token, status in ((wrong_audience, 401), (no_scope, 403)):
        response = client.get("/items/4711", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == status
    records = [r for r in caplog.records if r.name == "audmw" and hasattr(r, "audmw_reason")]
    assert [r.audmw_reason for r in records] == ["aud_mismatch", "insufficient_scope"]
    assert [getattr(r, "audmw_route", None) for r in records] == ["/items/{item_id}"] * 2
    assert "4711" not in caplog.text
