"""AudienceMiddleware through Django's sync test client (the WSGI request path)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings
from django_support import AUDIENCE, audmw_settings, bearer
from dpop_challenge import BARE, with_dpop

from audmw.testing import LocalIssuer
from audmw_django.user import TokenUser


@pytest.fixture
def client() -> Client:
    return Client()


def mint(issuer: LocalIssuer, scopes: str = "", **claims: Any) -> str:
    return issuer.mint(aud=AUDIENCE, scopes=scopes, **claims)


def test_no_token_gets_a_bare_challenge_and_the_view_never_runs(
    client: Client, effects: list[str]
) -> None:
    response = client.get("/any")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == BARE
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "unauthorized"
    assert effects == []


def test_valid_token_reaches_the_view_with_access_token(
    client: Client, issuer: LocalIssuer, effects: list[str]
) -> None:
    response = client.get("/any", **bearer(mint(issuer, sub="alice")))
    assert response.status_code == 200
    assert response.json()["sub"] == "alice"
    assert effects == ["any"]


def test_token_for_another_audience_is_refused(
    client: Client, issuer: LocalIssuer, effects: list[str]
) -> None:
    token = issuer.mint(aud="https://other.example.com")
    response = client.get("/any", **bearer(token))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert token not in response.content.decode()
    assert effects == []


def test_expired_and_forged_tokens_are_refused(client: Client, issuer: LocalIssuer) -> None:
    expired = mint(issuer, expires_in=-3600)
    assert client.get("/any", **bearer(expired)).status_code == 401
    header, payload, _ = mint(issuer).split(".")
    assert client.get("/any", **bearer(f"{header}.{payload}.AAAA")).status_code == 401


def test_public_view_never_reads_the_token(client: Client, effects: list[str]) -> None:
    # A malformed header would be a 400 anywhere the token is read.
    response = client.get("/open", HTTP_AUTHORIZATION="Bearer not a token")
    assert response.status_code == 200
    assert response.json()["sub"] is None
    assert effects == ["open"]


def test_function_view_scopes(client: Client, issuer: LocalIssuer, effects: list[str]) -> None:
    refused = client.get("/read", **bearer(mint(issuer, "write:messages")))
    assert refused.status_code == 403
    assert refused["WWW-Authenticate"] == with_dpop(
        'Bearer error="insufficient_scope", error_description="The access token lacks the '
        'scope this resource requires", scope="read:messages"'
    )
    assert refused.json()["scope"] == "read:messages"
    assert effects == []
    assert client.get("/read", **bearer(mint(issuer, "read:messages"))).status_code == 200
    assert effects == ["read"]


def test_any_of_scopes(client: Client, issuer: LocalIssuer) -> None:
    assert client.get("/either", **bearer(mint(issuer, "gamma"))).status_code == 403
    assert client.get("/either", **bearer(mint(issuer, "beta"))).status_code == 200


def test_refused_post_has_no_side_effect(
    client: Client, issuer: LocalIssuer, effects: list[str]
) -> None:
    for headers in ({}, bearer(mint(issuer, "read:messages")), bearer("x.y.z")):
        assert client.post("/write", **headers).status_code in (400, 401, 403)
    assert effects == []


def test_bearer_post_without_cookies_passes_csrf(issuer: LocalIssuer, effects: list[str]) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/write", **bearer(mint(issuer, "write:messages")))
    assert response.status_code == 200
    assert effects == ["write POST"]


def test_bearer_post_with_a_session_cookie_still_needs_csrf(
    issuer: LocalIssuer, effects: list[str]
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.cookies["sessionid"] = "some-session"
    response = client.post("/write", **bearer(mint(issuer, "write:messages")))
    assert response.status_code == 403
    assert b"CSRF" in response.content
    assert effects == []


def test_class_and_method_requirements_combine(
    client: Client, issuer: LocalIssuer, effects: list[str]
) -> None:
    assert client.get("/items", **bearer(mint(issuer, "read:items"))).status_code == 403
    assert client.get("/items", **bearer(mint(issuer, "items"))).status_code == 403
    assert client.post("/items", **bearer(mint(issuer, "items read:items"))).status_code == 403
    assert effects == []
    assert client.get("/items", **bearer(mint(issuer, "items read:items"))).status_code == 200
    assert client.post("/items", **bearer(mint(issuer, "items write:items"))).status_code == 200
    # HEAD is served by get(), so it needs get()'s scopes.
    assert client.head("/items", **bearer(mint(issuer, "items"))).status_code == 403
    assert client.head("/items", **bearer(mint(issuer, "items read:items"))).status_code == 200
    # @public on options() does not loosen the class's requirement.
    assert client.options("/items").status_code == 401
    assert client.options("/items", **bearer(mint(issuer, "items"))).status_code == 200
    assert effects == ["items get", "items post", "items get", "items options"]


def test_public_class_and_undecorated_class(
    client: Client, issuer: LocalIssuer, effects: list[str]
) -> None:
    assert client.get("/public-page").status_code == 200
    assert client.get("/plain").status_code == 401
    assert client.get("/plain", **bearer(mint(issuer))).status_code == 200
    assert client.delete("/plain", **bearer(mint(issuer))).status_code == 403
    assert client.delete("/plain", **bearer(mint(issuer, "alpha"))).status_code == 200
    assert effects == ["public page", "plain get", "plain delete"]


def test_exempt_path_needs_no_token(client: Client, effects: list[str]) -> None:
    assert client.get("/health", HTTP_AUTHORIZATION="Bearer bad token").status_code == 200
    assert effects == ["health"]


def test_rules_for_views_one_cannot_decorate(
    client: Client, issuer: LocalIssuer, effects: list[str]
) -> None:
    assert client.get("/thirdparty/report", **bearer(mint(issuer))).status_code == 403
    assert client.post("/thirdparty/report").status_code == 401  # rule is GET-only; token still
    assert client.get("/thirdparty/status").status_code == 200  # public rule
    assert client.get("/thirdparty/report", **bearer(mint(issuer, "reports"))).status_code == 200
    assert effects == ["third status GET", "third report GET"]


def test_unknown_url_needs_the_token_before_its_404(client: Client, issuer: LocalIssuer) -> None:
    assert client.get("/no/such/page").status_code == 401
    assert client.get("/no/such/page", **bearer("garbage")).status_code == 401
    assert client.get("/no/such/page", **bearer(mint(issuer))).status_code == 404
    # Unknown URLs below an exempt prefix answer 404 without a token.
    assert client.get("/drf/no/such/page").status_code == 404


def test_token_in_query_and_header_is_a_bad_request(client: Client, issuer: LocalIssuer) -> None:
    token = mint(issuer)
    response = client.get(f"/any?access_token={token}", **bearer(token))
    assert response.status_code == 400
    assert 'error="invalid_request"' in response["WWW-Authenticate"]
    assert client.get(f"/any?access_token={token}").status_code == 401


def test_refusals_are_logged_with_a_reason_and_never_the_token(
    client: Client, issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    token = issuer.mint(aud="https://graph.example.com")
    with caplog.at_level(logging.INFO, logger="audmw"):
        client.get("/any", **bearer(token))
    assert "reason=aud_mismatch" in caplog.text
    assert token not in caplog.text
    assert token.split(".")[2] not in caplog.text


def test_keys_unavailable_is_503_with_retry_after(client: Client) -> None:
    with LocalIssuer() as down:
        token = down.mint(aud=AUDIENCE)
        down.set_mode("error")
        with override_settings(AUDMW=audmw_settings(down, JWKS_RETRY_AFTER=7)):
            response = client.get("/any", **bearer(token))
    assert response.status_code == 503
    assert response["Retry-After"] == "7"
    assert "WWW-Authenticate" not in response
    assert response.json()["error"] == "temporarily_unavailable"


def test_override_settings_takes_effect(client: Client, issuer: LocalIssuer) -> None:
    other = issuer.mint(aud="https://other.example.com")
    assert client.get("/any", **bearer(other)).status_code == 401
    with override_settings(AUDMW=audmw_settings(issuer, AUDIENCE="https://other.example.com")):
        assert client.get("/any", **bearer(other)).status_code == 200
        with_realm = audmw_settings(issuer, REALM="example")
        with override_settings(AUDMW=with_realm):
            assert client.get("/any")["WWW-Authenticate"] == with_dpop(
                'Bearer realm="example"', "example"
            )
    assert client.get("/any", **bearer(other)).status_code == 401


def test_token_user(client: Client, issuer: LocalIssuer) -> None:
    # By default request.user is the token's subject, as Django code expects of a request
    # that authenticated.
    body = client.get("/any", **bearer(mint(issuer, sub="bob"))).json()
    assert body["user"] == "bob"
    assert body["authenticated"] is True
    with override_settings(AUDMW=audmw_settings(issuer, TOKEN_USER=False)):
        anonymous = client.get("/any", **bearer(mint(issuer, sub="bob"))).json()
    assert anonymous["user"] == "AnonymousUser"


def test_token_user_shape(issuer: LocalIssuer) -> None:
    from audmw import TokenValidator
    from audmw.settings import Settings

    token = TokenValidator(Settings(issuer=issuer.issuer, audience=AUDIENCE)).validate(
        mint(issuer, "a b", sub="carol")
    )
    user = TokenUser(token)
    assert (user.pk, user.get_username(), user.is_authenticated, user.is_anonymous) == (
        "carol",
        "carol",
        True,
        False,
    )
    assert user.scopes == {"a", "b"}
    assert not user.has_perm("auth.add_user")
    assert user == TokenUser(token)


def test_misconfiguration_fails_closed(issuer: LocalIssuer, effects: list[str]) -> None:
    with override_settings(AUDMW={"ISSUER": issuer.issuer}):
        with pytest.raises(ImproperlyConfigured, match="no audience configured"):
            Client().get("/any")
        response = Client(raise_request_exception=False).get("/any")
        assert response.status_code == 500
        assert b"audience" not in response.content
    assert effects == []


@pytest.mark.django_db
def test_session_auth_keeps_working_on_exempt_paths(admin_client: Client) -> None:
    assert admin_client.get("/admin/").status_code == 200
    assert admin_client.get("/session").content == b"user=admin"
    # A session is not a bearer token: protected views still refuse it.
    assert admin_client.get("/any").status_code == 401


def test_answers_are_json(client: Client, issuer: LocalIssuer) -> None:
    body = json.loads(client.get("/read", **bearer(mint(issuer))).content)
    assert body == {
        "error": "insufficient_scope",
        "error_description": "The access token lacks the scope this resource requires",
        "scope": "read:messages",
    }
