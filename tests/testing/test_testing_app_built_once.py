"""An app built at import, tested by several tests: every test must trust the same issuer.

A new issuer per test (``audmw_issuer``) gives each test another URL and other keys while the
app keeps the first settings it read, so its later tests fail with an issuer mismatch; the
session's issuer passes them all.
"""

from __future__ import annotations

from string import Template

import pytest
from user_projects import FASTAPI_APP, run

# The user's conftest.py and tests, written before audmw had settings helpers.
CONFTEST = Template("""\
import pytest


@pytest.fixture(autouse=True)
def audmw_environment(monkeypatch, $issuer):
    monkeypatch.setenv("AUDMW_ISSUER", $issuer.issuer)
    monkeypatch.setenv("AUDMW_AUDIENCE", "https://api.example.com")
""")

TESTS = Template("""\
from fastapi.testclient import TestClient

from main import app

client = TestClient(app)


def test_me($issuer):
    assert client.get("/api/me", headers=bearer($issuer, sub="alice")).json() == {"sub": "alice"}


def test_messages($issuer):
    headers = bearer($issuer, scopes=["read:messages"])
    assert client.get("/api/messages", headers=headers).status_code == 200


def test_messages_need_the_scope($issuer):
    assert client.get("/api/messages", headers=bearer($issuer)).status_code == 403


def test_health_needs_no_token():
    assert client.get("/health").status_code == 200


def test_no_token():
    assert client.get("/api/me").status_code == 401


def test_another_audience($issuer):
    headers = bearer($issuer, aud="https://other.example")
    assert client.get("/api/me", headers=headers).status_code == 401


def test_expired($issuer):
    assert client.get("/api/me", headers=bearer($issuer, expires_in=-300)).status_code == 401


def test_me_again($issuer):
    assert client.get("/api/me", headers=bearer($issuer, sub="bob")).json() == {"sub": "bob"}


def test_messages_again($issuer):
    headers = bearer($issuer, scopes=["read:messages"], sub="carol")
    assert client.get("/api/messages", headers=headers).json()["reader"] == "carol"


def bearer(issuer, **claims):
    return {"Authorization": "Bearer " + issuer.mint(**claims)}
""")


def project(issuer_fixture: str) -> dict[str, str]:
    return {
        "conftest.py": CONFTEST.substitute(issuer=issuer_fixture),
        "test_api.py": TESTS.substitute(issuer=issuer_fixture),
        "main.py": FASTAPI_APP,
    }


def test_the_session_issuer_passes_what_a_new_issuer_per_test_fails(
    user_pytester: pytest.Pytester,
) -> None:
    # The failure as users met it: 4 of 9 tests, each refused with "iss ... expected ...".
    per_test = run(user_pytester, project("audmw_issuer"), "--log-level=INFO")
    per_test.assert_outcomes(passed=5, failed=4)
    per_test.stdout.fnmatch_lines(["*reason=iss_mismatch*"])

    once = run(user_pytester, project("audmw_session_issuer"))
    once.assert_outcomes(passed=9)
