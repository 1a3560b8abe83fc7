"""AudienceMiddleware in async mode: Django's AsyncClient (the ASGI request path)."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import SyncToAsync, iscoroutinefunction
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.test import AsyncClient
from django_support import AUDIENCE

from audmw import Guard
from audmw.keys import IssuerKeys
from audmw.testing import LocalIssuer
from audmw_django.middleware import AudienceMiddleware

pytestmark = pytest.mark.anyio


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _refuse_sync_path(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the async middleware took the blocking path")


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> AsyncClient:
    # Every request below must be judged with authorize_async and keys fetched without a thread.
    monkeypatch.setattr(Guard, "authorize", _refuse_sync_path)
    monkeypatch.setattr(IssuerKeys, "refresh", _refuse_sync_path)
    return AsyncClient()


def test_asgi_handler_awaits_process_view_without_a_thread() -> None:
    asgi = ASGIHandler()
    ours = [
        m
        for m in asgi._view_middleware
        if isinstance(getattr(m, "__self__", None), AudienceMiddleware)
    ]
    assert len(ours) == 1
    assert iscoroutinefunction(ours[0])
    assert not isinstance(ours[0], SyncToAsync)
    wsgi = WSGIHandler()
    ours = [
        m
        for m in wsgi._view_middleware
        if isinstance(getattr(m, "__self__", None), AudienceMiddleware)
    ]
    assert len(ours) == 1
    assert not iscoroutinefunction(ours[0])


async def test_async_function_view(
    client: AsyncClient, issuer: LocalIssuer, effects: list[str]
) -> None:
    assert (await client.get("/async-read")).status_code == 401
    refused = await client.get("/async-read", headers=auth(issuer.mint(aud=AUDIENCE)))
    assert refused.status_code == 403
    assert 'scope="read:messages"' in refused["WWW-Authenticate"]
    assert effects == []
    token = issuer.mint(aud=AUDIENCE, scopes="read:messages", sub="dave")
    response = await client.get("/async-read", headers=auth(token))
    assert response.status_code == 200
    assert response.json()["sub"] == "dave"
    assert effects == ["async read"]


async def test_sync_views_under_async_middleware(
    client: AsyncClient, issuer: LocalIssuer, effects: list[str]
) -> None:
    assert (await client.get("/any")).status_code == 401
    assert (await client.get("/open")).status_code == 200
    good = issuer.mint(aud=AUDIENCE, scopes="items read:items")
    assert (await client.get("/items", headers=auth(good))).status_code == 200
    assert (await client.post("/items", headers=auth(good))).status_code == 403
    assert (await client.get("/async-items", headers=auth(good))).status_code == 200
    assert effects == ["open", "items get", "async items get"]


async def test_async_unknown_url_rules_and_exempt(
    client: AsyncClient, issuer: LocalIssuer, effects: list[str]
) -> None:
    assert (await client.get("/nowhere")).status_code == 401
    assert (
        await client.get("/nowhere", headers=auth(issuer.mint(aud=AUDIENCE)))
    ).status_code == 404
    assert (await client.get("/health")).status_code == 200
    assert (
        await client.get("/thirdparty/x", headers=auth(issuer.mint(aud=AUDIENCE)))
    ).status_code == 403
    assert effects == ["health"]


async def test_async_bearer_post_passes_csrf(issuer: LocalIssuer, effects: list[str]) -> None:
    client = AsyncClient(enforce_csrf_checks=True)
    token = issuer.mint(aud=AUDIENCE, scopes="write:messages")
    assert (await client.post("/write", headers=auth(token))).status_code == 200
    assert effects == ["write POST"]


async def test_async_keys_unavailable_is_503(client: AsyncClient, issuer: LocalIssuer) -> None:
    token = issuer.mint(aud=AUDIENCE)
    issuer.set_mode("error")
    response = await client.get("/any", headers=auth(token))
    assert response.status_code == 503
    assert "Retry-After" in response
