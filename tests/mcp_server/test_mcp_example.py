"""The MCP example server end to end, with the MCP SDK's own client and the local issuer.

The client starts with nothing but the server's URL and its client credentials: the 401's
``resource_metadata`` leads it to the metadata, the metadata to the issuer, and the issuer
gives it a token for ``resource=`` the server's URL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import jwt
import pytest
from dpop_challenge import ALGS
from e2e.app_process import AppProcess
from mcp import Client
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from audmw.settings import DPOP_ALGORITHMS
from audmw.testing import LocalIssuer

WELL_KNOWN = "/.well-known/oauth-protected-resource"
CLIENT_ID = "mcp-agent"
CLIENT_SECRET = "a-secret-of-the-mcp-agent"
OTHER_RESOURCE = "https://reports.example.com"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


class MemoryStorage:
    """The SDK's ``TokenStorage``, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


def call_tool(
    url: str,
    issuer: str,
    name: str,
    arguments: dict[str, Any],
    *,
    client_id: str = CLIENT_ID,
    client_secret: str = CLIENT_SECRET,
    stored: OAuthToken | None = None,
) -> tuple[Any, str]:
    """Call a tool the way an MCP client does from scratch (or with a ``stored`` token); the
    result and the token used in the end."""
    storage = MemoryStorage()
    storage.tokens = stored

    async def run() -> Any:
        auth = ClientCredentialsOAuthProvider(
            server_url=url,
            storage=storage,
            client_id=client_id,
            client_secret=client_secret,
            issuer=issuer,
        )
        async with (
            httpx2.AsyncClient(auth=auth, timeout=30) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            return await client.call_tool(name, arguments)

    result = anyio.run(run)
    assert storage.tokens is not None
    return result, storage.tokens.access_token


def initialize(server: AppProcess, token: str | None = None) -> httpx.Response:
    """An MCP ``initialize`` request to the server, with ``token`` when given."""
    headers = dict(MCP_HEADERS)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return server.client.post("/mcp", json=INITIALIZE, headers=headers)


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer() as issuer:
        yield issuer


@pytest.fixture(scope="module")
def server(issuer: LocalIssuer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    log = tmp_path_factory.mktemp("mcp") / "mcp_app.log"
    process = AppProcess("mcp_app", issuer.issuer, log, settings={}, ready_path=WELL_KNOWN)
    issuer.register_client(
        CLIENT_ID,
        secret=CLIENT_SECRET,
        audiences=[f"{process.base_url}/mcp", OTHER_RESOURCE],
        scopes=["notes:read", "read:reports"],
    )
    try:
        yield process.start()
    finally:
        process.close()


def test_the_sdk_client_discovers_gets_a_token_for_the_resource_and_calls_a_tool(
    server: AppProcess, issuer: LocalIssuer
) -> None:
    resource = f"{server.base_url}/mcp"
    result, token = call_tool(resource, issuer.issuer, "read_note", {"title": "welcome"})
    assert not result.is_error
    assert "audmw checks every token" in json.dumps(result.model_dump(mode="json"))
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["aud"] == resource
    assert claims["scope"] == "notes:read"  # from the metadata's scopes_supported
    # The way there: the 401, the metadata it named, the issuer's discovery, the token.
    assert "/token" in issuer.requests


def test_the_metadata_names_the_resource_its_issuer_and_the_scope_of_the_route(
    server: AppProcess, issuer: LocalIssuer
) -> None:
    resource = f"{server.base_url}/mcp"
    expected = {
        "resource": resource,
        "authorization_servers": [issuer.issuer],
        "scopes_supported": ["notes:read"],
        "bearer_methods_supported": ["header"],
        "dpop_signing_alg_values_supported": list(DPOP_ALGORITHMS),
        "dpop_bound_access_tokens_required": False,
        "tls_client_certificate_bound_access_tokens": False,
    }
    for path in (f"{WELL_KNOWN}/mcp", WELL_KNOWN):
        response = server.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.json() == expected
        assert list(response.json()) == list(expected)


def test_a_request_without_a_token_is_pointed_at_the_metadata(server: AppProcess) -> None:
    response = initialize(server)
    assert response.status_code == 401
    metadata = f"{server.base_url}/.well-known/oauth-protected-resource/mcp"
    assert response.headers["www-authenticate"] == (
        f'Bearer resource_metadata="{metadata}", DPoP resource_metadata="{metadata}", {ALGS}'
    )


def test_a_token_without_the_scope_gets_a_step_up_challenge(
    server: AppProcess, issuer: LocalIssuer
) -> None:
    token = issuer.mint(aud=f"{server.base_url}/mcp", scopes="other")
    response = initialize(server, token)
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", '
        'error_description="The access token lacks the scope this resource requires", '
        'scope="notes:read", '
        f'resource_metadata="{server.base_url}/.well-known/oauth-protected-resource/mcp", '
        f'DPoP resource_metadata="{server.base_url}/.well-known/oauth-protected-resource/mcp", '
        f"{ALGS}"
    )


def test_the_sdk_client_steps_up_to_the_scopes_the_403_names(
    server: AppProcess, issuer: LocalIssuer
) -> None:
    resource = f"{server.base_url}/mcp"
    narrow = issuer.mint(aud=resource, scopes="read:reports", sub=CLIENT_ID)
    stored = OAuthToken(access_token=narrow, token_type="Bearer", scope="read:reports")
    mark = server.log_mark()
    result, token = call_tool(resource, issuer.issuer, "list_notes", {}, stored=stored)
    assert not result.is_error
    assert token != narrow
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["aud"] == resource
    assert "notes:read" in claims["scope"].split()  # asked for because the 403 named it
    assert server.log_lines_since(mark, "reason=insufficient_scope")


def test_a_token_the_issuer_made_for_another_resource_is_refused(
    server: AppProcess, issuer: LocalIssuer
) -> None:
    answer = httpx.post(
        issuer.token_url,
        data={"grant_type": "client_credentials", "resource": OTHER_RESOURCE},
        auth=(CLIENT_ID, CLIENT_SECRET),
    ).json()
    mark = server.log_mark()
    response = initialize(server, answer["access_token"])
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert "resource_metadata=" in response.headers["www-authenticate"]
    [line] = server.log_lines_since(mark, "reason=aud_mismatch")
    assert OTHER_RESOURCE in line
    assert f"resource={server.base_url}/mcp" in line
    assert answer["access_token"] not in Path(server.log_path).read_text()
