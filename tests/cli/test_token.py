"""``audmw token`` against ``audmw serve-issuer`` (a real process) and the local issuer:
client credentials with a secret from the environment or stdin, or a private key; printing,
``--json`` and ``--check`` with ``audmw check``'s report."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from audmw.testing import LocalIssuer, generate_key
from tests.cli.conftest import Run
from tests.cli.test_dev_issuer import _audmw, _environ

API = "https://api.example.com"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """``audmw serve-issuer`` with a client key: its issuer URL, the secret, the key file."""
    key = generate_key("ec-p256", "cli-key")
    key_file = tmp_path / "client.pem"
    key_file.write_bytes(
        key.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    state = tmp_path / "state"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "audmw",
            "serve-issuer",
            "--port",
            "0",
            "--state-dir",
            str(state),
            "--client-key",
            str(key_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environ(),
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(5)]
        assert lines[0].startswith("audmw development issuer: "), lines
        issuer = lines[0].split(": ", 1)[1].strip()
        client_line = next(line for line in lines if line.strip().startswith("client"))
        secret = client_line.split("secret ", 1)[1].split(" ", 1)[0]
        assert (state / "client-secret").read_text().strip() == secret
        yield issuer, secret, key_file
    finally:
        process.terminate()
        process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_token_by_secret_from_the_environment_then_checked(
    served: tuple[str, str, Path],
) -> None:
    issuer, secret, _ = served
    base = ["token", "--issuer", issuer, "--client-id", "dev-client", "--audience", API]
    printed = _audmw(*base, "--scope", "read:messages", env=_environ(AUDMW_CLIENT_SECRET=secret))
    assert printed.returncode == 0, printed.stderr
    claims = jwt.decode(printed.stdout.strip(), options={"verify_signature": False})
    assert (claims["aud"], claims["client_id"], claims["scope"]) == (
        API,
        "dev-client",
        "read:messages",
    )
    checked = _audmw(*base, "--check", env=_environ(AUDMW_CLIENT_SECRET=secret))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Accepted: sub dev-client, client dev-client" in checked.stdout
    wrong = _audmw(
        *base,
        "--check",
        "--api-audience",
        "https://other.example",
        env=_environ(AUDMW_CLIENT_SECRET=secret),
    )
    assert wrong.returncode == 1
    assert "reason aud_mismatch" in wrong.stdout
    assert secret not in printed.stderr + checked.stdout + wrong.stdout


def test_token_by_private_key_and_secret_from_stdin(served: tuple[str, str, Path]) -> None:
    issuer, secret, key_file = served
    keyed = _audmw(
        "token",
        "--issuer",
        issuer,
        "--client-id",
        "dev-client",
        "--resource",
        API,
        "--private-key",
        str(key_file),
        "--json",
    )
    assert keyed.returncode == 0, keyed.stderr
    answer = json.loads(keyed.stdout)
    assert answer["token_type"] == "Bearer"
    assert answer["expires_in"] == 300
    piped = _audmw("token", "--issuer", issuer, "--client-id", "dev-client", stdin=secret + "\n")
    assert piped.returncode == 0, piped.stderr


def test_token_errors_say_what_to_fix(run_cli: Run) -> None:
    with LocalIssuer() as issuer:
        issuer.register_client("svc", secret="right-secret", audiences={API})
        base = ["token", "--issuer", issuer.issuer, "--client-id", "svc"]
        wrong = run_cli(base, env={"AUDMW_CLIENT_SECRET": "wrong-secret"})
        assert wrong.code == 1
        assert "invalid_client" in wrong.err
        assert "fix:" in wrong.err
        assert "wrong-secret" not in wrong.err + wrong.out
        target = run_cli(
            [*base, "--resource", "https://other.example"],
            env={"AUDMW_CLIENT_SECRET": "right-secret"},
        )
        assert target.code == 1
        assert "invalid_target" in target.err
    none = run_cli(["token", "--token-url", "http://127.0.0.1:9/token", "--client-id", "svc"])
    assert none.code == 2
    assert "AUDMW_CLIENT_SECRET" in none.err
    down = run_cli(
        ["token", "--token-url", "http://127.0.0.1:9/token", "--client-id", "svc"],
        env={"AUDMW_CLIENT_SECRET": "s"},
    )
    assert down.code == 2
    assert "no token from" in down.err
