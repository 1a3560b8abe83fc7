"""What ``audmw check`` says when it cannot check, and its fixes for signature and key refusals.

Settings problems are one line with one prefix, naming the command line's own option and
variable; the fixes for ``unknown_kid`` and ``bad_signature`` describe the key set this check
fetched (where, when, which kids), which the validator's own log hint cannot know.
"""

from __future__ import annotations

import json
import time

import pytest

from audmw.diagnostics import GRAPH_HINT
from audmw.inspection import iso_time
from audmw.testing import LocalIssuer, generate_key
from tests.cli.conftest import Result, Run

AUDIENCE = "https://api.example.com"
TOKEN = "opaqueTokenValue123"


def _fix_line(result: Result) -> str:
    lines = [line.strip() for line in result.out.splitlines() if line.strip().startswith("fix: ")]
    assert len(lines) == 1, result.out
    return lines[0]


BOTH = ["check", "--issuer", "https://as.example.com", "--audience", AUDIENCE]


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        (["check", "--audience", AUDIENCE], {}),
        (["check", "--issuer", "https://as.example.com"], {}),
        (["check", "--issuer", "http://as.example.com", "--audience", AUDIENCE], {}),
        (BOTH, {"AUDMW_X": "1"}),
        ([*BOTH, "--scope", 'a"b'], {}),
        ([*BOTH, "--leeway", "-1"], {}),
    ],
)
def test_a_settings_problem_is_one_line_with_one_prefix(
    argv: list[str], env: dict[str, str], run_cli: Run
) -> None:
    result = run_cli(argv, stdin=TOKEN, env=env)
    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith("audmw check: ")
    assert result.err.count("\n") == 1
    assert "audmw:" not in result.err
    message = json.loads(run_cli([*argv, "--json"], stdin=TOKEN, env=env).out)["message"]
    assert not message.startswith("audmw")
    assert result.err == f"audmw check: {message}\n"


def test_a_missing_issuer_names_the_option_and_the_variable(run_cli: Run) -> None:
    result = run_cli(["check", "--audience", AUDIENCE], stdin=TOKEN)
    assert result.code == 2
    assert "no issuer configured: pass --issuer " in result.err
    assert "AUDMW_ISSUER" in result.err
    assert "audience" not in result.err.split("pass --issuer")[0]
    # An empty variable is no issuer either; the option then wins over nothing.
    empty = run_cli(["check"], stdin=TOKEN, env={"AUDMW_ISSUER": " ", "AUDMW_AUDIENCE": AUDIENCE})
    assert "pass --issuer " in empty.err
    # A misspelt variable is named first: the missing issuer is not the whole story.
    misspelt = run_cli(["check", "--audience", AUDIENCE], stdin=TOKEN, env={"AUDMW_ISUER": "x"})
    assert "did you mean AUDMW_ISSUER?" in misspelt.err
    assert "pass --issuer" not in misspelt.err
    # A provider preset supplies the issuer: no message then.
    preset = {"AUDMW_PROVIDER": "auth0", "AUDMW_DOMAIN": "tenant.example.com"}
    document = json.loads(
        run_cli(["check", "--audience", AUDIENCE, "--json"], stdin=TOKEN, env=preset).out
    )
    assert document["settings"]["issuer"] == ["https://tenant.example.com/"]
    assert document["reason"] == "not_a_jwt"


def test_both_missing_are_named_together(run_cli: Run) -> None:
    result = run_cli(["check"], stdin=TOKEN)
    assert result.code == 2
    assert "pass --issuer " in result.err
    assert "(or set AUDMW_ISSUER)" in result.err
    assert "pass --audience " in result.err
    assert "(or set AUDMW_AUDIENCE)" in result.err


