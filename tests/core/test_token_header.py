"""``token_header``: the token read raw from one named header (Google IAP) instead of Bearer."""

from __future__ import annotations

import logging

import pytest

from audmw import ConfigurationError, Guard, Settings
from audmw.errors import InsufficientScope, InvalidRequest, InvalidToken, MissingToken
from audmw.requirements import Requirement
from audmw.testing import LocalIssuer

from .conftest import AUDIENCE
from .crafting import sent

IAP_HEADER = "x-goog-iap-jwt-assertion"


@pytest.fixture
def guard(issuer: LocalIssuer) -> Guard:
    return Guard(Settings(issuer=issuer.issuer, audience=AUDIENCE, token_header=IAP_HEADER))


# -- settings ---------------------------------------------------------------------------------


def test_default_is_the_authorization_header(issuer: LocalIssuer) -> None:
    guard = Guard(Settings(issuer=issuer.issuer, audience=AUDIENCE))
    assert guard.settings.token_header == "authorization"
    assert guard.token_header == "authorization"
    assert guard.token_header_bytes == b"authorization"
    assert guard.token_environ_key == "HTTP_AUTHORIZATION"


def test_names_of_another_header(issuer: LocalIssuer) -> None:
    settings = Settings(
        issuer=issuer.issuer, audience=AUDIENCE, token_header=" X-Goog-IAP-JWT-Assertion "
    )
    assert settings.token_header == IAP_HEADER
    guard = Guard(settings)
    assert guard.token_header == IAP_HEADER
    assert guard.token_header_bytes == IAP_HEADER.encode()
    assert guard.token_environ_key == "HTTP_X_GOOG_IAP_JWT_ASSERTION"


def test_token_header_from_the_environment(issuer: LocalIssuer) -> None:
    environ = {
        "AUDMW_ISSUER": issuer.issuer,
        "AUDMW_AUDIENCE": AUDIENCE,
        "AUDMW_TOKEN_HEADER": "X-Goog-Iap-Jwt-Assertion",
    }
    assert Settings.from_env(environ).token_header == IAP_HEADER
    environ["AUDMW_TOKEN_HEADER"] = ""
    assert Settings.from_env(environ).token_header == "authorization"


@pytest.mark.parametrize(
    "name", ["x_goog_iap_jwt_assertion", "x goog", "x-goog:", "-x", "x--y-", "héader", "a\nb"]
)
def test_a_name_that_is_not_a_plain_header_name_is_refused(issuer: LocalIssuer, name: str) -> None:
    with pytest.raises(ConfigurationError, match=r"token_header .* letters, digits and '-'"):
        Settings(issuer=issuer.issuer, audience=AUDIENCE, token_header=name)


# -- the guard --------------------------------------------------------------------------------


def test_raw_token_in_the_named_header_is_accepted(guard: Guard, issuer: LocalIssuer) -> None:
    token = issuer.mint(sub="alice", scopes=["read"])
    assert guard.authorize(sent([token])).subject == "alice"
    # Optional whitespace around a field value is not part of it (RFC 9110 §5.5).
    assert guard.authorize(sent([f" {token}\t"]), Requirement.of(["read"])).subject == "alice"


@pytest.mark.anyio
async def test_raw_token_accepted_async(guard: Guard, issuer: LocalIssuer) -> None:
    token = issuer.mint(sub="bob")
    assert (await guard.authorize_async(sent([token]))).subject == "bob"
    with pytest.raises(InvalidRequest):
        await guard.authorize_async(sent([f"Bearer {token}"]))


def test_no_header_is_a_missing_token_with_a_bare_challenge(guard: Guard) -> None:
    with pytest.raises(MissingToken) as caught:
        guard.authorize(sent([]))
    answer = guard.answer(caught.value)
    assert answer.status == 401
    assert dict(answer.headers)["WWW-Authenticate"] == "Bearer"


def test_two_headers_are_an_invalid_request(guard: Guard, issuer: LocalIssuer) -> None:
    token = issuer.mint()
    with pytest.raises(InvalidRequest) as caught:
        guard.authorize(sent([token, token]))
    assert caught.value.reason == "multiple_token_headers"
    assert guard.answer(caught.value).status == 400


@pytest.mark.parametrize(
    "value",
    [
        "Bearer {token}",  # no scheme is parsed: the value is the token itself
        "bearer {token}",
        "{token}, {token}",  # repeated headers folded into one by the server
        "{token}+",  # '+' and '/' are base64, not base64url
        "{token}/",
        "{token}=",
        "{token}é",
        "",
        " ",
    ],
)
def test_anything_but_one_compact_token_is_malformed(
    guard: Guard, issuer: LocalIssuer, value: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        guard.authorize(sent([value.format(token=issuer.mint())]))
    assert caught.value.reason == "malformed_token_header"
    assert guard.answer(caught.value).status == 400


def test_the_query_stays_a_refused_way(guard: Guard, issuer: LocalIssuer) -> None:
    with pytest.raises(MissingToken) as missing:
        guard.authorize(sent([], token_in_query=True))
    assert missing.value.reason == "token_in_query"
    with pytest.raises(InvalidRequest) as both:
        guard.authorize(sent([issuer.mint()], token_in_query=True))
    assert both.value.reason == "multiple_methods"


def test_token_is_still_validated_and_scoped(guard: Guard, issuer: LocalIssuer) -> None:
    with pytest.raises(InsufficientScope):
        guard.authorize(sent([issuer.mint(scopes=["read"])]), Requirement.of(["write"]))
    with pytest.raises(InvalidToken) as caught:
        guard.authorize(sent([issuer.mint(aud="https://other.example.com")]))
    assert caught.value.reason == "aud_mismatch"


def test_default_guard_does_not_take_a_raw_token(issuer: LocalIssuer) -> None:
    guard = Guard(Settings(issuer=issuer.issuer, audience=AUDIENCE))
    token = issuer.mint(sub="alice")
    assert guard.authorize(sent([f"Bearer {token}"])).subject == "alice"
    with pytest.raises(MissingToken) as caught:
        guard.authorize(sent([token]))
    assert caught.value.reason == "unsupported_scheme"


def test_refusals_do_not_log_the_token(
    guard: Guard, issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    token = issuer.mint()
    with caplog.at_level(logging.DEBUG, logger="audmw"):
        for values in ([token, token], [f"Bearer {token}"], []):
            with pytest.raises((InvalidRequest, MissingToken)) as caught:
                guard.authorize(sent(values))
            assert token not in str(caught.value)
            assert token not in repr(caught.value)
            assert token not in (caught.value.hint or "")
    assert caplog.records
    assert IAP_HEADER in caplog.text
    assert token not in caplog.text
    signature = token.rsplit(".", 1)[1]
    assert signature not in caplog.text
