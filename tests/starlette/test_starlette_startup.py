"""Settings that cannot protect the app stop its server at start-up; good ones let the app's
own lifespan run."""

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

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


@pytest.mark.parametrize("lifespan", ["auto", "on"])
def test_uvicorn_refuses_to_start_without_an_audience(issuer: LocalIssuer, lifespan: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDMW_")}
    env["AUDMW_ISSUER"] = issuer.issuer
    command = [sys.executable, "-m", "uvicorn", "misconfigured_app:app", "--port"]
    command += [str(_free_port()), "--lifespan", lifespan]
    result = subprocess.run(command, cwd=HERE, env=env, capture_output=True, timeout=60)
    output = result.stderr.decode() + result.stdout.decode()
    assert result.returncode != 0, output
    assert "no audience configured" in output
    assert "Application startup complete" not in output


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
