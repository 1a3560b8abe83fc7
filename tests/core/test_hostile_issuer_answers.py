"""Discovery and JWKS answers an issuer should never give: keys unavailable (503), never a crash."""

from __future__ import annotations

import threading
import time
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


@pytest.fixture
def trickling_server() -> Iterator[str]:
    """Answers with a JWKS of 4 KB, one byte every 10 ms: 40 s in all."""
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "4096")
            self.end_headers()
            for _ in range(4096):
                if stop.wait(0.01):
                    return
                self.wfile.write(b" ")
                self.wfile.flush()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.anyio
async def test_a_trickling_jwks_is_cut_off_at_the_timeout(
    issuer: LocalIssuer, trickling_server: str
) -> None:
    # Each byte arrives well within the read timeout; only a deadline on the whole answer ends
    # the fetch, in about http_timeout seconds instead of 40.
    settings = Settings(
        issuer=issuer.issuer, audience=AUDIENCE, jwks_uri=trickling_server, http_timeout=0.5
    )
    started = time.monotonic()
    with pytest.raises(KeysUnavailable):
        TokenValidator(settings).validate(issuer.mint())
    with pytest.raises(KeysUnavailable):
        await TokenValidator(settings).validate_async(issuer.mint())
    assert time.monotonic() - started < 20  # a hang guard, far above the expected ~1 s
