"""``audmw check`` against the real LocalIssuer: one case per refusal reason of the validator.

Each case asserts the exit status, which check failed with which reason code and fix, that
the checks before it passed and those after it were not reached, and that the token itself
never appears in the output.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import audmw
from audmw.cli.check_token import CHECKS, HOLDER_REASONS, KNOWN_REASONS
from audmw.testing import LocalIssuer, generate_key
from tests.cli.conftest import Run

AUDIENCE = "https://api.example.com"
SECRET = "s" * 32


def _args(issuer: LocalIssuer, *extra: str) -> list[str]:
    return ["check", "--issuer", issuer.issuer, "--audience", AUDIENCE, *extra]


Mint = Callable[[LocalIssuer], str]

# reason: (token, extra arguments, failing check id, words the fix contains)
CASES: dict[str, tuple[Mint, tuple[str, ...], str, str]] = {
    "not_a_jwt": (lambda i: "opaqueTokenValue123", (), "format", "opaque"),
    "malformed_jwt": (
        lambda i: "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln",
        (),
        "format",
        "not base64url JSON",
    ),
    "token_too_large": (lambda i: i.mint(padding="x" * 20_000), (), "format", "limit"),
    "alg_not_allowed": (lambda i: i.mint(), ("--algorithms", "ES256"), "algorithm", "RS256"),
    "crit_unsupported": (
        lambda i: i.mint(headers={"crit": ["exp"]}),
        (),
        "header",
        "none are supported",
    ),
    "typ_not_allowed": (lambda i: i.mint(typ="dpop+jwt"), (), "header", "another kind of JWT"),
    "nested_jwt": (lambda i: i.mint(headers={"cty": "JWT"}), (), "header", "nested JWT"),
    "iss_mismatch": (lambda i: i.mint(iss=i.issuer + "/"), (), "issuer", "trailing slash"),
    "bad_kid": (lambda i: i.mint(kid="k" * 300), (), "kid", "short string"),
    "unknown_kid": (lambda i: i.mint(kid="retired-key"), (), "kid", "may have rotated"),
    "key_alg_mismatch": (
        lambda i: i.mint(alg="ES256", kid=i.key_for("RS256").kid),
        (),
        "kid",
        "not published for ES256",
    ),
    "bad_signature": (
        lambda i: i.mint(key=generate_key("rsa"), kid=i.key_for("RS256").kid),
        (),
        "signature",
        "signed by another issuer or key",
    ),
    "exp_missing": (lambda i: i.mint(exp=None), (), "times", "no exp"),
    "expired": (lambda i: i.mint(expires_in=-3600), (), "times", "expired"),
    "not_yet_valid": (
        lambda i: i.mint(nbf=int(time.time()) + 3600),
        (),
        "times",
        "in the future",
    ),
    "iat_in_future": (
        lambda i: i.mint(iat=int(time.time()) + 3600),
        (),
        "times",
        "check clocks",
    ),
    "bad_exp": (lambda i: i.mint(exp="tomorrow"), (), "times", "not a JSON number"),
    "bad_nbf": (lambda i: i.mint(nbf=True), (), "times", "not a JSON number"),
    "id_token": (lambda i: i.mint(typ="JWT", nonce="n-0S6"), (), "kind", "ID token"),
    "aud_missing": (lambda i: i.mint(aud=None), (), "audience", "no aud"),
    "aud_invalid": (lambda i: i.mint(aud=[1, 2]), (), "audience", "not a string"),
    "aud_mismatch": (
        lambda i: i.mint(aud="https://other.example.com"),
        (),
        "audience",
        "expected 'https://api.example.com'",
    ),
    "insufficient_scope": (
        lambda i: i.mint(scopes="read:messages"),
        ("--scope", "read:messages admin"),
        "scopes",
        "missing admin",
    ),
    "user_token_required": (
        lambda i: i.mint(sub=None, client_id="svc"),
        ("--token-kind", "user"),
        "token_kind",
        "the token is for the client itself",
    ),
    "app_token_required": (
        lambda i: i.mint(),
        ("--token-kind", "app"),
        "token_kind",
        "the token is for a user",
    ),
    "acr_not_accepted": (
        lambda i: i.mint(acr="1"),
        ("--acr", "phr phrh"),
        "authentication",
        "acr '1' is not one of phr phrh; the client must ask the authorization server for a "
        "new token with acr_values=phr phrh",
    ),
    "auth_time_missing": (
        lambda i: i.mint(),
        ("--max-age", "300"),
        "authentication",
        "no auth_time",
    ),
    "auth_time_in_future": (
        lambda i: i.mint(auth_time=int(time.time()) + 3600),
        ("--max-age", "300"),
        "authentication",
        "in the future",
    ),
    "authentication_too_old": (
        lambda i: i.mint(auth_time=int(time.time()) - 3600),
        ("--max-age", "300"),
        "authentication",
        "more than max_age 300 s; the client must ask the authorization server for a new "
        "token with max_age=300",
    ),
    "insufficient_authorization_details": (
        lambda i: i.mint(authorization_details=[{"type": "account_information"}]),
        ("--authorization-details", "payment_initiation"),
        "authorization_details",
        "needs an authorization_details entry payment_initiation; token has types "
        "account_information",
    ),
}
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def _tenant_issuer(issuer: LocalIssuer) -> str:
    return issuer.issuer + "/{tenantid}/v2.0"


def _bound_key_token(issuer: LocalIssuer) -> str:
    key = generate_key("rsa", kid="bound-elsewhere")
    issuer.extra_jwks = [{**key.public_jwk(), "issuer": "https://elsewhere.example/"}]
    return issuer.mint(key=key)


CASES.update(
    {
        "tid_invalid": (
            lambda i: i.mint(iss=i.issuer + "/not-a-guid/v2.0", tid="not-a-guid"),
            (),
            "issuer",
            "not a GUID",
        ),
        "tenant_not_allowed": (
            lambda i: i.mint(iss=f"{i.issuer}/{TENANT}/v2.0", tid=TENANT),
            (),
            "issuer",
            "allowed_tenants",
        ),
        "key_issuer_mismatch": (_bound_key_token, (), "signature", "published for issuer"),
        "claim_missing": (lambda i: i.mint(), (), "claims", "token_use"),
        "claim_mismatch": (lambda i: i.mint(token_use="refresh"), (), "claims", "token_use"),
    }
)
# Settings some reasons need beyond --issuer/--audience: extra arguments and environment.
SETUP: dict[str, Callable[[LocalIssuer], tuple[tuple[str, ...], dict[str, str]]]] = {
    "tid_invalid": lambda i: (
        ("--issuer", _tenant_issuer(i), "--jwks-uri", i.jwks_uri),
        {},
    ),
    "tenant_not_allowed": lambda i: (
        ("--issuer", _tenant_issuer(i), "--jwks-uri", i.jwks_uri),
        {"AUDMW_ALLOWED_TENANTS": "00000000-0000-0000-0000-000000000001"},
    ),
    "claim_missing": lambda i: ((), {"AUDMW_REQUIRED_CLAIMS": "token_use=access"}),
    "claim_mismatch": lambda i: ((), {"AUDMW_REQUIRED_CLAIMS": "token_use=access"}),
}
# Where the check's fetched key set says more than the validator's hint.
FIXED_BY_THE_CHECK = {"unknown_kid", "bad_signature"}
ORDER = [check.id for check in CHECKS]
LABELS = {check.id: check.label for check in CHECKS}


@pytest.mark.parametrize("reason", sorted(CASES))
def test_each_refusal_names_its_check_reason_and_fix(
    reason: str, issuer: LocalIssuer, run_cli: Run
) -> None:
    mint, extra, failing, fix = CASES[reason]
    token = mint(issuer)
    env: dict[str, str] = {}
    if reason in SETUP:
        more, env = SETUP[reason](issuer)
        extra = (*extra, *more)

    document = json.loads(run_cli([*_args(issuer, *extra), "--json"], stdin=token, env=env).out)
    assert document["verdict"] == "rejected"
    assert document["exit_code"] == 1
    assert document["reason"] == reason
    assert document["fix"], "every refusal comes with a fix"
    assert fix in document["fix"]
    if reason not in FIXED_BY_THE_CHECK:
        assert document["fix"] == document["hint"]
    statuses = {check["id"]: check["status"] for check in document["checks"]}
    assert statuses[failing] == "fail"
    position = ORDER.index(failing)
    for earlier in ORDER[:position]:
        if reason == "bad_kid" and earlier == "keys":
            assert statuses[earlier] == "not_reached"  # the kid is checked before any fetch
        else:
            assert statuses[earlier] == "pass", earlier
    for later in ORDER[position + 1 :]:
        assert statuses[later] == "not_reached", later

    text = run_cli(_args(issuer, *extra), stdin=token, env=env)
    assert text.code == 1
    assert re.search(rf"FAIL\s+{re.escape(LABELS[failing])}\s+reason {reason}\n", text.out)
    fix_lines = [line for line in text.out.splitlines() if line.strip().startswith("fix: ")]
    assert len(fix_lines) == 1
    assert fix in fix_lines[0]
    assert "Rejected (" in text.out
    assert token not in text.out + text.err


def test_every_refusal_reason_of_the_core_has_a_place(issuer: LocalIssuer) -> None:
    """A reason added to the validator must be placed among the checks (or this fails)."""
    package = Path(audmw.__file__).parent
    source = "".join((package / name).read_text() for name in ("validator.py", "jws.py"))
    reasons = set(re.findall(r'InvalidToken\(\s*"([a-z_]+)"', source))
    reasons |= {f"bad_{name}" for name in ("exp", "nbf", "iat")}
    reasons |= {"keys_unavailable", "insufficient_scope"}
    requirements = (package / "requirements.py").read_text()
    reasons |= set(re.findall(r'\(\s*"([a-z]+_[a-z_]+)",\s*(?:f?"|problem)', requirements))
    reasons |= {f"{kind}_token_required" for kind in ("user", "app")}
    reasons |= {"insufficient_authorization_details"}
    assert reasons <= KNOWN_REASONS, reasons - KNOWN_REASONS
    # The holder's reasons (DPoP, certificates) have their own cases: test_check_holder.py.
    assert set(CASES) | {"keys_unavailable", "bad_iat"} == KNOWN_REASONS - HOLDER_REASONS


def test_accepted_token_passes_every_check(issuer: LocalIssuer, run_cli: Run) -> None:
    token = issuer.mint(scopes="read:messages admin")
    result = run_cli(_args(issuer, "--scope", "read:messages"), stdin=token)
    assert result.code == 0, result.out
    for check in CHECKS:
        assert re.search(rf"pass\s+{re.escape(check.label)}\s", result.out), check.label
    assert "Accepted: sub user-123, client test-client, scopes admin read:messages" in result.out
    assert "Claims (verified)" in result.out
    assert token not in result.out

    document = json.loads(run_cli([*_args(issuer), "--json"], stdin=token).out)
    assert set(document) == {
        "verdict",
        "exit_code",
        "settings",
        "checks",
        "reason",
        "status",
        "error",
        "description",
        "hint",
        "fix",
        "retry_after",
        "fetch_problems",
        "token",
        "access_token",
        "provider",
    }
    assert [check["id"] for check in document["checks"]] == ORDER
    assert all(set(check) == {"id", "label", "status", "detail"} for check in document["checks"])
    assert set(document["token"]) == {"fingerprint", "format", "header", "claims", "verified"}
    assert document["settings"]["issuer"] == [issuer.issuer]
    assert document["verdict"] == "accepted"
    assert document["exit_code"] == 0
    assert {check["status"] for check in document["checks"]} == {"pass"}
    assert document["access_token"]["scopes"] == ["admin", "read:messages"]
    assert document["token"]["verified"] is True
    keys = next(c for c in document["checks"] if c["id"] == "keys")
    assert keys["detail"].endswith(f"from {issuer.jwks_uri}")


def test_any_scope_groups(issuer: LocalIssuer, run_cli: Run) -> None:
    token = issuer.mint(scopes="write:messages")
    accepted = run_cli(_args(issuer, "--any-scope", "read:messages write:messages"), stdin=token)
    assert accepted.code == 0
    refused = run_cli(_args(issuer, "--any-scope", "admin", "--any-scope", "root"), stdin=token)
    assert refused.code == 1
    assert "needs one of admin, root" in refused.out


def test_settings_come_from_the_environment(issuer: LocalIssuer, run_cli: Run) -> None:
    env = {
        "AUDMW_ISSUER": issuer.issuer,
        "AUDMW_AUDIENCE": AUDIENCE,
        "AUDMW_REQUIRE_AT_JWT": "true",
        "AUDMW_STATE_DIR": "/somewhere",  # the command line's own variable is not a setting
    }
    assert run_cli(["check"], stdin=issuer.mint(), env=env).code == 0
    strict = run_cli(["check", "--json"], stdin=issuer.mint(typ="JWT"), env=env)
    assert strict.code == 1
    assert json.loads(strict.out)["reason"] == "typ_not_allowed"
    # Command-line options win over the environment.
    other = run_cli(["check", "--audience", "https://other"], stdin=issuer.mint(), env=env)
    assert other.code == 1


def test_shared_secret_tokens_skip_the_key_checks(issuer: LocalIssuer, run_cli: Run) -> None:
    env = {
        "AUDMW_ISSUER": issuer.issuer,
        "AUDMW_AUDIENCE": AUDIENCE,
        "AUDMW_ALGORITHMS": "HS256",
        "AUDMW_HMAC_SECRET": SECRET,
    }
    document = json.loads(
        run_cli(["check", "--json"], stdin=issuer.mint(alg="HS256", key=SECRET), env=env).out
    )
    assert document["verdict"] == "accepted"
    statuses = {check["id"]: check["status"] for check in document["checks"]}
    assert statuses["keys"] == statuses["kid"] == "skip"
    forged = issuer.mint(alg="HS256", key="x" * 32)
    assert run_cli(["check"], stdin=forged, env=env).code == 1


@pytest.mark.parametrize("mode", ["error", "garbage"])
def test_unavailable_keys_exit_2_with_the_fetch_problem(mode: str, run_cli: Run) -> None:
    with LocalIssuer(keys=[generate_key("rsa")]) as failing:
        failing.set_mode(mode)  # type: ignore[arg-type]
        token = failing.mint()
        text = run_cli(_args(failing), stdin=token)
        document = json.loads(run_cli([*_args(failing), "--json"], stdin=token).out)
    assert text.code == 2
    assert "Could not check (503, retry after" in text.out
    assert re.search(r"FAIL\s+keys fetched\s+reason keys_unavailable", text.out)
    assert "could not be fetched" in text.out
    assert text.err == ""  # the refusal is not also logged to stderr
    assert document["verdict"] == "not_checked"
    assert document["exit_code"] == 2
    assert document["reason"] == "keys_unavailable"
    assert document["retry_after"] >= 1
    assert document["fetch_problems"]


def test_issuer_down_exits_2(run_cli: Run) -> None:
    stopped = LocalIssuer(keys=[generate_key("rsa")]).start()
    token = stopped.mint()
    stopped.stop()
    result = run_cli(_args(stopped), stdin=token)
    assert result.code == 2
    assert "Connection refused" in result.out or "could not be fetched" in result.out


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["check", "--issuer", "https://as.example.com"], {}, "no audience configured"),
        (["check", "--audience", AUDIENCE], {}, "no issuer configured"),
        (
            ["check", "--issuer", "http://as.example.com", "--audience", AUDIENCE],
            {},
            "uses http://",
        ),
        (
            ["check", "--issuer", "https://as.example.com", "--audience", AUDIENCE],
            {"AUDMW_AUDEINCE": "typo"},
            "unknown setting",
        ),
        (
            ["check", "--issuer", "https://as.example.com", "--audience", AUDIENCE],
            {},
            "",
        ),
    ],
)
def test_configuration_errors_exit_2(
    argv: list[str], env: dict[str, str], message: str, run_cli: Run
) -> None:
    if not message:
        argv = [*argv, "--scope", 'bad"scope']
        message = "not a valid scope"
    result = run_cli(argv, stdin="opaqueTokenValue123", env=env)
    assert result.code == 2
    assert message in result.err
    document = json.loads(run_cli([*argv, "--json"], stdin="opaqueTokenValue123", env=env).out)
    assert document == {"verdict": "error", "exit_code": 2, "message": document["message"]}
    assert message in document["message"]


def test_token_is_printed_only_with_show_token(issuer: LocalIssuer, run_cli: Run) -> None:
    token = issuer.mint(aud="https://other.example.com")
    assert token not in run_cli(_args(issuer), stdin=token).out
    assert token in run_cli([*_args(issuer), "--show-token"], stdin=token).out
    shown: dict[str, Any] = json.loads(
        run_cli([*_args(issuer), "--json", "--show-token"], stdin=token).out
    )
    assert shown["token"]["token"] == token


def test_colour_follows_the_terminal_and_no_color(issuer: LocalIssuer, run_cli: Run) -> None:
    token = issuer.mint()
    assert "\x1b[32mpass" in run_cli(_args(issuer), stdin=token, tty=True).out
    assert "\x1b[" not in run_cli(_args(issuer), stdin=token).out
    assert "\x1b[" not in run_cli(_args(issuer), stdin=token, tty=True, env={"NO_COLOR": "1"}).out


def test_resource_stands_for_the_audience_and_names_the_fix(
    run_cli: Run, issuer: LocalIssuer
) -> None:
    resource = "https://api.example.com/mcp"
    argv = ["check", "--issuer", issuer.issuer, "--resource", resource]
    assert run_cli(argv, stdin=issuer.mint(aud=resource)).code == 0
    refused = run_cli(argv, stdin=issuer.mint(aud="https://reports.example.com"))
    assert refused.code != 0
    assert "https://reports.example.com" in refused.out
    assert f"resource={resource}" in refused.out
    from_env = run_cli(
        ["check", "--issuer", issuer.issuer],
        stdin=issuer.mint(aud=resource),
        env={"AUDMW_RESOURCE": resource},
    )
    assert from_env.code == 0, from_env.out
