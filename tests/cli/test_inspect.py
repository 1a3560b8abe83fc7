"""``audmw inspect``: golden output for tokens shaped like each provider's, and the edge cases.

Tokens are minted by the real ``LocalIssuer`` with fixed times and kid; the clock is frozen,
and the fingerprint (which depends on the freshly generated key) is normalised. Set
``AUDMW_UPDATE_GOLDENS=1`` to rewrite the golden files after a deliberate change.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from audmw.testing import LocalIssuer, generate_key, sign_compact
from audmw.testing.issuer import b64url
from tests.cli.conftest import Run

GOLDEN = Path(__file__).parent / "golden"
T0 = 1_700_000_000  # 2023-11-14T22:13:20Z
NOW = T0 + 120
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
API_GUID = "6e74172b-be56-4843-9ff4-e66a39bb12e3"
CLIENT_GUID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"


@pytest.fixture(scope="module")
def minter() -> LocalIssuer:
    """A LocalIssuer that is never started: only its signing key is needed here."""
    return LocalIssuer(keys=[generate_key("rsa", "key-1")])


def _times(**extra: Any) -> dict[str, Any]:
    return {"iat": T0, "exp": T0 + 3600, "jti": "0b6a4f1c9d2e4c7a8f3b5e6d7c8a9b0c", **extra}


def _keycloak_access(issuer: LocalIssuer) -> str:
    # Keycloak puts its own "typ" in the body, which LocalIssuer.mint's typ= cannot express.
    payload = {
        "exp": T0 + 300,
        "iat": T0,
        "jti": "5f0f3c2e-1b1a-4b8e-9a52-0d8a3f1e2c11",
        "iss": "https://sso.example.com/realms/acme",
        "aud": "account",
        "sub": "f1c0ffee-0000-4000-8000-000000000001",
        "typ": "Bearer",
        "azp": "web-app",
        "realm_access": {"roles": ["offline_access", "reader"]},
        "resource_access": {"account": {"roles": ["manage-account"]}},
        "scope": "openid profile email",
        "preferred_username": "alice",
    }
    header = {"alg": "RS256", "typ": "JWT", "kid": "key-1"}
    return sign_compact(header, payload, issuer.key_for("RS256").private_key)


def _keycloak_id(issuer: LocalIssuer) -> str:
    payload = {
        "exp": T0 + 300,
        "iat": T0,
        "auth_time": T0 - 30,
        "iss": "https://sso.example.com/realms/acme",
        "aud": "web-app",
        "sub": "f1c0ffee-0000-4000-8000-000000000001",
        "typ": "ID",
        "azp": "web-app",
        "nonce": "n-0S6_WzA2Mj",
        "at_hash": "77QmUPtjPfzWtF2AnpK9RQ",
    }
    header = {"alg": "RS256", "typ": "JWT", "kid": "key-1"}
    return sign_compact(header, payload, issuer.key_for("RS256").private_key)


TOKENS: dict[str, Callable[[LocalIssuer], str]] = {
    "auth0": lambda i: i.mint(
        iss="https://dev-abc123.us.auth0.com/",
        sub="auth0|64f1c0ffee",
        aud=["https://api.example.com", "https://dev-abc123.us.auth0.com/userinfo"],
        scopes="openid profile read:messages",
        typ="JWT",
        kid="key-1",
        client_id=None,
        azp="Xy7cl1entId",
        permissions=["read:messages"],
        **_times(),
    ),
    "auth0_m2m": lambda i: i.mint(
        iss="https://dev-abc123.us.auth0.com/",
        sub="Xy7cl1entId@clients",
        aud="https://api.example.com",
        scopes="read:messages",
        typ="JWT",
        kid="key-1",
        client_id=None,
        azp="Xy7cl1entId",
        gty="client-credentials",
        **_times(),
    ),
    "entra_v1": lambda i: i.mint(
        iss=f"https://sts.windows.net/{TENANT}/",
        sub="AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
        aud="api://my-api",
        typ="JWT",
        kid="key-1",
        client_id=None,
        headers={"x5t": "key-1"},
        appid=CLIENT_GUID,
        scp="Messages.Read",
        tid=TENANT,
        ver="1.0",
        **_times(nbf=T0),
    ),
    "entra_v2": lambda i: i.mint(
        iss=f"https://login.microsoftonline.com/{TENANT}/v2.0",
        sub="AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
        aud=API_GUID,
        typ="JWT",
        kid="key-1",
        client_id=None,
        azp=CLIENT_GUID,
        roles=["Messages.Read.All"],
        tid=TENANT,
        ver="2.0",
        **_times(nbf=T0),
    ),
    "entra_graph": lambda i: i.mint(
        iss=f"https://sts.windows.net/{TENANT}/",
        aud="00000003-0000-0000-c000-000000000000",
        typ="JWT",
        kid="key-1",
        client_id=None,
        headers={"nonce": "AbCdEf123"},
        appid=CLIENT_GUID,
        scp="User.Read",
        ver="1.0",
        **_times(),
    ),
    "okta_custom": lambda i: i.mint(
        iss="https://dev-123456.okta.com/oauth2/default",
        sub="alice@example.com",
        aud="api://default",
        typ=None,
        kid="key-1",
        client_id=None,
        ver=1,
        cid="0oa1b2c3d4EXAMPLE",
        uid="00u1b2c3d4EXAMPLE",
        scp=["read:messages", "openid"],
        **_times(),
    ),
    "okta_org": lambda i: i.mint(
        iss="https://dev-123456.okta.com",
        sub="alice@example.com",
        aud="https://dev-123456.okta.com",
        typ="application/okta-internal-at+jwt",
        kid="key-1",
        client_id=None,
        cid="0oa1b2c3d4EXAMPLE",
        scp=["okta.users.read.self"],
        **_times(),
    ),
    "keycloak": _keycloak_access,
    "keycloak_id": _keycloak_id,
    "cognito_access": lambda i: i.mint(
        iss="https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123",
        sub="9f1c0ffe-aaaa-4bbb-8ccc-000000000001",
        aud=None,
        typ=None,
        kid="key-1",
        client_id="3n4b5urk1ft4fl3mg5e62d9ado",
        scopes="orders-api/read",
        token_use="access",
        username="alice",
        **{"cognito:groups": ["admins"]},
        **_times(auth_time=T0),
    ),
    "cognito_id": lambda i: i.mint(
        iss="https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123",
        sub="9f1c0ffe-aaaa-4bbb-8ccc-000000000001",
        aud="3n4b5urk1ft4fl3mg5e62d9ado",
        typ=None,
        kid="key-1",
        client_id=None,
        token_use="id",
        email="alice@example.com",
        **{"cognito:username": "alice"},
        **_times(auth_time=T0),
    ),
    "rfc9068": lambda i: i.mint(
        iss="https://as.example.com",
        sub="5ba552d67",
        aud="https://rs.example.com/",
        scopes="openid profile reademail",
        typ="at+jwt",
        kid="key-1",
        client_id="s6BhdRkqt3",
        **_times(auth_time=T0 - 60),
    ),
    "expired_no_aud": lambda i: i.mint(
        iss="https://as.example.com",
        aud=None,
        typ="at+jwt",
        kid="key-1",
        jti="dbe39bf3a3ba4238a513f51d6e1691c4",
        iat=T0 - 7300,
        exp=T0 - 7200,
    ),
    "dpop_proof": lambda i: sign_compact(
        {
            "typ": "dpop+jwt",
            "alg": "ES256",
            "jwk": {"kty": "EC", "crv": "P-256", "x": "l8", "y": "9V"},
        },
        {"jti": "e1j3V_bKic8", "htm": "GET", "htu": "https://api.example.com/api/me", "iat": T0},
        i.key_for("ES256").private_key,
    ),
    "opaque": lambda i: "8xLOxBtZp8",
    "jwe": lambda i: ".".join(
        [
            b64url(
                json.dumps(
                    {"alg": "dir", "enc": "A256GCM", "iss": "https://dev-abc123.us.auth0.com/"}
                ).encode()
            ),
            "",
            "48V1_ALb6US04U3b",
            "5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6jiSdiwkIr3ajwQzaBtQD_A",
            "XFBoMYUZodetZdvTiFvSkQ",
        ]
    ),
    "malformed": lambda i: "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln",
}


def _normalise(text: str) -> str:
    return re.sub(r"fingerprint [0-9a-f]{16}", "fingerprint <fingerprint>", text)


@pytest.mark.parametrize("name", sorted(TOKENS))
def test_inspect_matches_golden_output(name: str, minter: LocalIssuer, run_cli: Run) -> None:
    token = TOKENS[name](minter)
    result = run_cli(["inspect"], stdin=token + "\n", now=NOW)
    assert result.code == 0, result.err
    assert token not in result.out
    assert result.err == ""
    output = _normalise(result.out)
    golden = GOLDEN / f"inspect_{name}.txt"
    if os.environ.get("AUDMW_UPDATE_GOLDENS"):
        golden.write_text(output)
    assert output == golden.read_text()


EXPECTED_KIND_AND_PROVIDER = {
    "auth0": ("access_token", "provider", "auth0"),
    "auth0_m2m": ("access_token", "provider", "auth0"),
    "entra_v1": ("access_token", "provider", "entra-v1"),
    "entra_v2": ("access_token", "provider", "entra-v2"),
    "entra_graph": ("access_token", "provider", "entra-v1"),
    "okta_custom": ("access_token", "provider", "okta-custom"),
    "okta_org": ("access_token", "provider", "okta-org"),
    "keycloak": ("access_token", "provider", "keycloak"),
    "keycloak_id": ("id_token", None, "keycloak"),
    "cognito_access": ("access_token", "provider", "cognito"),
    "cognito_id": ("id_token", None, "cognito"),
    "rfc9068": ("access_token", "rfc9068", None),
    "expired_no_aud": ("access_token", "rfc9068", None),
    "dpop_proof": ("other_jwt", None, None),
    "opaque": ("opaque", None, None),
    "jwe": ("jwe", None, "auth0"),
    "malformed": ("malformed", None, None),
}


@pytest.mark.parametrize("name", sorted(TOKENS))
def test_json_output_schema(name: str, minter: LocalIssuer, run_cli: Run) -> None:
    token = TOKENS[name](minter)
    result = run_cli(["inspect", "--json", "-"], stdin=token, now=NOW)
    assert result.code == 0
    document = json.loads(result.out)
    assert set(document) == {
        "format",
        "length",
        "fingerprint",
        "header",
        "claims",
        "signature",
        "times",
        "kind",
        "provider",
        "notes",
        "problem",
    }
    assert document["length"] == len(token)
    assert re.fullmatch(r"[0-9a-f]{16}", document["fingerprint"])
    assert set(document["kind"]) == {"kind", "label", "profile", "reasons"}
    kind, profile, provider = EXPECTED_KIND_AND_PROVIDER[name]
    assert (document["kind"]["kind"], document["kind"]["profile"]) == (kind, profile)
    if provider is None:
        assert document["provider"] is None
    else:
        assert set(document["provider"]) == {"id", "name", "why", "pitfalls"}
        assert document["provider"]["id"] == provider
        assert document["provider"]["pitfalls"]
    if document["format"] == "jws":
        expected_bytes = 64 if document["header"]["alg"] == "ES256" else 256
        assert document["signature"] == {"bytes": expected_bytes, "verified": False}
        for name_, when in document["times"].items():
            assert set(when) == {"epoch", "iso", "relative", "seconds_from_now"}
            assert when["epoch"] == document["claims"][name_]
            assert when["seconds_from_now"] == when["epoch"] - NOW
    else:
        assert document["claims"] is None
        assert document["signature"] is None
    assert token not in result.out


def test_times_are_shown_relative_to_now(minter: LocalIssuer, run_cli: Run) -> None:
    token = minter.mint(kid="key-1", iat=T0, exp=T0 + 240)
    soon = run_cli(["inspect", "--json"], stdin=token, now=T0).out
    assert json.loads(soon)["times"]["exp"]["relative"] == "expires in 4 min"
    later = run_cli(["inspect", "--json"], stdin=token, now=T0 + 240 + 7200).out
    assert json.loads(later)["times"]["exp"]["relative"] == "expired 2 h ago"
    assert json.loads(later)["times"]["exp"]["iso"] == "2023-11-14T22:17:20Z"


def test_client_id_option_marks_an_id_token(minter: LocalIssuer, run_cli: Run) -> None:
    token = minter.mint(kid="key-1", typ="JWT", aud="spa-client", client_id=None)
    plain = json.loads(run_cli(["inspect", "--json"], stdin=token).out)
    assert plain["kind"]["kind"] == "unknown_jwt"
    marked = json.loads(
        run_cli(["inspect", "--json", "--client-id", "spa-client"], stdin=token).out
    )
    assert marked["kind"]["kind"] == "id_token"
    assert "aud is a client id" in marked["kind"]["reasons"][0]


# -- reading the token ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wrapped",
    [
        "{token}",
        "  {token}\n\n",
        "Bearer {token}",
        "Authorization: Bearer {token}\n",
        '{{"access_token": "{token}", "token_type": "Bearer", "expires_in": 300}}',
    ],
)
def test_reads_what_people_paste(wrapped: str, minter: LocalIssuer, run_cli: Run) -> None:
    token = minter.mint(kid="key-1", sub="pasted")
    result = run_cli(["inspect", "--json"], stdin=wrapped.format(token=token))
    assert result.code == 0, result.err
    assert json.loads(result.out)["claims"]["sub"] == "pasted"


def test_dash_reads_stdin_and_an_argument_warns_about_shell_history(
    minter: LocalIssuer, run_cli: Run
) -> None:
    token = minter.mint(kid="key-1")
    from_stdin = run_cli(["inspect", "-"], stdin=token)
    assert from_stdin.code == 0
    assert from_stdin.err == ""
    from_argument = run_cli(["inspect", token])
    assert from_argument.code == 0
    assert "shell history" in from_argument.err
    assert from_argument.out == from_stdin.out
    assert token not in from_argument.err


def test_empty_input_is_a_usage_error(run_cli: Run) -> None:
    result = run_cli(["inspect"], stdin="  \n")
    assert result.code == 2
    assert "no token given" in result.err


def test_json_without_access_token_is_a_usage_error(run_cli: Run) -> None:
    result = run_cli(["inspect"], stdin='{"error": "invalid_grant"}')
    assert result.code == 2
    assert "no access_token" in result.err


def test_terminal_without_input_prompts_without_echo(
    monkeypatch: pytest.MonkeyPatch, minter: LocalIssuer
) -> None:
    import io

    from audmw.cli import main
    from audmw.cli.console import Console
    from tests.cli.conftest import FakeTerminal

    token = minter.mint(kid="key-1", sub="prompted")
    prompts = []

    def fake_getpass(prompt: str, stream: Any = None) -> str:
        prompts.append(prompt)
        return token

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    stdout = io.StringIO()
    console = Console(stdin=FakeTerminal(), stdout=stdout, stderr=io.StringIO(), environ={})
    assert main(["inspect", "--json"], console=console) == 0
    assert prompts == ["Token (input hidden): "]
    assert json.loads(stdout.getvalue())["claims"]["sub"] == "prompted"


# -- output safety ---------------------------------------------------------------------------


def test_token_is_printed_only_with_show_token(minter: LocalIssuer, run_cli: Run) -> None:
    token = minter.mint(kid="key-1")
    assert token not in run_cli(["inspect"], stdin=token).out
    assert token in run_cli(["inspect", "--show-token"], stdin=token).out
    assert (
        json.loads(run_cli(["inspect", "--json", "--show-token"], stdin=token).out)["token"]
        == token
    )


def test_colour_only_on_a_terminal_and_never_with_no_color(
    minter: LocalIssuer, run_cli: Run
) -> None:
    token = minter.mint(kid="key-1")
    assert "\x1b[" in run_cli(["inspect"], stdin=token, tty=True).out
    assert "\x1b[" not in run_cli(["inspect"], stdin=token).out
    assert "\x1b[" not in run_cli(["inspect"], stdin=token, tty=True, env={"NO_COLOR": "1"}).out
    assert "\x1b[" not in run_cli(["inspect"], stdin=token, tty=True, env={"TERM": "dumb"}).out


def test_control_characters_in_claims_cannot_drive_the_terminal(
    minter: LocalIssuer, run_cli: Run
) -> None:
    token = minter.mint(
        kid="key-1", sub="evil\x1b[2J\x1b]0;pwned\x07", name="a\u202eb", **{"k\x1b[31m": 1}
    )
    out = run_cli(["inspect"], stdin=token).out
    assert "\x1b" not in out
    assert "\u202e" not in out
    assert "\x07" not in out
    assert "evil\\u001b[2J" in out
    assert "a\\u202eb" in out


def test_malformed_and_non_ascii_input_are_explained_not_crashed(run_cli: Run) -> None:
    for token in ["a.b.c", "not a token at all", "tökén", "a..b", "e30.e30"]:
        result = run_cli(["inspect", "--json"], stdin=token)
        assert result.code == 0, token
        document = json.loads(result.out)
        assert document["format"] in ("malformed", "opaque")
        assert document["problem"]
