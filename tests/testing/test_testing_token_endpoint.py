"""The LocalIssuer's token endpoint: client credentials for one known resource, or a refusal."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import jwt
import pytest

from audmw import Settings, TokenValidator
from audmw.testing import LocalIssuer

API = "https://api.example.com/mcp"
GRANT = {"grant_type": "client_credentials"}


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer() as running:
        running.register_client(
            "agent", secret="s3cret+/=", audiences=[API], scopes=["notes:read", "notes:write"]
        )
        running.register_client("any", secret="x")
        yield running


def token_request(issuer: LocalIssuer, **form: str) -> httpx.Response:
    return httpx.post(issuer.token_url, data=form, auth=("agent", "s3cret+/="))


def test_a_token_for_the_resource_with_the_scopes_it_has(issuer: LocalIssuer) -> None:
    response = token_request(
        issuer, grant_type="client_credentials", resource=API, scope="notes:read other"
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["token_type"] == "Bearer"
    assert answer["scope"] == "notes:read"
    token = TokenValidator(Settings(issuer=issuer.issuer, resource=API)).validate(
        answer["access_token"]
    )
    assert token.audience == (API,)
    assert token.scopes == {"notes:read"}
    assert token.client_id == "agent"


def test_the_client_may_authenticate_in_the_form(issuer: LocalIssuer) -> None:
    form = {
        "grant_type": "client_credentials",
        "resource": API,
        "client_id": "agent",
        "client_secret": "s3cret+/=",
    }
    response = httpx.post(issuer.token_url, data=form)
    assert response.status_code == 200
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["aud"] == API


@pytest.mark.parametrize(
    ("form", "auth", "status", "error"),
    [
        (
            {"grant_type": "client_credentials", "resource": API},
            ("agent", "wrong"),
            401,
            "invalid_client",
        ),
        (
            {"grant_type": "client_credentials", "resource": API},
            ("nobody", "x"),
            401,
            "invalid_client",
        ),
        ({"grant_type": "password", "resource": API}, None, 400, "unsupported_grant_type"),
        ({"grant_type": "client_credentials"}, None, 400, "invalid_target"),
        (
            {"grant_type": "client_credentials", "resource": "https://else"},
            None,
            400,
            "invalid_target",
        ),
    ],
)
def test_refusals(
    issuer: LocalIssuer,
    form: dict[str, str],
    auth: tuple[str, str] | None,
    status: int,
    error: str,
) -> None:
    response = httpx.post(issuer.token_url, data=form, auth=auth or ("agent", "s3cret+/="))
    assert response.status_code == status
    assert response.json() == {"error": error}


def test_two_resources_are_refused(issuer: LocalIssuer) -> None:
    response = httpx.post(
        issuer.token_url,
        content=f"grant_type=client_credentials&resource={API}&resource={API}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=("agent", "s3cret+/="),
    )
    assert response.json() == {"error": "invalid_target"}


def test_discovery_names_the_token_endpoint(issuer: LocalIssuer) -> None:
    document = httpx.get(issuer.issuer + "/.well-known/openid-configuration").json()
    assert document["token_endpoint"] == issuer.token_url
    assert "client_credentials" in document["grant_types_supported"]


def test_a_client_without_limits_gets_any_resource_and_scope(issuer: LocalIssuer) -> None:
    form = {**GRANT, "resource": "https://else.example.com", "scope": "a b"}
    response = httpx.post(issuer.token_url, data=form, auth=("any", "x"))
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["aud"] == "https://else.example.com"
    assert claims["scope"] == "a b"
    fragment = httpx.post(
        issuer.token_url, data={**GRANT, "resource": "https://else/#f"}, auth=("any", "x")
    )
    assert fragment.json() == {"error": "invalid_target"}
