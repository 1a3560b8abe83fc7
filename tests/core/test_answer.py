"""Errors, the RFC 6750 answer, bearer extraction, and Guard.authorize end to end."""

from __future__ import annotations

import json

import pytest

from audmw import (
    Guard,
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    KeysUnavailable,
    MissingToken,
    Requirement,
    Settings,
    TokenValidator,
    answer,
    extract_bearer,
)
from audmw.answer import challenge
from audmw.bearer import check_b64token, check_compact, is_well_formed
from audmw.errors import AuthError
from audmw.testing import LocalIssuer

from .conftest import AUDIENCE
from .crafting import sent


def headers(error: AuthError, realm: str | None = None) -> dict[str, str]:
    return dict(answer(error, realm).headers)


# -- errors -----------------------------------------------------------------------------------


def test_error_classes() -> None:
    assert (MissingToken("no_token").status, MissingToken("no_token").error) == (401, None)
    assert (InvalidRequest("x").status, InvalidRequest("x").error) == (400, "invalid_request")
    assert (InvalidToken("x").status, InvalidToken("x").error) == (401, "invalid_token")
    scope = InsufficientScope(("a",))
    assert (scope.status, scope.error, scope.scope) == (403, "insufficient_scope", ("a",))
    unavailable = KeysUnavailable(retry_after=0)
    assert (unavailable.status, unavailable.retry_after) == (503, 1)
    assert unavailable.reason == "keys_unavailable"


def test_error_text_is_the_safe_description() -> None:
    error = InvalidToken("aud_mismatch", hint="aud is ['https://x'], expected 'https://y'")
    assert str(error) == "The access token is invalid"
    assert "https://x" not in repr(error)
    assert "aud_mismatch" in repr(error)


# -- the answer ---------------------------------------------------------------------------------


def test_missing_token_is_a_bare_challenge() -> None:
    result = answer(MissingToken("no_token"))
    assert result.status == 401
    assert headers(MissingToken("no_token"))["WWW-Authenticate"] == "Bearer"
    assert headers(MissingToken("no_token"), "api")["WWW-Authenticate"] == 'Bearer realm="api"'
    assert json.loads(result.body) == {
        "error": "unauthorized",
        "error_description": "A bearer access token is required",
    }


def test_invalid_token_answer() -> None:
    result = answer(InvalidToken("expired"), "orders")
    assert result.status == 401
    assert dict(result.headers) == {
        "Content-Type": "application/json",
        "Cache-Control": "no-store",
        "WWW-Authenticate": 'Bearer realm="orders", error="invalid_token", '
        'error_description="The access token is invalid"',
    }
    assert json.loads(result.body) == {
        "error": "invalid_token",
        "error_description": "The access token is invalid",
    }


def test_invalid_request_answer() -> None:
    result = answer(InvalidRequest("multiple_methods"))
    assert result.status == 400
    assert dict(result.headers)["WWW-Authenticate"] == (
        'Bearer error="invalid_request", '
        'error_description="The request carries malformed or duplicate credentials"'
    )
    assert json.loads(result.body)["error"] == "invalid_request"


def test_insufficient_scope_answer_names_the_scopes() -> None:
    result = answer(InsufficientScope(("read:messages", "admin")), "api")
    assert result.status == 403
    assert dict(result.headers)["WWW-Authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", '
        'error_description="The access token lacks the scope this resource requires", '
        'scope="read:messages admin"'
    )
    assert json.loads(result.body) == {
        "error": "insufficient_scope",
        "error_description": "The access token lacks the scope this resource requires",
        "scope": "read:messages admin",
    }


def test_keys_unavailable_is_503_with_retry_after() -> None:
    result = answer(KeysUnavailable(retry_after=7), "api")
    assert result.status == 503
    assert dict(result.headers) == {
        "Content-Type": "application/json",
        "Cache-Control": "no-store",
        "Retry-After": "7",
    }
    assert json.loads(result.body) == {
        "error": "temporarily_unavailable",
        "error_description": "Token verification is temporarily unavailable",
    }
    assert challenge(KeysUnavailable()) is None


@pytest.mark.parametrize(
    ("realm", "quoted"),
    [
        ('say "hi"', r'"say \"hi\""'),
        ("back\\slash", r'"back\\slash"'),
        ("line\r\nX-Injected: 1", '"lineX-Injected: 1"'),
        ("café", '"caf"'),
        ("tab\there", '"tabhere"'),
    ],
)
def test_realm_is_a_safe_quoted_string(realm: str, quoted: str) -> None:
    value = headers(InvalidToken("x"), realm)["WWW-Authenticate"]
    assert value.startswith(f"Bearer realm={quoted}, error=")
    assert "\r" not in value
    assert "\n" not in value


def test_error_description_keeps_to_the_rfc6750_characters() -> None:
    error = InvalidToken("x", 'bad "token"\\ é\r\nX-Evil: 1')
    value = headers(error)["WWW-Authenticate"]
    assert value == 'Bearer error="invalid_token", error_description="bad token X-Evil: 1"'


def test_guard_answer_uses_the_configured_realm() -> None:
    guard = Guard(Settings(issuer="https://i.example.com", audience=AUDIENCE, realm="photos"))
    assert dict(guard.answer(MissingToken("no_token")).headers)["WWW-Authenticate"] == (
        'Bearer realm="photos", DPoP realm="photos", algs="ES256 ES384 ES512 EdDSA PS256 RS256"'
    )


# -- bearer extraction ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "Bearer abc.DEF-_~+/123",
        "bearer abc.DEF-_~+/123",
        "BEARER abc.DEF-_~+/123",
        "BeArEr abc.DEF-_~+/123",
        "  Bearer   abc.DEF-_~+/123  ",
    ],
)
def test_bearer_scheme_is_case_insensitive(value: str) -> None:
    assert extract_bearer([value]) == "abc.DEF-_~+/123"


