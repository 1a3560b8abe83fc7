"""``audmw serve-issuer`` and ``audmw mint`` sharing keys through a state directory, checked
end to end with ``audmw check``, each a real process (``python -m audmw``)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from audmw.testing import LocalIssuer
from audmw.testing.issuer import load_keys, read_state
from tests.cli.conftest import Run

AUDIENCE = "https://api.example.com"


def _environ(**extra: str) -> dict[str, str]:
    """The process environment without the developer's own AUDMW_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDMW_")}
    env.pop("NO_COLOR", None)
    env.update(extra)
    return env


def _audmw(
    *argv: str, stdin: str = "", env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "audmw", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env=env or _environ(),
        cwd=cwd,
        timeout=60,
        check=False,
    )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A running ``audmw serve-issuer`` on a free port, with its state directory."""
    state = tmp_path / "state"
    process = subprocess.Popen(
        [sys.executable, "-m", "audmw", "serve-issuer", "--port", "0", "--state-dir", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environ(),
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("audmw development issuer: http://127.0.0.1:"), first + (
            process.stderr.read() if process.stderr else ""
        )
        yield first.split(": ", 1)[1].strip(), state
    finally:
        process.terminate()
        try:
            assert process.wait(timeout=10) == 0  # SIGTERM is a clean stop
        finally:
            if process.poll() is None:
                process.kill()
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()


def test_mint_then_check_round_trip(served: tuple[str, Path]) -> None:
    issuer, state = served
    minted = _audmw("mint", "--state-dir", str(state), "--scope", "read:messages")
    assert minted.returncode == 0, minted.stderr
    assert minted.stderr == ""  # the issuer recorded where it serves: no note needed
    token = minted.stdout.strip()
    assert token.count(".") == 2

    accepted = _audmw(
        "check",
        "--issuer",
        issuer,
        "--audience",
        AUDIENCE,
        "--scope",
        "read:messages",
        stdin=token,
    )
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "Accepted: sub user-123, client dev-client, scopes read:messages" in accepted.stdout
    assert token not in accepted.stdout

    refused = _audmw(
        "check", "--issuer", issuer, "--audience", AUDIENCE, "--scope", "admin", stdin=token
    )
    assert refused.returncode == 1
    assert "reason insufficient_scope" in refused.stdout


def test_mint_options_reach_the_token_and_check_explains_them(served: tuple[str, Path]) -> None:
    issuer, state = served
    env = _environ(AUDMW_STATE_DIR=str(state), AUDMW_ISSUER=issuer, AUDMW_AUDIENCE=AUDIENCE)
    token = _audmw(
        "mint",
        "--exp=-2h",
        "--claim",
        "tenant=acme",
        "--claim",
        "level=3",
        "--claim",
        'roles=["a","b"]',
        "--claim",
        "client_id=null",
        env=env,
    ).stdout.strip()
    inspected = json.loads(_audmw("inspect", "--json", stdin=token, env=env).stdout)
    claims = inspected["claims"]
    assert claims["iss"] == issuer
    assert claims["aud"] == AUDIENCE
    assert (claims["tenant"], claims["level"], claims["roles"]) == ("acme", 3, ["a", "b"])
    assert "client_id" not in claims
    assert claims["exp"] - claims["iat"] == -7200
    assert inspected["times"]["exp"]["relative"].startswith("expired 2 h")

    checked = _audmw("check", "--json", stdin=token, env=env)
    assert checked.returncode == 1
    assert json.loads(checked.stdout)["reason"] == "expired"


def test_mint_uses_keys_the_running_issuer_publishes(served: tuple[str, Path]) -> None:
    issuer, state = served
    local = LocalIssuer.from_state_dir(state)
    assert local.issuer == issuer == read_state(state)["issuer"]  # type: ignore[index]
    for alg in ("ES256", "EdDSA", "PS384"):
        token = _audmw("mint", "--state-dir", str(state), "--alg", alg).stdout.strip()
        checked = _audmw("check", "--issuer", issuer, "--audience", AUDIENCE, stdin=token)
        assert checked.returncode == 0, alg + checked.stdout


def test_private_keys_are_files_only_the_owner_reads(tmp_path: Path, run_cli: Run) -> None:
    state = tmp_path / "state"
    result = run_cli(["mint", "--state-dir", str(state)])
    assert result.code == 0
    assert "no issuer has served" in result.err
    assert "http://127.0.0.1:9400" in result.err
    keys = sorted((state / "keys").glob("*.pem"))
    assert len(keys) == 5
    for path in keys:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((state / "keys").stat().st_mode) == 0o700
    # A second mint reuses the same keys.
    run_cli(["mint", "--state-dir", str(state)])
    assert sorted((state / "keys").glob("*.pem")) == keys
    assert {key.kid for key in load_keys(state)} == {path.stem for path in keys}


def test_default_state_directory_is_under_the_current_directory(tmp_path: Path) -> None:
    minted = _audmw("mint", cwd=tmp_path)
    assert minted.returncode == 0, minted.stderr
    assert len(list((tmp_path / ".audmw" / "issuer" / "keys").glob("*.pem"))) == 5


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--exp", "soon"], "is not a duration"),
        (["--claim", "novalue"], "must look like NAME=VALUE"),
        (["--header", "alg=none"], "choose the algorithm with --alg"),
    ],
)
def test_mint_usage_errors(argv: list[str], message: str, tmp_path: Path, run_cli: Run) -> None:
    result = run_cli(["mint", "--state-dir", str(tmp_path), *argv])
    assert result.code == 2
    assert message in result.err
    assert result.out == ""


def test_serve_issuer_reports_a_busy_port(tmp_path: Path, run_cli: Run) -> None:
    with LocalIssuer(keys=[]) as busy:
        result = run_cli(["serve-issuer", "--port", str(busy.port), "--state-dir", str(tmp_path)])
    assert result.code == 2
    assert f"cannot listen on 127.0.0.1:{busy.port}" in result.err
