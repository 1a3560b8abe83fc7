"""The example apps under their real servers honour ``AUDMW_PREFETCH_KEYS``: the issuer has
served discovery and keys once the app answers, before any request carried a token."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from audmw.testing import LocalIssuer
from contract.servers import ROOT, free_port

AUDIENCE = "https://api.example.com"
APPS = ["starlette_app", "fastapi_app", "django_app", "flask_app"]


@pytest.fixture
def own_issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer() as local:
        yield local


@pytest.mark.parametrize("prefetch", [True, False], ids=["on", "off"])
@pytest.mark.parametrize("app", APPS)
def test_the_example_app_fetches_the_keys_at_start_up(
    own_issuer: LocalIssuer, app: str, prefetch: bool
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUDMW_", "DJANGO_"))}
    env.update(AUDMW_ISSUER=own_issuer.issuer, AUDMW_AUDIENCE=AUDIENCE)
    if prefetch:
        env["AUDMW_PREFETCH_KEYS"] = "true"
    process = subprocess.Popen(
        [sys.executable, "-m", f"example_apps.{app}", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()[1]
            try:
                assert httpx.get(f"{url}/public", timeout=2).status_code == 200
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the example app did not start"
                time.sleep(0.1)
        expected = 1 if prefetch else 0
        assert (own_issuer.discovery_requests, own_issuer.jwks_requests) == (expected, expected)
        token = own_issuer.mint(aud=AUDIENCE)
        me = httpx.get(f"{url}/api/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert me.status_code == 200
        assert me.json()["sub"] == "user-123"
        assert (own_issuer.discovery_requests, own_issuer.jwks_requests) == (1, 1)
    finally:
        process.terminate()
        process.communicate(timeout=30)
