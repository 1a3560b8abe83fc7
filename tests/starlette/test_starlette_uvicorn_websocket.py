"""WebSocket handshakes through a real uvicorn (websockets protocol): accepted and refused."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dpop_challenge import BARE
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from audmw.testing import LocalIssuer

HERE = Path(__file__).resolve().parent
AUDIENCE = "https://api.example.com"


@pytest.fixture(scope="module")
def ws_url(issuer: LocalIssuer) -> Iterator[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AUDMW_")},
        "AUDMW_ISSUER": issuer.issuer,
        "AUDMW_AUDIENCE": AUDIENCE,
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "ws_server:app",
            "--app-dir",
            str(HERE),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--ws",
            "websockets",
            "--log-level",
            "info",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    port = None
    deadline = time.monotonic() + 30
    while port is None and time.monotonic() < deadline:
        line = process.stderr.readline()
        if "Uvicorn running on http://127.0.0.1:" in line:
            port = int(line.rsplit(":", 1)[1].split()[0])
        elif not line and process.poll() is not None:
            break
    if port is None:
        process.kill()
        pytest.fail("uvicorn did not start")
    yield f"ws://127.0.0.1:{port}/ws"
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=15)


def test_a_token_with_the_scope_opens_the_socket(ws_url: str, issuer: LocalIssuer) -> None:
    token = issuer.mint(sub="alice", scopes=["read:messages"])
    with connect(ws_url, additional_headers={"Authorization": f"Bearer {token}"}) as socket:
        assert json.loads(socket.recv(timeout=10)) == {"sub": "alice"}


@pytest.mark.parametrize(
    ("scopes", "audience", "status", "challenge"),
    [
        (None, None, 401, BARE),
        (["read:messages"], "https://other.example.com", 401, 'error="invalid_token"'),
        (["write:messages"], AUDIENCE, 403, 'error="insufficient_scope"'),
    ],
)
def test_a_refused_handshake_gets_the_http_answer(
    ws_url: str,
    issuer: LocalIssuer,
    scopes: list[str] | None,
    audience: str | None,
    status: int,
    challenge: str,
) -> None:
    headers = {}
    if scopes is not None:
        headers["Authorization"] = f"Bearer {issuer.mint(aud=audience, scopes=scopes)}"
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url, additional_headers=headers).close()
    response = refused.value.response
    assert response.status_code == status
    if scopes is None:
        assert response.headers["WWW-Authenticate"] == challenge  # bare: no error code
    else:
        assert challenge in response.headers["WWW-Authenticate"]
