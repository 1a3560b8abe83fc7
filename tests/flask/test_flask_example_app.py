"""``python -m example_apps.flask_app --port P`` served by waitress answers the contract."""

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
from dpop_challenge import BARE

from audmw.testing import LocalIssuer

ROOT = Path(__file__).resolve().parents[2]
AUDIENCE = "https://api.example.com"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    def __init__(self, issuer: str, log_path: Path, **env: str) -> None:
        self.port = free_port()
        self.log_path = log_path
        environ = {k: v for k, v in os.environ.items() if not k.startswith("AUDMW_")}
        environ.update(PYTHONUNBUFFERED="1", AUDMW_ISSUER=issuer, AUDMW_AUDIENCE=AUDIENCE, **env)
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "example_apps.flask_app", "--port", str(self.port)],
                cwd=ROOT,
                env=environ,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, self.log()
            try:
                if self.client.get("/public").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the example app did not serve /public"
            time.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                return self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise
        return self.process.returncode


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer() as running:
        yield running


@pytest.fixture(scope="module")
def served(issuer: LocalIssuer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    app = Served(issuer.issuer, tmp_path_factory.mktemp("flask") / "stderr.log")
    yield app
    app.stop()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_public_needs_nothing(served: Served) -> None:
    response = served.client.get("/public", headers={"Authorization": "Bearer not a token"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"


def test_me(served: Served, issuer: LocalIssuer) -> None:
    token = issuer.mint(sub="alice", scopes="write:messages read:messages")
    response = served.client.get("/api/me", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {
        "sub": "alice",
        "scopes": ["read:messages", "write:messages"],
        "aud": [AUDIENCE],
    }
    missing = served.client.get("/api/me")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == BARE


def test_messages(served: Served, issuer: LocalIssuer) -> None:
    reader = bearer(issuer.mint(scopes="read:messages"))
    writer = bearer(issuer.mint(sub="bob", scopes="write:messages"))
    assert served.client.get("/api/messages", headers=reader).status_code == 200
    assert served.client.get("/api/messages", headers=writer).status_code == 403
    refused = served.client.post("/api/messages", headers=reader, json={"text": "refused"})
    assert refused.status_code == 403
    assert refused.json()["scope"] == "write:messages"
    created = served.client.post("/api/messages", headers=writer, json={"text": "hi"})
    assert created.status_code == 201
    assert created.json() == {"author": "bob", "text": "hi"}
    texts = [
        m["text"] for m in served.client.get("/api/messages", headers=reader).json()["messages"]
    ]
    assert "hi" in texts
    assert "refused" not in texts  # the refused POST never reached the view
    garbage = served.client.post("/api/messages", headers=writer, content=b"\xff{")
    assert garbage.status_code == 201


def test_admin_needs_both_scopes(served: Served, issuer: LocalIssuer) -> None:
    for scopes in ("admin", "read:messages"):
        response = served.client.get("/api/admin", headers=bearer(issuer.mint(scopes=scopes)))
        assert response.status_code == 403
        assert 'scope="admin read:messages"' in response.headers["WWW-Authenticate"]
    both = bearer(issuer.mint(scopes="read:messages admin"))
    assert served.client.get("/api/admin", headers=both).status_code == 200


def test_wrong_audience_and_bad_requests(served: Served, issuer: LocalIssuer) -> None:
    other = issuer.mint(aud="https://other.example.com", scopes="read:messages")
    response = served.client.get("/api/messages", headers=bearer(other))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert other not in response.text
    twice = served.client.get(
        "/api/me", headers=[("Authorization", f"Bearer {other}"), ("Authorization", "Bearer x")]
    )
    assert twice.status_code == 400
    assert served.client.get("/nowhere").status_code == 401


def test_refusals_are_logged_one_line_each_without_the_token(
    served: Served, issuer: LocalIssuer
) -> None:
    token = issuer.mint(aud="https://userinfo.example.com/userinfo")
    served.client.get("/api/me", headers=bearer(token))
    deadline = time.monotonic() + 10
    while "/userinfo" not in served.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = served.log()
    lines = [line for line in log.splitlines() if "/userinfo" in line]
    assert len(lines) == 1
    assert "reason=aud_mismatch" in lines[0]
    assert "audience=" in lines[0]  # the operator's fix
    assert token not in log
    assert "Traceback" not in log


def test_starts_while_the_issuer_is_down_then_exits_cleanly(tmp_path: Path) -> None:
    with LocalIssuer() as down:
        down.set_mode("error")
        app = Served(down.issuer, tmp_path / "stderr.log", AUDMW_JWKS_RETRY_AFTER="7")
        try:
            response = app.client.get("/api/me", headers=bearer(down.mint()))
            assert response.status_code == 503
            assert response.headers["Retry-After"] == "7"
            down.set_mode("ok")
            assert app.client.get("/api/me").status_code == 401
        finally:
            code = app.stop(signal.SIGINT)
    assert code == 0
    assert "status=503" in app.log()
    assert "Traceback" not in app.log()


def test_sigterm_exits_cleanly(issuer: LocalIssuer, tmp_path: Path) -> None:
    app = Served(issuer.issuer, tmp_path / "stderr.log", AUDMW_JWKS_URI=issuer.jwks_uri)
    token = issuer.mint(scopes="read:messages")
    assert app.client.get("/api/messages", headers=bearer(token)).status_code == 200
    assert app.stop(signal.SIGTERM) == 0
    assert "Traceback" not in app.log()
