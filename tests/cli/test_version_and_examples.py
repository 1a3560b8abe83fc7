"""``audmw --version`` and ``audmw serve-example``, run as a user runs them: real processes."""

from __future__ import annotations

import importlib.metadata
import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from audmw.cli import main
from audmw.cli.console import Console
from audmw.testing import LocalIssuer

SCRIPT = Path(sys.executable).parent / "audmw"
AUDIENCE = "https://api.example.com"


@pytest.mark.parametrize("command", [[str(SCRIPT)], [sys.executable, "-m", "audmw"]])
def test_version_prints_the_installed_version(command: list[str]) -> None:
    result = subprocess.run(
        [*command, "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"audmw {importlib.metadata.version('audmw')}\n"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("framework", ["starlette", "flask"])
def test_serve_example_answers_the_example_routes(framework: str, tmp_path: Path) -> None:
    port = _free_port()
    with LocalIssuer() as issuer:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUDMW_")}
        env |= {"AUDMW_ISSUER": issuer.issuer, "AUDMW_AUDIENCE": AUDIENCE}
        server = subprocess.Popen(
            [str(SCRIPT), "serve-example", framework, "--port", str(port)],
            cwd=tmp_path,  # nothing from the checkout's working directory
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                assert server.poll() is None, server.communicate()
                try:
                    if httpx.get(url + "/public", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the example did not start"
                time.sleep(0.1)
            reader = {"Authorization": f"Bearer {issuer.mint(scopes='read:messages')}"}
            assert httpx.get(url + "/api/me").status_code == 401
            me = httpx.get(url + "/api/me", headers=reader)
            assert me.status_code == 200
            assert me.json()["scopes"] == ["read:messages"]
            assert httpx.get(url + "/api/messages", headers=reader).status_code == 200
            assert httpx.post(url + "/api/messages", headers=reader).status_code == 403
            assert httpx.get(url + "/api/admin", headers=reader).status_code == 403
        finally:
            server.send_signal(signal.SIGTERM)
            out, err = server.communicate(timeout=15)
    assert server.returncode == 0, err
    assert f"http://127.0.0.1:{port}" in out + err  # says where it serves
    assert "reason=insufficient_scope" in err  # and logs why it refused


def test_serve_example_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "waitress", None)  # as if waitress were not installed
    stderr = io.StringIO()
    code = main(
        ["serve-example", "flask", "--port", "1"],
        console=Console(stdout=io.StringIO(), stderr=stderr, environ={}),
    )
    assert code == 2
    assert stderr.getvalue() == (
        'audmw: the flask example needs waitress: pip install "audmw[flask]" waitress\n'
    )
