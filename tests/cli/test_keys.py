"""``audmw keys``: the key sources' health, fetched now or read from a running app."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from audmw.testing import LocalIssuer
from tests.cli.conftest import Run


def test_a_reachable_issuer_is_healthy(run_cli: Run, issuer: LocalIssuer) -> None:
    result = run_cli(["keys", "--issuer", issuer.issuer])
    assert result.code == 0, result.err
    assert f"{issuer.issuer}  ok" in result.out
    assert f"{len(issuer.published)} published" in result.out
    assert "next refresh" in result.out
    assert result.out.rstrip().endswith("healthy")


def test_the_environment_names_the_issuer_and_json_is_machine_readable(
    run_cli: Run, issuer: LocalIssuer
) -> None:
    result = run_cli(["keys", "--json"], env={"AUDMW_ISSUER": issuer.issuer})
    assert result.code == 0, result.err
    document = json.loads(result.out)
    (source,) = document["key_sources"]
    assert source["issuers"] == [issuer.issuer]
    assert source["keys"] == len(issuer.published)
    assert source["jwks_uri"] == issuer.jwks_uri


def test_a_stopped_issuer_is_unhealthy_with_the_error(run_cli: Run) -> None:
    stopped = LocalIssuer().start()
    stopped.stop()
    result = run_cli(["keys", "--issuer", stopped.issuer])
    assert result.code == 1
    assert "unavailable" in result.out
    assert "last error" in result.out
    assert result.err == ""  # the key cache's warning is in the report, not on stderr


def test_without_an_issuer_nothing_is_checked(run_cli: Run) -> None:
    result = run_cli(["keys"])
    assert result.code == 2
    assert "issuer" in result.err


@pytest.fixture
def health_route() -> Iterator[str]:
    """A running app's health route (answering what audmw.health.report gives)."""
    document = {
        "healthy": False,
        "key_sources": [
            {
                "issuers": ["https://issuer.example.com/"],
                "state": "unavailable",
                "healthy": False,
                "keys": 0,
                "fetched_at": None,
                "next_refresh": "2026-01-01T00:00:05Z",
                "failed_at": "2026-01-01T00:00:00Z",
                "fetches": 3,
            }
        ],
    }
    body = json.dumps(document).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/health"
    server.shutdown()
    server.server_close()


def test_a_running_apps_health_route_is_shown(run_cli: Run, health_route: str) -> None:
    result = run_cli(["keys", "--url", health_route])
    assert result.code == 1
    assert "https://issuer.example.com/  unavailable" in result.out
    assert "fetches      3" in result.out
