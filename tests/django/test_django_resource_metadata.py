"""RFC 9728 metadata and challenges through the Django middleware, sync and async clients."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client, override_settings
from dpop_challenge import BARE
from resource_metadata_checks import (
    check_challenges,
    check_deny_by_default,
    check_document,
    settings_for,
)

from audmw.testing import LocalIssuer


def _meta(headers: Mapping[str, str]) -> dict[str, str]:
    return {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}


@pytest.fixture(params=["wsgi", "asgi"])
def fetch(request: pytest.FixtureRequest, issuer: LocalIssuer) -> Iterator[Any]:
    value = settings_for(issuer)
    with override_settings(AUDMW=value, ROOT_URLCONF="metadata_urls"):
        if request.param == "wsgi":
            client = Client()

            def get(method: str, path: str, headers: Mapping[str, str]) -> tuple[int, Any, bytes]:
                response = client.generic(method, path, **_meta(headers))
                found = {name.lower(): value for name, value in response.headers.items()}
                return response.status_code, found, response.content

        else:
            async_client = AsyncClient()

            async def send(method: str, path: str, headers: Mapping[str, str]) -> Any:
                return await async_client.generic(method, path, headers=dict(headers))

            def get(method: str, path: str, headers: Mapping[str, str]) -> tuple[int, Any, bytes]:
                response = async_to_sync(send)(method, path, headers)
                found = {name.lower(): value for name, value in response.headers.items()}
                return response.status_code, found, response.content

        yield get


def test_the_document_at_both_locations(fetch: Any, issuer: LocalIssuer) -> None:
    check_document(fetch, issuer)


def test_everything_else_stays_deny_by_default(fetch: Any) -> None:
    check_deny_by_default(fetch)


def test_challenges_name_the_metadata(fetch: Any, issuer: LocalIssuer) -> None:
    check_challenges(fetch, issuer)


def test_without_a_resource_nothing_is_served(issuer: LocalIssuer) -> None:
    value = {"ISSUER": issuer.issuer, "AUDIENCE": "https://api.example.com"}
    with override_settings(AUDMW=value, ROOT_URLCONF="metadata_urls"):
        response = Client().get("/.well-known/oauth-protected-resource")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == BARE
