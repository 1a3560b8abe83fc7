"""The local issuer's token endpoint over HTTP: RFC 6749 answers to good and bad requests,
never a crash, and a discovery document that tells the truth."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from audmw.testing import LocalIssuer, generate_key, sign_compact

SECRET = "issuer-test-secret"
BASIC = {"Authorization": "Basic " + base64.b64encode(f"svc:{SECRET}".encode()).decode()}
CC = {"grant_type": "client_credentials"}


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer() as local:
        local.register_client("svc", secret=SECRET)
        yield local


def post(issuer: LocalIssuer, data: Any = None, **options: Any) -> httpx.Response:
    return httpx.post(issuer.token_url, data=data, timeout=10, **options)


def test_discovery_advertises_what_the_endpoint_does(issuer: LocalIssuer) -> None:
    metadata = httpx.get(issuer.issuer + "/.well-known/openid-configuration").json()
    assert metadata["token_endpoint"] == issuer.token_url
    assert "client_credentials" in metadata["grant_types_supported"]
    assert "private_key_jwt" in metadata["token_endpoint_auth_methods_supported"]
    answer = post(issuer, CC, headers=BASIC)
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    assert answer.json()["token_type"] == "Bearer"
    assert answer.json()["expires_in"] == 300


@pytest.mark.parametrize(
    ("data", "headers", "status", "error"),
    [
        ({"grant_type": "password"}, BASIC, 400, "unsupported_grant_type"),
        (CC, {}, 401, "invalid_client"),
        ({**CC, "client_id": "svc", "client_secret": SECRET}, BASIC, 400, "invalid_request"),
        ({**CC, "client_id": "svc", "client_secret": "wrong"}, {}, 401, "invalid_client"),
        (
            "grant_type=client_credentials&grant_type=client_credentials",
            BASIC,
            400,
            "invalid_request",
        ),
        ({**CC, "resource": "not-a-uri"}, BASIC, 400, "invalid_target"),
        ({**CC, "resource": "https://api.example.com#frag"}, BASIC, 400, "invalid_target"),
        (
            {"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange"},
            BASIC,
            400,
            "invalid_request",
        ),
        (
            {
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": "x",
                "scope": "a",
            },
            BASIC,
            400,
            "invalid_request",
        ),
        (
            {
                **CC,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": "not.a.jwt",
            },
            {},
            401,
            "invalid_client",
        ),
        (
            {
                **CC,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": sign_compact({"alg": "HS256"}, {"iss": ["svc"]}, b"k" * 32),
            },
            {},
            401,
            "invalid_client",
        ),
        (CC, {"Authorization": "Basic %%%"}, 401, "invalid_client"),
        (CC, {"Authorization": "Bearer abc"}, 401, "invalid_client"),
    ],
)
def test_rfc6749_error_answers(
    issuer: LocalIssuer, data: Any, headers: dict[str, str], status: int, error: str
) -> None:
    if isinstance(data, str):
        answer = post(
            issuer,
            content=data,
            headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
        )
    else:
        answer = post(issuer, data, headers=headers)
    assert answer.status_code == status
    assert answer.json()["error"] == error
    assert answer.headers["cache-control"] == "no-store"
    if status == 401 and "Authorization" in headers:
        assert answer.headers["www-authenticate"].startswith("Basic")


def test_subject_tokens_are_verified(issuer: LocalIssuer) -> None:
    exchange = {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "audience": "https://down.example",
    }
    good = post(issuer, {**exchange, "subject_token": issuer.mint(sub="alice")}, headers=BASIC)
    assert good.status_code == 200
    foreign = issuer.mint(key=generate_key("rsa"), kid="rsa-unknown")
    for subject in (foreign, issuer.mint(expires_in=-60), issuer.mint(iss="https://other")):
        answer = post(issuer, {**exchange, "subject_token": subject}, headers=BASIC)
        assert answer.json()["error"] == "invalid_grant", subject


def test_bad_bodies_never_crash_it(issuer: LocalIssuer) -> None:
    wrong_type = post(
        issuer,
        content=b'{"grant_type": "client_credentials"}',
        headers={**BASIC, "Content-Type": "application/json"},
    )
    assert wrong_type.json()["error"] == "invalid_request"
    not_utf8 = post(
        issuer,
        content=b"grant_type=\xff\xfe",
        headers={**BASIC, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert not_utf8.status_code == 400
    with socket.create_connection(("127.0.0.1", issuer.port), timeout=10) as raw:
        raw.sendall(b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 400")
    assert post(issuer, CC, headers=BASIC).status_code == 200  # still serving


def test_a_browser_may_ask_for_tokens(issuer: LocalIssuer) -> None:
    preflight = httpx.request(
        "OPTIONS",
        issuer.token_url,
        headers={
            "Origin": "http://127.0.0.1:8000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,x-requested-with,bad header",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert preflight.headers["access-control-allow-headers"] == "authorization, x-requested-with"
    assert post(issuer, CC, headers=BASIC).headers["access-control-allow-origin"] == "*"


def test_faults_apply_to_the_token_endpoint(issuer: LocalIssuer) -> None:
    issuer.set_mode("error")
    try:
        assert post(issuer, CC, headers=BASIC).status_code == 500
    finally:
        issuer.set_mode("ok")
