"""Settings that cannot protect the app stop its server at start-up; good ones let the app's
own lifespan run."""

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from audmw import ConfigurationError
from audmw.starlette import AudienceMiddleware, public
from audmw.testing import LocalIssuer

HERE = Path(__file__).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _server_command(server: str, app: str, port: int) -> list[str]:
    """How users start each ASGI server, with its defaults (uvicorn's lifespan=auto among them)."""
    if server == "uvicorn":
        return [sys.executable, "-m", "uvicorn", app, "--port", str(port)]
    if server == "uvicorn-lifespan-on":
        return [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--lifespan", "on"]
    if server == "hypercorn":
        return [sys.executable, "-m", "hypercorn", app, "--bind", f"127.0.0.1:{port}"]
    assert server == "gunicorn"
    worker = ["-k", "uvicorn.workers.UvicornWorker", "--workers", "1", "--no-control-socket"]
    return [sys.executable, "-m", "gunicorn", *worker, "--bind", f"127.0.0.1:{port}", app]


SERVERS = ["uvicorn", "uvicorn-lifespan-on", "hypercorn", "gunicorn"]


def _environment(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDMW_")}
    env.update(settings)
    return env


@pytest.mark.parametrize("server", SERVERS)
def test_the_server_refuses_to_start_without_an_audience(issuer: LocalIssuer, server: str) -> None:
    command = _server_command(server, "misconfigured_app:app", _free_port())
    env = _environment(AUDMW_ISSUER=issuer.issuer)
    # The server stops by itself: a timeout here means it went on serving.
    result = subprocess.run(command, cwd=HERE, env=env, capture_output=True, timeout=60)
    output = result.stderr.decode() + result.stdout.decode()
    assert "no audience configured" in output, output
    assert "Application startup complete" not in output
    if server != "hypercorn":  # hypercorn's parent process exits 0 when its worker fails
        assert result.returncode != 0, output


@pytest.mark.parametrize("server", SERVERS)
def test_the_server_starts_and_runs_the_apps_lifespan(issuer: LocalIssuer, server: str) -> None:
    port = _free_port()
    command = _server_command(server, "lifespan_app:app", port)
    env = _environment(AUDMW_ISSUER=issuer.issuer, AUDMW_AUDIENCE="https://api.example.com")
    process = subprocess.Popen(
        command, cwd=HERE, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.communicate()[0].decode()
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.text == "started"
        refused = httpx.get(f"http://127.0.0.1:{port}/nowhere", timeout=2)
        assert refused.status_code == 401
    finally:
        process.terminate()
        log = process.communicate(timeout=30)[0].decode()
    assert "INFO audmw: audmw refused request: reason=no_token status=401" in log


def test_a_misconfigured_app_answers_500_without_a_traceback(issuer: LocalIssuer) -> None:
    app = Starlette(
        routes=[Route("/", lambda request: PlainTextResponse("served"))],
        middleware=[Middleware(AudienceMiddleware, issuer=issuer.issuer)],
    )
    with pytest.raises(ConfigurationError, match="no audience configured"), TestClient(app):
        pass
    # Served without the lifespan (a server run with it off): every request is refused.
    response = TestClient(app).get("/")
    assert response.status_code == 500
    assert response.json()["error"] == "server_error"
    assert "Traceback" not in response.text


def test_the_apps_own_lifespan_still_runs(issuer: LocalIssuer) -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    @public
    async def home(request: object) -> PlainTextResponse:
        return PlainTextResponse("served")

    app = Starlette(
        routes=[Route("/", home)],
        lifespan=lifespan,
        middleware=[
            Middleware(AudienceMiddleware, issuer=issuer.issuer, audience="https://api.example.com")
        ],
    )
    with TestClient(app) as client:
        assert client.get("/").text == "served"
    assert events == ["startup", "shutdown"]
