"""The same RFC 9728 checks for every adapter: one small API, served by each framework.

Each adapter's test builds ``ROUTES`` in its framework (the marks below, and ``RULES`` in the
settings) with ``settings_for(issuer)``, and hands ``check_*`` a ``Fetch`` for its test
client. The answers must be exactly these, whichever adapter serves them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dpop_challenge import ALGS

from audmw.testing import LocalIssuer

RESOURCE = "https://api.example.com/v1"
WELL_KNOWN = "/.well-known/oauth-protected-resource"
INSERTED = WELL_KNOWN + "/v1"  # RFC 9728 §3.1: between the host and the resource's path
METADATA_URL = "https://api.example.com" + INSERTED
RULES = [{"path": "/reports/**", "scopes": ["read:reports"]}]

# path -> what the route asks for; adapters mark their views accordingly:
#   /public         @public
#   /api/me         nothing (any valid token)
#   /api/notes      @require_scopes("notes:read")
#   /api/admin      @require_scopes("notes:read", "admin")
#   /api/either     @require_any_scope("x:one", "x:two")
SCOPES_SUPPORTED = ["admin", "notes:read", "read:reports", "x:one", "x:two"]

# What the document says of sender-constrained tokens with the default settings.
DPOP_MEMBERS = (
    b'"dpop_signing_alg_values_supported": ["ES256", "ES384", "ES512", "EdDSA", "PS256", '
    b'"RS256"], "dpop_bound_access_tokens_required": false, '
    b'"tls_client_certificate_bound_access_tokens": false'
)
DPOP_CHALLENGE = f', DPoP resource_metadata="{METADATA_URL}", {ALGS}'
"""The DPoP challenge that follows every Bearer one (DPoP is allowed by default)."""

Fetch = Callable[[str, str, Mapping[str, str]], tuple[int, Mapping[str, str], bytes]]
"""(method, path, request headers) -> (status, response headers by lower-case name, body)."""


def settings_for(issuer: LocalIssuer, **extra: Any) -> dict[str, Any]:
    """The settings of the API under test, by upper-case name (env, Flask, Django alike)."""
    return {"ISSUER": issuer.issuer, "RESOURCE": RESOURCE, "RULES": RULES, **extra}


def expected_document(issuer: LocalIssuer) -> bytes:
    return (
        b'{"resource": "https://api.example.com/v1", '
        b'"authorization_servers": ["' + issuer.issuer.encode() + b'"], '
        b'"scopes_supported": ["admin", "notes:read", "read:reports", "x:one", "x:two"], '
        b'"bearer_methods_supported": ["header"], ' + DPOP_MEMBERS + b"}"
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def check_document(fetch: Fetch, issuer: LocalIssuer) -> None:
    """Both well-known locations: the exact JSON and headers, with or without a token."""
    for path in (INSERTED, WELL_KNOWN):
        for headers in ({}, bearer("not-a-token"), bearer(issuer.mint(aud="https://else"))):
            status, found, body = fetch("GET", path, headers)
            assert status == 200, (path, status, body)
            assert found["content-type"] == "application/json", path
            assert found["cache-control"] == "public, max-age=3600", path
            assert found["access-control-allow-origin"] == "*", path
            assert "www-authenticate" not in found
            assert body == expected_document(issuer), (path, body)
        status, found, _ = fetch("HEAD", path, {})
        assert status == 200
        assert found["content-type"] == "application/json"
        preflight = {
            "Origin": "https://inspector.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "mcp-protocol-version",
        }
        status, found, body = fetch("OPTIONS", path, preflight)
        assert status == 204, (path, status, body)
        assert found["access-control-allow-origin"] == "*"
        assert found["access-control-allow-methods"] == "GET, HEAD, OPTIONS"
        assert "access-control-allow-credentials" not in found


def check_deny_by_default(fetch: Fetch) -> None:
    """Only the document is open: other methods and neighbouring paths need a token."""
    bare = f'Bearer resource_metadata="{METADATA_URL}"' + DPOP_CHALLENGE
    for method, path in [
        ("POST", WELL_KNOWN),
        ("DELETE", INSERTED),
        ("OPTIONS", "/api/me"),
        ("GET", WELL_KNOWN + "/other"),
        ("GET", INSERTED + "/"),
        ("GET", "/.well-known/oauth-authorization-server"),
        ("GET", "/api/me"),
        ("GET", "/reports/daily"),
    ]:
        status, found, body = fetch(method, path, {})
        assert status == 401, (method, path, status, body)
        assert found["www-authenticate"] == bare, (method, path)
    status, _, _ = fetch("GET", "/public", {})
    assert status == 200


def check_challenges(fetch: Fetch, issuer: LocalIssuer) -> None:
    """Every 401 and 403 names the metadata; a 403 names all the scopes the route needs."""
    status, found, _ = fetch("GET", "/api/me", bearer(issuer.mint(aud="https://else")))
    assert status == 401
    assert found["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="The access token is invalid", '
        f'resource_metadata="{METADATA_URL}"' + DPOP_CHALLENGE
    )
    status, found, _ = fetch("GET", "/api/admin", bearer(issuer.mint(aud=RESOURCE, scopes="admin")))
    assert status == 403
    assert found["www-authenticate"] == (
        'Bearer error="insufficient_scope", '
        'error_description="The access token lacks the scope this resource requires", '
        f'scope="admin notes:read", resource_metadata="{METADATA_URL}"' + DPOP_CHALLENGE
    )
    token = issuer.mint(aud=RESOURCE, scopes="notes:read admin")
    for path in ("/api/me", "/api/admin"):
        status, _, body = fetch("GET", path, bearer(token))
        assert status == 200, (path, body)