def test_unknown_kid_says_which_keys_were_fetched_when_and_why_it_may_miss(
    issuer: LocalIssuer, run_cli: Run
) -> None:
    now = float(int(time.time()))
    token = issuer.mint(kid="retired-key", iat=int(now), exp=int(now) + 300)
    result = run_cli(
        ["check", "--issuer", issuer.issuer, "--audience", AUDIENCE], stdin=token, now=now
    )
    assert result.code == 1
    fix = _fix_line(result)
    assert (
        f"kid 'retired-key' is not in {issuer.jwks_uri} (fetched {iso_time(now)} by this check)"
        in fix
    )
    for alg in ("RS256", "ES256"):
        assert repr(issuer.key_for(alg).kid) in fix  # the kids it does publish
    assert "rotated" in fix
    assert "another tenant or issuer" in fix
    assert "--jwks-uri" in fix
    assert token not in result.out + result.err

    # The token's kid is attacker input: escaped and cut short.
    kid = "\x1b[31m" + "k" * 150
    fix = _fix_line(
        run_cli(
            ["check", "--issuer", issuer.issuer, "--audience", AUDIENCE], stdin=issuer.mint(kid=kid)
        )
    )
    assert "\x1b" not in fix
    assert "k" * 150 not in fix
    assert "characters) is not in " in fix

    # No kid, and no key for its algorithm.
    with LocalIssuer(keys=[generate_key("rsa", kid="only-rsa")]) as rsa_only:
        token = rsa_only.mint(alg="ES256", key=generate_key("ec-p256"), include_kid=False)
        fix = _fix_line(
            run_cli(["check", "--issuer", rsa_only.issuer, "--audience", AUDIENCE], stdin=token)
        )
    assert f"no 'ES256' key is in {rsa_only.jwks_uri} (fetched " in fix
    assert "its kids: 'only-rsa'. The issuer may have rotated its keys" in fix


def test_bad_signature_says_the_token_was_signed_elsewhere_or_changed(
    issuer: LocalIssuer, run_cli: Run
) -> None:
    kid = issuer.key_for("RS256").kid
    token = issuer.mint(key=generate_key("rsa"), kid=kid)
    result = run_cli(["check", "--issuer", issuer.issuer, "--audience", AUDIENCE], stdin=token)
    assert result.code == 1
    fix = _fix_line(result)
    assert f"does not verify with key {kid!r} of {issuer.jwks_uri} (fetched " in fix
    assert "signed by another issuer or key" in fix
    assert "changed after signing" in fix
    assert f"get a new token from {issuer.issuer!r}" in fix
    assert token not in result.out + result.err

    without_kid = issuer.mint(key=generate_key("rsa"), include_kid=False)
    fix = _fix_line(
        run_cli(["check", "--issuer", issuer.issuer, "--audience", AUDIENCE], stdin=without_kid)
    )
    assert f"does not verify with any 'RS256' key of {issuer.jwks_uri}" in fix


def test_a_provider_s_signature_hint_is_kept(issuer: LocalIssuer, run_cli: Run) -> None:
    """A Microsoft Graph token (a nonce in its header) cannot be verified by anyone but Graph:
    that, not a guess about keys, is the fix."""
    kid = issuer.key_for("RS256").kid
    token = issuer.mint(key=generate_key("rsa"), kid=kid, headers={"nonce": "abc"})
    args = ["check", "--issuer", issuer.issuer, "--audience", AUDIENCE]
    assert _fix_line(run_cli(args, stdin=token)) == f"fix: {GRAPH_HINT}"
    document = json.loads(run_cli([*args, "--json"], stdin=token).out)
    assert document["fix"] == document["hint"] == GRAPH_HINT


def test_shared_secret_signature_fix_names_the_secret(issuer: LocalIssuer, run_cli: Run) -> None:
    env = {
        "AUDMW_ISSUER": issuer.issuer,
        "AUDMW_AUDIENCE": AUDIENCE,
        "AUDMW_ALGORITHMS": "HS256",
        "AUDMW_HMAC_SECRET": "s" * 32,
    }
    result = run_cli(["check"], stdin=issuer.mint(alg="HS256", key="x" * 32), env=env)
    assert result.code == 1
    assert "does not verify with the configured shared secret" in _fix_line(result)
