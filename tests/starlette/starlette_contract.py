"""The example-app contract as data: routes x token cases -> the expected answer."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
from dpop_challenge import BARE

from audmw.testing import LocalIssuer

AUDIENCE = "https://api.example.com"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    scopes: tuple[str, ...] | None  # None: public
    success: int = 200


ROUTES = (
    Route("GET", "/public", None),
    Route("GET", "/api/me", ()),
    Route("GET", "/api/messages", ("read:messages",)),
    Route("POST", "/api/messages", ("write:messages",), 201),
    Route("GET", "/api/admin", ("read:messages", "admin")),
)

CASES = (
    "no_token",
    "valid",
    "wrong_audience",
    "wrong_issuer",
    "expired",
    "missing_scope",
    "extra_scopes",
    "two_headers",
)


def asgi_client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://testserver",
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def headers_for(case: str, route: Route, issuer: LocalIssuer) -> list[tuple[str, str]]:
    needed = list(route.scopes or ())
    if case == "no_token":
        return []
    if case == "valid":
        token = issuer.mint(scopes=needed)
    elif case == "wrong_audience":
        token = issuer.mint(aud="https://other-api.example.com", scopes=needed)
    elif case == "wrong_issuer":
        token = issuer.mint(iss="https://evil.example.com", scopes=needed)
    elif case == "expired":
        token = issuer.mint(expires_in=-3600, scopes=needed)
    elif case == "missing_scope":
        token = issuer.mint(scopes=["profile", *needed[1:]])
    elif case == "extra_scopes":
        token = issuer.mint(scopes=["read:messages", "write:messages", "admin", "profile"])
    elif case == "two_headers":
        token = issuer.mint(scopes=needed)
        return [("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")]
    else:
        raise AssertionError(case)
    return [("Authorization", f"Bearer {token}")]


def check(case: str, route: Route, response: httpx.Response) -> None:
    """Assert the exact RFC 6750 answer the contract gives for this route and case."""
    status, headers = response.status_code, response.headers
    if (
        route.scopes is None
        or case in ("valid", "extra_scopes")
        or (case == "missing_scope" and not route.scopes)
    ):
        assert status == route.success, (case, route, response.text)
        assert "www-authenticate" not in headers
        if route.path == "/api/me":
            body = response.json()
            assert body["aud"] == [AUDIENCE]
            assert body["sub"] == "user-123"
            assert body["scopes"] == sorted(body["scopes"])
        return
    body = json.loads(response.content)
    assert headers["content-type"] == "application/json"
    challenge = headers["www-authenticate"]
    if case == "no_token":
        assert (status, challenge) == (401, BARE)
        assert body["error"] == "unauthorized"
    elif case == "two_headers":
        assert status == 400
        assert challenge.startswith('Bearer error="invalid_request"')
    elif case == "missing_scope":
        assert status == 403
        assert challenge.startswith('Bearer error="insufficient_scope"')
        assert f'scope="{" ".join(sorted(route.scopes))}"' in challenge
        assert body["error"] == "insufficient_scope"
    else:
        assert status == 401, (case, route, response.text)
        assert challenge.startswith('Bearer error="invalid_token"')
        assert body["error"] == "invalid_token"


def expected_reasons(case: str) -> Mapping[str, str]:
    return {
        "no_token": "no_token",
        "wrong_audience": "aud_mismatch",
        "wrong_issuer": "iss_mismatch",
        "expired": "expired",
        "missing_scope": "insufficient_scope",
        "two_headers": "multiple_authorization_headers",
    }
