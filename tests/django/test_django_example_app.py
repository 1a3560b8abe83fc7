"""The Django example app, served for real by ``python -m example_apps.django_app``."""

from __future__ import annotations

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
from django_support import AUDIENCE
from dpop_challenge import BARE

from audmw.testing import LocalIssuer

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class App:
    def __init__(self, issuer: str) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "AUDMW_ISSUER": issuer,
            "AUDMW_AUDIENCE": AUDIENCE,
            "AUDMW_JWKS_RETRY_AFTER": "1",
        }
        env.pop("DJANGO_SETTINGS_MODULE", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "example_apps.django_app", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(self.url + "/public").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the example app did not start: " + self.stop()[1])
            time.sleep(0.1)

    def request(self, method: str, path: str, token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.request(method, self.url + path, headers=headers)

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            _, stderr = self.process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, stderr = self.process.communicate()
        return self.process.returncode, stderr


@pytest.fixture
def app(issuer: LocalIssuer) -> Iterator[App]:
    served = App(issuer.issuer)
    yield served
    served.stop()


def test_the_contract(app: App, issuer: LocalIssuer) -> None:
    public = app.request("GET", "/public", "not-even-a-jwt")
    assert (public.status_code, public.headers["content-type"]) == (200, "application/json")

    assert app.request("GET", "/api/me").status_code == 401
    assert app.request("GET", "/api/me").headers["www-authenticate"] == BARE
    token = issuer.mint(aud=AUDIENCE, sub="grace", scopes="write:messages read:messages")
    me = app.request("GET", "/api/me", token)
    assert me.status_code == 200
    assert me.json() == {
        "sub": "grace",
        "scopes": ["read:messages", "write:messages"],
        "aud": [AUDIENCE],
    }
    assert app.request("GET", "/api/messages", token).status_code == 200
    assert app.request("POST", "/api/messages", token).status_code == 201
    refused = app.request("GET", "/api/admin", token)
    assert refused.status_code == 403
    assert 'scope="admin read:messages"' in refused.headers["www-authenticate"]
    admin = issuer.mint(aud=AUDIENCE, scopes="read:messages admin")
    assert app.request("GET", "/api/admin", admin).status_code == 200
    assert app.request("POST", "/api/messages", admin).status_code == 403
    wrong_audience = issuer.mint(aud="https://other.example.com")
    assert app.request("GET", "/api/me", wrong_audience).status_code == 401
    assert app.request("GET", "/unknown").status_code == 401

    returncode, stderr = app.stop(signal.SIGINT)
    assert returncode == 0
    assert "Traceback" not in stderr
    reasons = [line for line in stderr.splitlines() if "reason=" in line]
    assert any("reason=no_token" in line for line in reasons)
    assert any("reason=insufficient_scope" in line for line in reasons)
    assert any("reason=aud_mismatch" in line for line in reasons)
    assert token not in stderr
    assert wrong_audience not in stderr


def test_starts_while_the_issuer_is_down() -> None:
    issuer = LocalIssuer().start()
    token = issuer.mint(aud=AUDIENCE)
    issuer.set_mode("error")
    app = App(issuer.issuer)
    try:
        assert app.request("GET", "/public").status_code == 200
        down = app.request("GET", "/api/me", token)
        assert down.status_code == 503
        assert down.headers["retry-after"]
        issuer.set_mode("ok")
        time.sleep(1.1)  # AUDMW_JWKS_RETRY_AFTER=1
        assert app.request("GET", "/api/me", token).status_code == 200
    finally:
        returncode, _ = app.stop()
        issuer.stop()
    assert returncode == 0


def test_bad_configuration_exits_with_the_fix() -> None:
    env = {**os.environ, "AUDMW_ISSUER": "https://issuer.example.com/"}
    env.pop("AUDMW_AUDIENCE", None)
    result = subprocess.run(
        [sys.executable, "-m", "example_apps.django_app", "--port", str(free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "no audience configured" in result.stderr
    assert "Traceback" not in result.stderr
