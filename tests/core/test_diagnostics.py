"""Every refusal is logged with its reason and the token's fingerprint, never the token;
classic mistakes come with the fix."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

import pytest

from audmw import AuthError, Guard, Requirement, TokenValidator, diagnostics
from audmw.testing import LocalIssuer, generate_key

from .conftest import AUDIENCE, MakeValidator
from .crafting import b64, claims_for, craft, segment, sent

Case = Callable[[LocalIssuer], str]

_OTHER_KEY = generate_key("ec-p256", kid="not-published")

CASES: dict[str, tuple[Case, dict[str, Any]]] = {
    "token_too_large": (lambda i: i.mint(padding="x" * 17_000), {}),
    "not_a_jwt": (lambda i: "2YotnFZFEjr1zCsicMWpAA-" + i.mint()[-20:], {}),
    "malformed_jwt": (lambda i: f"{segment(b'{}x')}.{i.mint().split('.', 1)[1]}", {}),
    "alg_not_allowed": (lambda i: i.mint(alg="ES256"), {"algorithms": ["RS256"]}),
    "crit_unsupported": (lambda i: craft(i, {"crit": ["exp"]}), {}),
    "typ_not_allowed": (lambda i: i.mint(typ="dpop+jwt"), {}),
    "nested_jwt": (lambda i: craft(i, {"cty": "JWT"}), {}),
    "bad_kid": (lambda i: craft(i, {"kid": 7}), {}),
    "iss_mismatch": (lambda i: i.mint(iss=i.issuer + "/"), {}),
    "unknown_kid": (lambda i: i.mint(alg="ES256", key=_OTHER_KEY), {}),
    "key_alg_mismatch": (lambda i: i.mint(alg="PS256", kid=i.key_for("ES256").kid), {}),
    "bad_signature": (
        lambda i: i.mint(alg="ES256", key=_OTHER_KEY, kid=i.key_for("ES256").kid),
        {},
    ),
    "exp_missing": (lambda i: i.mint(exp=None), {}),
    "bad_exp": (lambda i: i.mint(exp="tomorrow"), {}),
    "expired": (lambda i: i.mint(expires_in=-3600), {}),
    "not_yet_valid": (lambda i: i.mint(nbf=claims_for(i)["iat"] + 3600), {}),
    "iat_in_future": (lambda i: i.mint(iat=claims_for(i)["iat"] + 3600), {}),
    "id_token": (lambda i: i.mint(typ="JWT", nonce="abc"), {}),
    "aud_missing": (lambda i: i.mint(aud=None), {}),
    "aud_invalid": (lambda i: i.mint(aud=[7]), {}),
    "aud_mismatch": (lambda i: i.mint(aud="https://other.example.com"), {}),
}


def fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def assert_never_shown(token: str, text: str) -> None:
    """Neither the token nor its payload or signature appears in ``text``."""
    assert token not in text
    for part in token.split(".")[1:]:
        if len(part) > 8:
            assert part not in text


def refusal(
    caplog: pytest.LogCaptureFixture, validator: TokenValidator, token: str
) -> tuple[AuthError, logging.LogRecord]:
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="audmw"), pytest.raises(AuthError) as refused:
        validator.validate(token)
    records = [
        r for r in caplog.records if getattr(r, "audmw_reason", None) == refused.value.reason
    ]
    assert len(records) == 1
    return refused.value, records[0]


@pytest.mark.parametrize("reason", sorted(CASES))
def test_each_refusal_is_logged_with_reason_and_fingerprint_never_the_token(
    issuer: LocalIssuer,
    make_validator: MakeValidator,
    caplog: pytest.LogCaptureFixture,
    reason: str,
) -> None:
    case, options = CASES[reason]
    token = case(issuer)
    error, record = refusal(caplog, make_validator(**options), token)
    assert error.reason == reason
    assert record.name == "audmw"
    assert record.levelno == logging.INFO
    assert record.audmw_token == fingerprint(token)  # type: ignore[attr-defined]
    message = record.getMessage()
    assert f"reason={reason}" in message
    assert f"token={fingerprint(token)}" in message
    assert f"status={error.status}" in message
    assert_never_shown(token, caplog.text)
    assert_never_shown(token, str(error) + repr(error) + error.description + (error.hint or ""))


def test_keys_unavailable_is_a_warning_with_fingerprint(
    issuer: LocalIssuer, validator: TokenValidator, caplog: pytest.LogCaptureFixture
) -> None:
    issuer.set_mode("error")
    token = issuer.mint()
    error, record = refusal(caplog, validator, token)
    assert error.reason == "keys_unavailable"
    assert record.levelno == logging.WARNING
    assert record.audmw_token == fingerprint(token)  # type: ignore[attr-defined]
    assert "jwks_fetch_failed" in caplog.text  # the fetch failure itself, for the operator
    assert_never_shown(token, caplog.text)


def test_non_ascii_token_is_logged_with_fingerprint(
    validator: TokenValidator, caplog: pytest.LogCaptureFixture
) -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.sïgnature"
    error, record = refusal(caplog, validator, token)
    assert error.reason == "not_a_jwt"
    assert record.audmw_token == hashlib.sha256(token.encode()).hexdigest()[:16]  # type: ignore[attr-defined]
    assert "sïgnature" not in caplog.text


def test_guard_refusals_never_log_the_token(
    issuer: LocalIssuer, validator: TokenValidator, caplog: pytest.LogCaptureFixture
) -> None:
    guard = Guard(validator=validator)
    token = issuer.mint(scopes="read")
    with caplog.at_level(logging.INFO, logger="audmw"):
        with pytest.raises(AuthError) as scope:
            guard.authorize(sent([f"Bearer {token}"]), Requirement.of(all_of=["admin"]))
        for values in ([f"Bearer {token}!"], [f"Bearer {token}", f"Bearer {token}"]):
            with pytest.raises(AuthError):
                guard.authorize(sent(values))
        with pytest.raises(AuthError):
            guard.authorize(sent([f"Bearer {token}"], token_in_query=True))
    reasons = [getattr(r, "audmw_reason", None) for r in caplog.records]
    assert reasons == [
        "insufficient_scope",
        "malformed_authorization",
        "multiple_authorization_headers",
        "multiple_methods",
    ]
    assert scope.value.hint is not None
    assert "missing admin" in caplog.text
    assert f"token={fingerprint(token)}" in caplog.records[0].getMessage()
    assert_never_shown(token, caplog.text)


def test_nothing_is_logged_for_a_valid_token(
    issuer: LocalIssuer, validator: TokenValidator, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="audmw"):
        validator.validate(issuer.mint())
    assert caplog.records == []


# -- the operator's fix for classic mistakes -------------------------------------------------------


def hint_for(
    caplog: pytest.LogCaptureFixture, validator: TokenValidator, token: str, reason: str
) -> str:
    error, record = refusal(caplog, validator, token)
    assert error.reason == reason
    assert error.hint is not None
    assert error.hint in record.getMessage()
    assert_never_shown(token, caplog.text)
    return error.hint


def test_opaque_token_hint(validator: TokenValidator, caplog: pytest.LogCaptureFixture) -> None:
    hint = hint_for(caplog, validator, "2YotnFZFEjr1zCsicMWpAA", "not_a_jwt")
    assert "opaque" in hint
    assert "request it with an audience/resource parameter" in hint


def test_encrypted_token_hint(validator: TokenValidator, caplog: pytest.LogCaptureFixture) -> None:
    jwe = f"{segment({'alg': 'dir', 'enc': 'A256GCM'})}..{b64(b'iv')}.{b64(b'c')}.{b64(b't')}"
    hint = hint_for(caplog, validator, jwe, "not_a_jwt")
    assert "JWE" in hint
    assert "audience" in hint


@pytest.mark.parametrize("claim", ["nonce", "at_hash"])
def test_id_token_hint(
    issuer: LocalIssuer,
    validator: TokenValidator,
    caplog: pytest.LogCaptureFixture,
    claim: str,
) -> None:
    token = issuer.mint(typ="JWT", **{claim: "value"})
    hint = hint_for(caplog, validator, token, "id_token")
    assert "ID token" in hint
    assert claim in hint
    assert "send the access token" in hint


@pytest.mark.parametrize("audience", [[AUDIENCE], [AUDIENCE, "spa-client"]])
def test_id_token_by_its_audience_being_a_client_id(
    issuer: LocalIssuer,
    make_validator: MakeValidator,
    caplog: pytest.LogCaptureFixture,
    audience: list[str],
) -> None:
    # Also when the audience is (wrongly) configured to the client id: still refused.
    validator = make_validator(audience=audience, client_ids=["spa-client"])
    token = issuer.mint(typ="JWT", aud="spa-client", azp="spa-client")
    hint = hint_for(caplog, validator, token, "id_token")
    assert "aud is a client id" in hint
    # An access token (typ at+jwt) for that audience is not mistaken for one.
    if "spa-client" in audience:
        assert validator.validate(issuer.mint(aud="spa-client")).audience == ("spa-client",)


def test_userinfo_only_audience_hint(
    issuer: LocalIssuer, validator: TokenValidator, caplog: pytest.LogCaptureFixture
) -> None:
    token = issuer.mint(aud=["https://tenant.auth0.com/userinfo"])
    hint = hint_for(caplog, validator, token, "aud_mismatch")
    assert "https://tenant.auth0.com/userinfo" in hint
    assert AUDIENCE in hint
    assert "userinfo endpoint" in hint
    assert "audience=" in hint


def test_audience_trailing_slash_hint(
    issuer: LocalIssuer, validator: TokenValidator, caplog: pytest.LogCaptureFixture
) -> None:
    hint = hint_for(caplog, validator, issuer.mint(aud=AUDIENCE + "/"), "aud_mismatch")
    assert "trailing slash" in hint


def test_keycloak_account_audience_hint(
    issuer: LocalIssuer, validator: TokenValidator, caplog: pytest.LogCaptureFixture
) -> None:
    hint = hint_for(caplog, validator, issuer.mint(aud="account"), "aud_mismatch")
    assert "Audience mapper" in hint


def test_missing_audience_hint(
    issuer: LocalIssuer, validator: TokenValidator, caplog: pytest.LogCaptureFixture
) -> None:
    hint = hint_for(caplog, validator, issuer.mint(aud=None), "aud_missing")
    assert "no aud" in hint
    assert AUDIENCE in hint


def test_issuer_trailing_slash_hint(
    issuer: LocalIssuer, validator: TokenValidator, caplog: pytest.LogCaptureFixture
) -> None:
    hint = hint_for(caplog, validator, issuer.mint(iss=issuer.issuer + "/"), "iss_mismatch")
    assert "differ only by a trailing slash" in hint
    other = hint_for(caplog, validator, issuer.mint(iss="https://else.example.com"), "iss_mismatch")
    assert "trailing slash" not in other


def test_header_nonce_hint(
    issuer: LocalIssuer, validator: TokenValidator, caplog: pytest.LogCaptureFixture
) -> None:
    # A Microsoft Graph token: a nonce in the header, and a signature only Graph can check.
    header = segment(
        {"alg": "RS256", "typ": "JWT", "nonce": "n", "kid": issuer.key_for("RS256").kid}
    )
    forged = f"{header}.{segment(claims_for(issuer))}.{b64(b'x' * 256)}"
    hint = hint_for(caplog, validator, forged, "bad_signature")
    assert "nonce" in hint
    assert "Microsoft Graph" in hint
    plain = craft(issuer, {"typ": "JWT"}).rsplit(".", 1)[0] + "." + b64(b"x" * 256)
    error, _ = refusal(caplog, validator, plain)
    assert error.reason == "bad_signature"
    assert error.hint is None


def test_okta_org_server_typ_hint(
    issuer: LocalIssuer, validator: TokenValidator, caplog: pytest.LogCaptureFixture
) -> None:
    token = issuer.mint(typ="application/okta-internal-at+jwt")
    hint = hint_for(caplog, validator, token, "typ_not_allowed")
    assert "custom authorization server" in hint


LONG = "x" * 2000
OTHERS = [f"https://other-{n}.example" for n in range(100)]


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda i: i.mint(iss="https://" + LONG), "iss_mismatch"),
        (lambda i: i.mint(aud=["https://" + LONG, *OTHERS]), "aud_mismatch"),
        (lambda i: i.mint(typ="application/" + LONG), "typ_not_allowed"),
        (
            lambda i: f"{segment({'alg': 'XS' + LONG})}.{segment(claims_for(i))}.{b64(b'sig')}",
            "alg_not_allowed",
        ),
        (lambda i: craft(i, header={"crit": [LONG]}), "crit_unsupported"),
    ],
)
def test_values_the_token_chose_are_cut_short_in_the_log(
    issuer: LocalIssuer,
    validator: TokenValidator,
    caplog: pytest.LogCaptureFixture,
    make: Callable[[LocalIssuer], str],
    reason: str,
) -> None:
    hint = hint_for(caplog, validator, make(issuer), reason)
    assert "characters)" in hint
    assert len(hint) < 1000
    assert all(len(record.getMessage()) < 1200 for record in caplog.records)


def test_scopes_the_token_carries_are_cut_short_in_the_log(
    issuer: LocalIssuer, validator: TokenValidator, caplog: pytest.LogCaptureFixture
) -> None:
    token = validator.validate(issuer.mint(scopes=[f"scope-{n}" for n in range(500)] + [LONG]))
    caplog.set_level(logging.INFO, logger="audmw")
    with pytest.raises(AuthError) as refused:
        Guard.check_scopes(token, Requirement.of(all_of=["admin"]))
    assert refused.value.reason == "insufficient_scope"
    assert refused.value.hint is not None
    assert len(refused.value.hint) < 1200
    assert "(501 in all)" in refused.value.hint


# -- the providers' parts of the hints -------------------------------------------------------------


def test_a_missing_audience_hint_names_each_provider_that_has_advice() -> None:
    hint = diagnostics.audience_hint(None, [AUDIENCE])
    assert "Keycloak: add an Audience mapper" in hint
    assert "Cognito has no aud: use client_id rules" in hint


@pytest.mark.parametrize(
    ("aud", "words"),
    [
        ("https://graph.microsoft.com", "Microsoft Graph token"),
        (["https://t.auth0.com/userinfo"], "userinfo endpoint"),
        ("account", "Keycloak's default"),
        (AUDIENCE + "/", "trailing slash"),
        ("https://else.example.com", "request the token with audience=/resource="),
    ],
)
def test_an_audience_hint_comes_from_the_provider_that_knows_the_audience(
    aud: object, words: str
) -> None:
    first = aud if isinstance(aud, str) else aud[0]  # type: ignore[index]
    hint = diagnostics.audience_hint(aud, [AUDIENCE])
    assert hint.startswith(f"aud is [{diagnostics.shown(first)}], expected {AUDIENCE!r} — ")
    assert words in hint


@pytest.mark.parametrize(
    ("iss", "expected", "words"),
    [
        ("https://sts.windows.net/t/", "https://login.microsoftonline.com/t/v2.0", "v1.0 token"),
        ("https://login.microsoftonline.com/t/v2.0", "https://sts.windows.net/t/", "v2.0 token"),
        ("https://o.okta.com", "https://o.okta.com/oauth2/default", "org authorization server"),
    ],
)
def test_an_issuer_hint_comes_from_the_provider_that_knows_the_issuer(
    iss: str, expected: str, words: str
) -> None:
    assert words in diagnostics.issuer_hint(iss, [expected])


def test_a_header_nonce_explains_both_an_issuer_and_a_signature_refusal() -> None:
    header = {"alg": "RS256", "nonce": "n"}
    assert diagnostics.signature_hint(header) == diagnostics.GRAPH_HINT
    assert diagnostics.signature_hint({"alg": "RS256"}) is None
    hint = diagnostics.issuer_hint("https://sts.windows.net/t/", ["https://x/"], header=header)
    assert hint.endswith(diagnostics.GRAPH_HINT)
