"""Claim values a trusted issuer could still get wrong: absurd dates, odd scope separators."""

from __future__ import annotations

import json
import time

import pytest

from audmw import InvalidToken, Settings, TokenValidator
from audmw.testing import LocalIssuer, sign_compact

AUDIENCE = "https://api.example.com"


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    with LocalIssuer() as local:
        yield local


@pytest.fixture
def validator(issuer: LocalIssuer) -> TokenValidator:
    return TokenValidator(Settings(issuer=issuer.issuer, audience=AUDIENCE))


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", [10**400, -(10**400), float(2**60)])
def test_dates_that_are_no_time_are_refused(
    issuer: LocalIssuer, validator: TokenValidator, claim: str, value: float
) -> None:
    with pytest.raises(InvalidToken) as refused:
        validator.validate(issuer.mint(**{claim: value}))
    assert refused.value.reason == f"bad_{claim}"


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
def test_a_json_number_too_large_for_a_float_is_refused(
    issuer: LocalIssuer, validator: TokenValidator, claim: str
) -> None:
    # The JSON text 1e400 parses as infinity: a token that would never expire.
    now = int(time.time())
    dates = {"exp": now + 300, "iat": now, claim: "__HUGE__"}
    payload = {"iss": issuer.issuer, "aud": AUDIENCE, "sub": "s", **dates}
    body = json.dumps(payload).replace('"__HUGE__"', "1e400").encode()
    key = issuer.key_for("RS256")
    token = sign_compact({"alg": "RS256", "kid": key.kid}, body, key.private_key)
    with pytest.raises(InvalidToken) as refused:
        validator.validate(token)
    assert refused.value.reason == f"bad_{claim}"


def test_a_far_but_real_expiry_still_passes(issuer: LocalIssuer, validator: TokenValidator) -> None:
    assert validator.validate(issuer.mint(exp=4_102_444_800)).expires_at == 4_102_444_800


def test_only_spaces_separate_scopes(issuer: LocalIssuer, validator: TokenValidator) -> None:
    token = validator.validate(issuer.mint(scopes="read\x1fadmin  write\tall  profile"))
    assert token.scopes == {"read\x1fadmin", "write\tall", "profile"}
    assert "admin" not in token.scopes
