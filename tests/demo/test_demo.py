"""The README's demo command answers every request as the example-app contract says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from audmw import demo

ROOT = Path(__file__).resolve().parents[2]


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "audmw.demo", *args],
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("framework", ["starlette", "fastapi", "django", "flask", "core"])
def test_demo_walks_through_accepted_and_refused_requests(framework: str) -> None:
    result = run_demo("--framework", framework)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "all requests answered as expected" in out
    assert "✗" not in out
    # The server-side reason codes and fixes are shown next to each refusal.
    for reason in ("no_token", "aud_mismatch", "expired", "id_token", "not_a_jwt"):
        assert f"reason={reason}" in out
    assert "reason=insufficient_scope" in out
    assert "request it with audience=<this API's identifier>" in out
    assert 'WWW-Authenticate: Bearer error="insufficient_scope"' in out
    if framework != "core":
        # The calling service: its token for the API is accepted, one for another API is
        # refused, and the server's log names the fix.
        assert "the calling service, client caller-service (client credentials)" in out
        assert "token requested with audience=https://api.example.com\n    200 accepted" in out
        caller = out.split("the calling service", 1)[1]
        assert "token requested with audience=https://reports.example.com" in caller
        assert "401 refused   server log: reason=aud_mismatch" in caller
        assert "request the token with audience=/resource= naming this API" in caller


def test_demo_against_a_real_openid_provider() -> None:
    result = run_demo("--framework", "core", "--issuer", "oidc-provider")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "oidc-provider on http://127.0.0.1:" in result.stdout
    assert "all requests answered as expected" in result.stdout
    assert "reason=not_a_jwt" in result.stdout
    assert "reason=aud_mismatch" in result.stdout


def test_without_starlette_the_demo_runs_through_the_core(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``pip install audmw`` alone: the same walk-through, and what to install for a server."""
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if uvicorn were not installed
    monkeypatch.setenv("NO_COLOR", "1")
    assert demo.main([]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("audmw.Guard trusting http://127.0.0.1:")
    assert "all requests answered as expected" in out
    assert "reason=aud_mismatch" in out
    assert err == (
        'note: the Starlette example app needs uvicorn: pip install "audmw[starlette]" uvicorn; '
        "running the same requests through the core instead\n\n"
    )


def test_a_framework_asked_for_but_not_installed_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "waitress", None)
    with pytest.raises(SystemExit) as stopped:
        demo.main(["--framework", "flask"])
    assert stopped.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.endswith(
        'audmw demo: error: --framework flask needs waitress: pip install "audmw[flask]" waitress\n'
    )