def test_bearer_token_may_end_with_padding() -> None:
    assert extract_bearer(["Bearer dG9rZW4="]) == "dG9rZW4="


def test_no_header_is_a_missing_token() -> None:
    with pytest.raises(MissingToken) as refused:
        extract_bearer([])
    assert refused.value.reason == "no_token"


@pytest.mark.parametrize("value", ["Basic dXNlcjpwYXNz", "DPoP abc", "Digest x=y", "", "Bearer"])
def test_other_schemes_are_no_credentials(value: str) -> None:
    if value == "Bearer":
        # A bearer scheme with nothing after it is malformed, not absent.
        with pytest.raises(InvalidRequest):
            extract_bearer([value])
        return
    with pytest.raises(MissingToken) as refused:
        extract_bearer([value])
    assert refused.value.reason == "unsupported_scheme"
    assert headers(refused.value)["WWW-Authenticate"] == "Bearer"


def test_two_authorization_headers_are_400() -> None:
    with pytest.raises(InvalidRequest) as refused:
        extract_bearer(["Bearer abc", "Bearer abc"])
    assert refused.value.reason == "multiple_authorization_headers"
    with pytest.raises(InvalidRequest):
        extract_bearer(["Bearer abc", "Basic dXNlcjpwYXNz"])


@pytest.mark.parametrize(
    "value",
    [
        "Bearer ",
        "Bearer a b",
        "Bearer abc, Bearer def",  # repeated headers folded into one
        "Bearer a=b",
        "Bearer ===",
        'Bearer "abc"',
        "Bearer ab\tc",
        "Bearer abc;",
        "Bearer tökén",
    ],
)
def test_malformed_credentials_are_400(value: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        extract_bearer([value])
    assert refused.value.status == 400


def test_token_in_the_query_is_not_used() -> None:
    with pytest.raises(MissingToken) as refused:
        extract_bearer([], token_in_query=True)
    assert refused.value.reason == "token_in_query"
    with pytest.raises(InvalidRequest) as both:
        extract_bearer(["Bearer abc"], token_in_query=True)
    assert both.value.reason == "multiple_methods"


# -- Guard.authorize: the whole decision -------------------------------------------------------


@pytest.fixture
def guard(issuer: LocalIssuer, validator: TokenValidator) -> Guard:
    return Guard(validator=validator)


def test_authorize(issuer: LocalIssuer, guard: Guard) -> None:
    token = issuer.mint(scopes="read write")
    needs_read = Requirement.of(all_of=["read"])
    assert guard.authorize(sent([f"Bearer {token}"]), needs_read).scopes == {"read", "write"}
    assert guard.authorize(sent([f"bearer {token}"])).subject == "user-123"
    with pytest.raises(InsufficientScope) as refused:
        guard.authorize(sent([f"Bearer {token}"]), Requirement.of(any_of=["admin", "owner"]))
    assert refused.value.scope == ("admin", "owner")
    with pytest.raises(InvalidToken):
        guard.authorize(sent([f"Bearer {issuer.mint(aud='https://other.example.com')}"]))
    with pytest.raises(MissingToken):
        guard.authorize(sent([]))
    with pytest.raises(InvalidRequest):
        guard.authorize(sent([f"Bearer {token}", f"Bearer {token}"]))
    with pytest.raises(InvalidRequest):
        guard.authorize(sent([f"Bearer {token}"], token_in_query=True))


@pytest.mark.anyio
async def test_authorize_async(issuer: LocalIssuer, guard: Guard) -> None:
    token = issuer.mint(scopes="read")
    assert (await guard.authorize_async(sent([f"Bearer {token}"]))).scopes == {"read"}
    with pytest.raises(InsufficientScope):
        await guard.authorize_async(sent([f"Bearer {token}"]), Requirement.of(all_of=["write"]))


def test_answers_never_carry_the_reason_or_the_hint(issuer: LocalIssuer, guard: Guard) -> None:
    wrong = issuer.mint(aud="https://issuer.example.com/userinfo")
    with pytest.raises(InvalidToken) as refused:
        guard.authorize(sent([f"Bearer {wrong}"]))
    result = guard.answer(refused.value)
    text = result.body.decode() + repr(result.headers)
    assert refused.value.hint is not None
    assert "userinfo" not in text
    assert AUDIENCE not in text
    assert "aud_mismatch" not in text
    assert wrong not in text


def test_keys_unavailable_through_the_guard(issuer: LocalIssuer, guard: Guard) -> None:
    issuer.set_mode("error")
    with pytest.raises(KeysUnavailable) as refused:
        guard.authorize(sent([f"Bearer {issuer.mint()}"]))
    result = guard.answer(refused.value)
    assert result.status == 503
    assert dict(result.headers)["Retry-After"] == "5"


@pytest.mark.parametrize(
    "token",
    ["abc.DEF-_~+/123", "dG9rZW4=", "a==", "", "=", "a b", "a\tb", "a,b", "é", "a=b", "a.b\n"],
)
def test_the_byte_check_agrees_with_the_header_checks(token: str) -> None:
    """Guard checks a token that came exactly as ``Bearer <token>`` as bytes."""
    raw = token.encode("utf-8")
    try:
        check_b64token(token)
        b64token = True
    except InvalidRequest:
        b64token = False
    assert is_well_formed(raw) is b64token
    try:
        check_compact(token, "x-token")
        compact = True
    except InvalidRequest:
        compact = False
    assert is_well_formed(raw, compact=True) is compact
