"""The MCP example server against the real oidc-provider with resource indicators (RFC 8707).

The SDK's client discovers the provider through the server's metadata and asks it for a
token with ``resource=`` the server's URL; a token the same provider made for another
resource is refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from mcp_server.test_mcp_example import call_tool, initialize

from e2e.app_process import AppProcess
from e2e.provider import OTHER_API, OidcProvider, free_port

WELL_KNOWN = "/.well-known/oauth-protected-resource"


@pytest.fixture(scope="module")
def mcp_setup(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[OidcProvider, AppProcess]]:
    """A provider that knows the MCP server's URL as a resource, and the server."""
    logs = tmp_path_factory.mktemp("e2e-mcp")
    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp"
    provider = OidcProvider(resources={resource: "notes:read"})
    log = logs / "mcp_app.log"
    server = AppProcess(
        "mcp_app", provider.issuer, log, settings={}, ready_path=WELL_KNOWN, port=port
    )
    try:
        provider.start()
        server.start()
        yield provider, server
    finally:
        server.close()
        provider.close()


def test_the_sdk_client_gets_a_token_for_the_mcp_resource_and_calls_a_tool(
    mcp_setup: tuple[OidcProvider, AppProcess],
) -> None:
    provider, server = mcp_setup
    resource = f"{server.base_url}/mcp"
    client_id, secret = provider.clients["RS256"]
    result, token = call_tool(
        resource, provider.issuer, "list_notes", {}, client_id=client_id, client_secret=secret
    )
    assert not result.is_error
    assert "welcome" in json.dumps(result.model_dump(mode="json"))
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["typ"] == "at+jwt"
    assert claims["aud"] == resource
    assert claims["iss"] == provider.issuer
    assert claims["scope"] == "notes:read"


def test_a_token_of_the_provider_for_another_resource_is_refused(
    mcp_setup: tuple[OidcProvider, AppProcess],
) -> None:
    provider, server = mcp_setup
    token = provider.get_token(OTHER_API, "read:reports")
    mark = server.log_mark()
    response = initialize(server, token)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert (
        f'resource_metadata="{server.base_url}{WELL_KNOWN}/mcp"'
        in (response.headers["www-authenticate"])
    )
    [line] = server.log_lines_since(mark, "reason=aud_mismatch")
    assert OTHER_API in line
    assert f"resource={server.base_url}/mcp" in line
    assert token not in Path(server.log_path).read_text()
