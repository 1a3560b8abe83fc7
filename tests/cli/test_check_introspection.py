"""``audmw check`` with introspection on: an opaque token is looked up at the local issuer's
introspection endpoint and each check is shown; the token never appears in the output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from audmw.testing import LocalIssuer, generate_key
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


def _pem_file(tmp_path: Path, key: Any) -> str:
    path = tmp_path / "api-key.pem"
    path.write_bytes(
        key.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(path)


def test_the_options_alone_configure_introspection(issuer: LocalIssuer, run_cli: Run) -> None:
    # No AUDMW_* variable: an operator checks a token against the endpoint by hand.
    issuer.register_client(CLIENT, secret=SECRET)
    token = issuer.mint_opaque(aud=AUDIENCE, scopes="read")
    argv = [
        "check",
        "--issuer",
        issuer.issuer,
        "--audience",
        AUDIENCE,
        "--introspection",
        "opaque",
        "--introspection-endpoint",
        issuer.introspection_url,
        "--introspection-client-id",
        CLIENT,
        "--introspection-client-secret",
        SECRET,
        "--introspection-client-auth",
        "client_secret_post",
        "--json",
    ]
    before = issuer.discovery_requests
    result = run_cli(argv, stdin=token, env={})
    document = json.loads(result.out)
    assert (result.code, document["verdict"]) == (0, "accepted")
    assert document["introspection_endpoint"] == issuer.introspection_url
    assert issuer.token_endpoint.introspection_clients[-1] == (CLIENT, "client_secret_post")
    assert issuer.discovery_requests == before  # the endpoint as given, not discovered
    assert _statuses(document)["introspection"] == "pass"
    assert SECRET not in result.out
    assert token not in result.out


def test_private_key_jwt_from_a_key_file(issuer: LocalIssuer, run_cli: Run, tmp_path: Path) -> None:
    key = generate_key("ec-p256")
    issuer.register_client("the-api-with-a-key", keys=[key])
    token = issuer.mint_opaque(aud=AUDIENCE)
    argv = ["check", "--issuer", issuer.issuer, "--audience", AUDIENCE, "--json"]
    argv += ["--introspection", "opaque", "--introspection-client-id", "the-api-with-a-key"]
    argv += ["--introspection-client-auth", "private_key_jwt"]
    argv += ["--introspection-client-key", _pem_file(tmp_path, key)]
    result = run_cli(argv, stdin=token, env={})
    assert json.loads(result.out)["verdict"] == "accepted"
    assert issuer.token_endpoint.introspection_clients[-1] == (
        "the-api-with-a-key",
        "private_key_jwt",
    )
    assert "PRIVATE KEY" not in result.out


def test_an_opaque_token_of_no_introspected_issuer_is_sent_nowhere(
    issuer: LocalIssuer, run_cli: Run
) -> None:
    issuer.register_client(CLIENT, secret=SECRET)
    other = "https://other-issuer.example/"
    per_issuer = {
        issuer.issuer: {"token_prefix": "ours_", "client_id": CLIENT, "client_secret": SECRET},
        other: {"token_prefix": "theirs_", "client_id": CLIENT, "client_secret": SECRET},
    }
    env = {"AUDMW_INTROSPECTION_ISSUERS": json.dumps(per_issuer)}
    argv = ["check", "--issuer", f"{issuer.issuer},{other}", "--audience", AUDIENCE]
    argv += ["--introspection", "opaque", "--json"]
    before = issuer.token_endpoint.introspection_requests
    result = run_cli(argv, stdin="someone-elses-" + "x" * 30, env=env)
    document = json.loads(result.out)
    assert (document["verdict"], document["reason"]) == ("rejected", "opaque_issuer_unknown")
    assert _statuses(document)["introspection"] == "fail"
    assert "token_prefix" in document["fix"]
    assert issuer.token_endpoint.introspection_requests == before
    assert SECRET not in result.out


def test_an_ambiguous_configuration_is_a_configuration_error(
    issuer: LocalIssuer, run_cli: Run
) -> None:
    argv = ["check", "--issuer", f"{issuer.issuer},https://other-issuer.example/"]
    argv += ["--audience", AUDIENCE, "--introspection", "opaque", "--json"]
    argv += ["--introspection-client-id", CLIENT, "--introspection-client-secret", SECRET]
    result = run_cli(argv, stdin="an-opaque-token", env={})
    assert result.code == 2
    assert "introspection_issuers" in result.out + result.err
