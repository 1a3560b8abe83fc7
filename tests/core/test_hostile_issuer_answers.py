"""Discovery and JWKS answers an issuer should never give: keys unavailable (503), never a crash."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from audmw import ConfigurationError, KeysUnavailable, Settings, TokenValidator
from audmw.testing import LocalIssuer

from .conftest import AUDIENCE


@pytest.fixture
def raw_server() -> Iterator[tuple[str, list[bytes]]]:
    """An HTTP server on 127.0.0.1 answering every GET with the last body put in the list."""
    bodies: list[bytes] = [b"{}"]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = bodies[-1]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json", bodies
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.anyio
async def test_a_malformed_jwks_uri_in_the_discovery_document(issuer: LocalIssuer) -> None:
    served = issuer.metadata
    issuer.metadata = lambda: {**served(), "jwks_uri": "https://keys.example.com:port/jwks"}  # type: ignore[method-assign]
    settings = Settings(issuer=issuer.issuer, audience=AUDIENCE)
    with pytest.raises(KeysUnavailable):
        TokenValidator(settings).validate(issuer.mint())
    with pytest.raises(KeysUnavailable):
        await TokenValidator(settings).validate_async(issuer.mint())


@pytest.mark.anyio
async def test_a_jwks_nested_past_the_recursion_limit(
    issuer: LocalIssuer, raw_server: tuple[str, list[bytes]]
) -> None:
    url, bodies = raw_server
    bodies.append(b'{"keys": ' + b"[" * 5000 + b"]" * 5000 + b"}")
    settings = Settings(issuer=issuer.issuer, audience=AUDIENCE, jwks_uri=url)
    with pytest.raises(KeysUnavailable):
        TokenValidator(settings).validate(issuer.mint())
    with pytest.raises(KeysUnavailable):
        await TokenValidator(settings).validate_async(issuer.mint())


@pytest.mark.parametrize(
    "url", ["https://keys.example.com:port/jwks", "https://keys.example.com:99999/jwks"]
)
def test_a_configured_jwks_uri_with_a_bad_port_is_refused_at_start_up(url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"jwks_uri .* is not a valid URL"):
        Settings(issuer="https://id.example.com", audience=AUDIENCE, jwks_uri=url)
    with pytest.raises(ConfigurationError, match=r"issuer .* is not a valid URL"):
        Settings(issuer=url.removesuffix("/jwks"), audience=AUDIENCE)
