"""``python -m example_apps.caller``: the calling service gets a token for the example API
from the issuer and is let in; asked for another API, it is refused."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from audmw.demo import serve_app
from audmw.testing import LocalIssuer

from .conftest import API, SECRET

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def api_and_issuer() -> Iterator[tuple[str, LocalIssuer]]:
    with LocalIssuer() as issuer:
        issuer.register_client("caller", secret=SECRET)
        env = {"AUDMW_ISSUER": issuer.issuer, "AUDMW_AUDIENCE": API}
        with serve_app("starlette", env) as (url, _):
            yield url, issuer


def run_caller(url: str, issuer: LocalIssuer, *target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "example_apps.caller",
            "--api",
            url,
            "--issuer",
            issuer.issuer,
            "--client-id",
            "caller",
            *target,
        ],
        cwd=ROOT,
        env={**os.environ, "AUDMW_CLIENT_SECRET": SECRET},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_caller_gets_in_with_a_token_for_the_api(
    api_and_issuer: tuple[str, LocalIssuer],
) -> None:
    url, issuer = api_and_issuer
    accepted = run_caller(url, issuer, "--audience", API)
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.startswith("200 ")
    refused = run_caller(url, issuer, "--resource", "https://reports.example.com")
    assert refused.returncode == 1
    assert refused.stdout.startswith("401 ")
    assert SECRET not in accepted.stdout + accepted.stderr + refused.stdout + refused.stderr
