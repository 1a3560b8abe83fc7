"""``audmw check`` with introspection on: an opaque token is looked up at the local issuer's
introspection endpoint and each check is shown; the token never appears in the output."""

from __future__ import annotations

import json
from typing import Any

from audmw.testing import LocalIssuer
from tests.cli.conftest import Run

AUDIENCE = "https://api.example.com"
CLIENT, SECRET = "the-api", "introspection-secret-of-the-api"


def _env(issuer: LocalIssuer, **extra: str) -> dict[str, str]:
    issuer.register_client(CLIENT, secret=SECRET)
    return {
        "AUDMW_INTROSPECTION": "opaque",
        "AUDMW_INTROSPECTION_CLIENT_ID": CLIENT,
        "AUDMW_INTROSPECTION_CLIENT_SECRET": SECRET,
        **extra,
    }


def _check(issuer: LocalIssuer, run_cli: Run, token: str, **extra: str) -> dict[str, Any]:
    argv = ["check", "--issuer", issuer.issuer, "--audience", AUDIENCE, "--json"]
    result = run_cli(argv, stdin=token, env=_env(issuer, **extra))
    assert token not in result.out
    assert token not in result.err
    document: dict[str, Any] = json.loads(result.out)
    assert document["exit_code"] == result.code
    return document


def _statuses(document: dict[str, Any]) -> dict[str, str]:
    return {check["id"]: check["status"] for check in document["checks"]}


def test_an_active_opaque_token_passes_each_check(issuer: LocalIssuer, run_cli: Run) -> None:
    document = _check(issuer, run_cli, issuer.mint_opaque(aud=AUDIENCE, scopes="read"))
    assert document["verdict"] == "accepted"
    assert document["introspection_endpoint"] == issuer.introspection_url
    assert document["access_token"]["scopes"] == ["read"]
    statuses = _statuses(document)
    assert statuses["introspection"] == statuses["active"] == statuses["audience"] == "pass"
    assert "signature" not in statuses


def test_an_inactive_token_fails_the_active_check(issuer: LocalIssuer, run_cli: Run) -> None:
    token = issuer.mint_opaque(aud=AUDIENCE)
    issuer.revoke(token)
    document = _check(issuer, run_cli, token)
    assert document["verdict"] == "rejected"
    assert document["reason"] == "token_inactive"
    assert _statuses(document)["active"] == "fail"
    assert _statuses(document)["audience"] == "not_reached"


def test_a_wrong_audience_at_introspection(issuer: LocalIssuer, run_cli: Run) -> None:
    document = _check(issuer, run_cli, issuer.mint_opaque(aud="https://other.example.com"))
    assert document["reason"] == "aud_mismatch"
    assert _statuses(document)["audience"] == "fail"
    assert "other.example.com" in document["fix"]


def test_refused_credentials_say_what_to_check(issuer: LocalIssuer, run_cli: Run) -> None:
    token = issuer.mint_opaque(aud=AUDIENCE)
    document = _check(issuer, run_cli, token, AUDMW_INTROSPECTION_CLIENT_SECRET="not-the-secret")
    assert document["verdict"] == "not_checked"
    assert document["reason"] == "introspection_client_refused"
    assert _statuses(document)["introspection"] == "fail"
    assert "introspection_client_secret" in document["fix"]


def test_the_text_report_shows_the_checks(issuer: LocalIssuer, run_cli: Run) -> None:
    token = issuer.mint_opaque(aud=AUDIENCE)
    argv = ["check", "--issuer", issuer.issuer, "--audience", AUDIENCE]
    result = run_cli(argv, stdin=token, env=_env(issuer))
    assert result.code == 0
    assert "introspection" in result.out
    assert "Accepted" in result.out
    assert token not in result.out
