"""DRF: AudienceAuthentication and the scope permissions, with and without the middleware.

Tests of ``/drf/**`` run without the middleware, so DRF's classes do all the work there;
``/api-drf/**`` is judged by the middleware first.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from django.test import Client, override_settings
from django_support import AUDIENCE, MIDDLEWARE, audmw_settings
from dpop_challenge import ALGS, BARE, with_dpop
from rest_framework.test import APIClient

from audmw.testing import LocalIssuer


@pytest.fixture
def client() -> APIClient:
    return APIClient()


@pytest.fixture
def drf_alone(issuer: LocalIssuer) -> Iterator[None]:
    """No AudienceMiddleware and no exempt paths: DRF's classes decide alone."""
    with override_settings(
        MIDDLEWARE=[m for m in MIDDLEWARE if not m.startswith("audmw")],
        AUDMW=audmw_settings(issuer, EXEMPT_PATHS=[]),
    ):
        yield


def test_the_middleware_judges_drf_views_public_by_exempt_paths(
    client: APIClient, effects: list[str]
) -> None:
    # /drf/** is exempt: the middleware lets it through and DRF must not read the token.
    response = client.get("/drf/messages", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == BARE  # DRF's own challenge: not authenticated
    assert effects == []


def auth(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_no_token_is_401_with_the_bearer_challenge(
    drf_alone: None, client: APIClient, effects: list[str]
) -> None:
    response = client.get("/drf/messages")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == BARE
    assert effects == []


def test_realm_in_the_challenge(drf_alone: None, client: APIClient, issuer: LocalIssuer) -> None:
    with override_settings(AUDMW=audmw_settings(issuer, REALM="api", EXEMPT_PATHS=[])):
        challenge = client.get("/drf/messages")["WWW-Authenticate"]
        assert challenge == with_dpop('Bearer realm="api"', "api")


def test_drf_challenge_names_the_resource_metadata(
    drf_alone: None, client: APIClient, issuer: LocalIssuer
) -> None:
    value = audmw_settings(issuer, RESOURCE="https://api.example.com/v1", EXEMPT_PATHS=[])
    with override_settings(AUDMW=value):
        response = client.get("/drf/messages")
    assert response.status_code == 401
    metadata = "https://api.example.com/.well-known/oauth-protected-resource/v1"
    assert response["WWW-Authenticate"] == (
        f'Bearer resource_metadata="{metadata}", DPoP resource_metadata="{metadata}", {ALGS}'
    )


def test_invalid_token_gets_the_core_answer(
    drf_alone: None, client: APIClient, issuer: LocalIssuer, effects: list[str]
) -> None:
    token = issuer.mint(aud="https://elsewhere.example.com", scopes="read:messages")
    response = client.get("/drf/messages", **auth(token))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert response.json()["error"] == "invalid_token"
    assert token not in response.content.decode()
    malformed = client.get("/drf/messages", HTTP_AUTHORIZATION="Bearer a b")
    assert malformed.status_code == 400
    assert 'error="invalid_request"' in malformed["WWW-Authenticate"]
    assert effects == []


def test_has_scopes_per_method(
    drf_alone: None, client: APIClient, issuer: LocalIssuer, effects: list[str]
) -> None:
    reader = issuer.mint(aud=AUDIENCE, scopes="read:messages", sub="erin")
    response = client.get("/drf/messages", **auth(reader))
    assert response.status_code == 200
    assert response.json() == {"sub": "erin", "user": "erin"}
    refused = client.post("/drf/messages", **auth(reader))
    assert refused.status_code == 403
    assert refused["WWW-Authenticate"] == with_dpop(
        'Bearer error="insufficient_scope", error_description="The access token lacks the '
        'scope this resource requires", scope="write:messages"'
    )
    assert refused.json()["scope"] == "write:messages"
    writer = issuer.mint(aud=AUDIENCE, scopes="write:messages")
    assert client.post("/drf/messages", **auth(writer)).status_code == 201
    # PUT is not listed in required_scopes: refused whatever the token carries.
    assert client.put("/drf/messages", **auth(writer)).status_code == 403
    assert effects == ["drf get", "drf post"]


def test_has_any_scope_and_method_attribute(
    drf_alone: None, client: APIClient, issuer: LocalIssuer, effects: list[str]
) -> None:
    assert (
        client.get("/drf/either", **auth(issuer.mint(aud=AUDIENCE, scopes="x"))).status_code == 403
    )
    beta = issuer.mint(aud=AUDIENCE, scopes="beta")
    assert client.get("/drf/either", **auth(beta)).status_code == 200
    assert client.delete("/drf/either", **auth(beta)).status_code == 403
    admin = issuer.mint(aud=AUDIENCE, scopes="admin")
    assert client.delete("/drf/either", **auth(admin)).status_code == 204
    assert effects == ["drf either get", "drf either delete"]


def test_keys_unavailable_is_503(drf_alone: None, client: APIClient, issuer: LocalIssuer) -> None:
    token = issuer.mint(aud=AUDIENCE, scopes="read:messages")
    issuer.set_mode("error")
    response = client.get("/drf/messages", **auth(token))
    assert response.status_code == 503
    assert response["Retry-After"]


def test_permission_reads_the_middleware_token(
    client: APIClient, issuer: LocalIssuer, effects: list[str]
) -> None:
    assert client.get("/api-drf/middleware").status_code == 401  # the middleware refuses
    no_scope = issuer.mint(aud=AUDIENCE)
    refused = client.get("/api-drf/middleware", **auth(no_scope))
    assert refused.status_code == 403
    assert 'scope="read:messages"' in refused["WWW-Authenticate"]
    token = issuer.mint(aud=AUDIENCE, scopes="read:messages", sub="fred")
    assert client.get("/api-drf/middleware", **auth(token)).json() == {"sub": "fred"}
    assert effects == ["drf middleware"]


def test_middleware_reads_marks_on_drf_function_views(
    issuer: LocalIssuer, effects: list[str]
) -> None:
    client = Client()
    assert client.get("/api-drf/function", **auth(issuer.mint(aud=AUDIENCE))).status_code == 403
    admin = issuer.mint(aud=AUDIENCE, scopes="admin")
    assert client.get("/api-drf/function", **auth(admin)).status_code == 200
    assert effects == ["drf function"]


def test_drf_defaults_behind_the_middleware_see_the_token_user(
    client: APIClient, issuer: LocalIssuer, effects: list[str]
) -> None:
    # SessionAuthentication + IsAuthenticated: the request the middleware accepted is an
    # authenticated one for DRF too (request.user is the token's subject by default).
    token = issuer.mint(aud=AUDIENCE, sub="gail")
    response = client.get("/api-drf/defaults", **auth(token))
    assert response.status_code == 200
    assert response.json() == {"user": "gail"}
    assert effects == ["drf defaults"]


def test_drf_refusals_behind_the_middleware_are_the_cores_answer(
    client: APIClient, issuer: LocalIssuer, effects: list[str]
) -> None:
    from audmw import InsufficientScope
    from audmw_django.conf import current

    refused = client.get("/api-drf/middleware", **auth(issuer.mint(aud=AUDIENCE)))
    expected = current().guard.answer(InsufficientScope(("read:messages",)))
    assert refused.status_code == expected.status == 403
    assert refused.content == expected.body
    for name, value in expected.headers:
        assert refused[name] == value
    assert refused["Cache-Control"] == "no-store"
    assert effects == []


def test_drf_refusals_name_the_url_pattern_in_the_log(
    drf_alone: None, client: APIClient, issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="audmw")
    wrong_audience = issuer.mint(aud="https://elsewhere.example.com", scopes="read:messages")
    reader = issuer.mint(aud=AUDIENCE, scopes="read:messages")
    assert client.get("/drf/messages", **auth(wrong_audience)).status_code == 401
    assert client.post("/drf/messages", **auth(reader)).status_code == 403
    records = [r for r in caplog.records if r.name == "audmw" and hasattr(r, "audmw_reason")]
    assert [r.audmw_reason for r in records] == ["aud_mismatch", "insufficient_scope"]
    assert [getattr(r, "audmw_route", None) for r in records] == ["drf/messages"] * 2
