"""Both example apps as real uvicorn processes: the whole contract over HTTP."""

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette_contract import AUDIENCE, CASES, ROUTES, check, expected_reasons, headers_for

from audmw.testing import LocalIssuer

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    def __init__(self, module: str, issuer: str) -> None:
        self.port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AUDMW_")},
            "AUDMW_ISSUER": issuer,
            "AUDMW_AUDIENCE": AUDIENCE,
            "PYTHONUNBUFFERED": "1",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(self.url + "/public", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{module} did not start: {self.stop()}")
            time.sleep(0.1)

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        _, stderr = self.process.communicate(timeout=15)
        return stderr


@pytest.fixture(scope="module", params=["starlette_app", "fastapi_app"])
def server(request: pytest.FixtureRequest, issuer: LocalIssuer) -> Iterator[Server]:
    running = Server(f"example_apps.{request.param}", issuer.issuer)
    yield running
    running.stop()


def test_contract_over_http(server: Server, issuer: LocalIssuer) -> None:
    with httpx.Client(base_url=server.url) as client:
        for route, case in itertools.product(ROUTES, CASES):
            response = client.request(
                route.method, route.path, headers=headers_for(case, route, issuer)
            )
            check(case, route, response)
    assert server.process.poll() is None
    stderr = server.stop()
    assert server.process.returncode == 0  # SIGTERM ends it cleanly
    reasons = [line for line in stderr.splitlines() if "reason=" in line]
    for case in ("no_token", "wrong_audience", "wrong_issuer", "expired", "missing_scope"):
        assert any(f"reason={expected_reasons(case)[case]}" in line for line in reasons), case
    assert "Traceback" not in stderr
    assert "eyJ" not in stderr  # no token in the log


@pytest.mark.parametrize("module", ["starlette_app", "fastapi_app"])
def test_starts_while_the_issuer_is_down(module: str) -> None:
    with LocalIssuer() as down:
        issuer_url = down.issuer
        token = down.mint()
    server = Server(f"example_apps.{module}", issuer_url)  # nothing listens there any more
    try:
        response = httpx.get(server.url + "/api/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 503
        assert "retry-after" in response.headers
    finally:
        server.process.send_signal(signal.SIGINT)
        server.process.communicate(timeout=15)
    assert server.process.returncode == 0
