"""The verified-token cache: hits skip verification, time checks still run, bounded, by digest."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from audmw import (
    Guard,
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    Requirement,
    TokenValidator,
)
from audmw import validator as validator_module
from audmw.cache import VerifiedTokens
from audmw.testing import LocalIssuer
from audmw.token import AccessToken

from .conftest import Clock, MakeValidator
from .crafting import sent


class CountingAlgorithm:
    """The real algorithm object, counting signature verifications."""

    def __init__(self, algorithm: Any) -> None:
        self.algorithm = algorithm
        self.verifications = 0

    def verify(self, message: bytes, key: Any, signature: bytes) -> bool:
        self.verifications += 1
        result: bool = self.algorithm.verify(message, key, signature)
        return result


@pytest.fixture
def rs256(monkeypatch: pytest.MonkeyPatch) -> CountingAlgorithm:
    counting = CountingAlgorithm(validator_module._ALGORITHMS["RS256"])
    monkeypatch.setitem(validator_module._ALGORITHMS, "RS256", counting)
    return counting


def long_lived(issuer: LocalIssuer, **claims: Any) -> str:
    return issuer.mint(expires_in=3600, **claims)


def test_a_hit_skips_verification(
    issuer: LocalIssuer, validator: TokenValidator, rs256: CountingAlgorithm
) -> None:
    token = long_lived(issuer)
    first = validator.validate(token)
    assert validator.validate(token) is first
    assert rs256.verifications == 1


@pytest.mark.anyio
async def test_a_hit_skips_verification_async(
    issuer: LocalIssuer, validator: TokenValidator, rs256: CountingAlgorithm
) -> None:
    token = long_lived(issuer)
    first = await validator.validate_async(token)
    assert await validator.validate_async(token) is first
    assert validator.validate(token) is first
    assert rs256.verifications == 1


def test_size_zero_disables_the_cache(
    issuer: LocalIssuer, make_validator: MakeValidator, rs256: CountingAlgorithm
) -> None:
    validator = make_validator(token_cache_size=0)
    token = long_lived(issuer)
    validator.validate(token)
    validator.validate(token)
    assert rs256.verifications == 2
    assert len(validator.cache) == 0


def test_the_cache_is_bounded(
    issuer: LocalIssuer, make_validator: MakeValidator, rs256: CountingAlgorithm
) -> None:
    validator = make_validator(token_cache_size=2)
    first, second, third = (long_lived(issuer) for _ in range(3))
    for token in (first, second, third):
        validator.validate(token)
    assert len(validator.cache) == 2
    assert rs256.verifications == 3
    validator.validate(third)
    validator.validate(second)
    assert rs256.verifications == 3
    validator.validate(first)  # evicted: verified again
    assert rs256.verifications == 4
    assert len(validator.cache) == 2


def test_keyed_by_digest_never_by_the_token(issuer: LocalIssuer, validator: TokenValidator) -> None:
    token = long_lived(issuer)
    validator.validate(token)
    assert validator.cache.keys() == [hashlib.sha256(token.encode()).digest()]
    (key,) = validator.cache.keys()
    assert isinstance(key, bytes)
    assert len(key) == 32
    stored = repr(validator.cache) + repr(validator.cache.keys())
    for part in [token, *token.split(".")]:
        assert part not in stored
        assert part.encode() not in key


def test_refusals_are_not_cached(
    issuer: LocalIssuer, validator: TokenValidator, rs256: CountingAlgorithm
) -> None:
    token = long_lived(issuer, aud="https://other.example.com")
    for _ in range(2):
        with pytest.raises(InvalidToken):
            validator.validate(token)
    assert len(validator.cache) == 0
    assert rs256.verifications == 2


def test_time_checks_still_run_on_a_hit(
    issuer: LocalIssuer, validator: TokenValidator, clock: Clock, rs256: CountingAlgorithm
) -> None:
    token = issuer.mint(expires_in=60)
    validator.validate(token)
    clock.advance(60 + 29)  # expired, but within the leeway
    validator.validate(token)
    assert rs256.verifications == 1
    clock.advance(2)
    with pytest.raises(InvalidToken) as refused:
        validator.validate(token)
    assert refused.value.reason == "expired"
    assert len(validator.cache) == 0


def test_a_hit_needs_no_keys(
    issuer: LocalIssuer, validator: TokenValidator, clock: Clock, rs256: CountingAlgorithm
) -> None:
    token = long_lived(issuer)
    validator.validate(token)
    issuer.stop()
    clock.advance(601)  # the key set has expired and the issuer is gone
    assert validator.validate(token).subject == "user-123"
    assert rs256.verifications == 1


def test_a_key_removed_from_the_jwks_invalidates_its_tokens(
    issuer: LocalIssuer, validator: TokenValidator, clock: Clock, rs256: CountingAlgorithm
) -> None:
    old = long_lived(issuer)
    kept = long_lived(issuer, alg="ES256")
    validator.validate(old)
    validator.validate(kept)
    issuer.rotate("RS256", keep_old=False)
    clock.advance(601)
    validator.validate(long_lived(issuer))  # new key: the JWKS is fetched again
    assert issuer.jwks_requests == 2
    with pytest.raises(InvalidToken) as refused:
        validator.validate(old)
    assert refused.value.reason == "unknown_kid"
    # A key still published keeps its cached tokens across the refresh.
    verifications = rs256.verifications
    assert validator.validate(kept).subject == "user-123"
    assert rs256.verifications == verifications
    assert validator.validate(kept) is validator.validate(kept)


def test_scopes_are_checked_per_request(
    issuer: LocalIssuer, validator: TokenValidator, rs256: CountingAlgorithm
) -> None:
    guard = Guard(validator=validator)
    header = [f"Bearer {long_lived(issuer, scopes='read')}"]
    assert guard.authorize(sent(header), Requirement.of(all_of=["read"])).scopes == {"read"}
    with pytest.raises(InsufficientScope):
        guard.authorize(sent(header), Requirement.of(all_of=["admin"]))
    assert guard.authorize(sent(header)).subject == "user-123"
    assert rs256.verifications == 1


@pytest.mark.parametrize("as_bytes", [False, True], ids=["str", "bytes"])
@pytest.mark.parametrize(
    "form", ["Bearer {}", "bearer {}", "BEARER {}", "Bearer   {}  ", " Bearer {}"]
)
def test_every_accepted_form_of_the_header_finds_the_cached_token(
    issuer: LocalIssuer,
    validator: TokenValidator,
    rs256: CountingAlgorithm,
    form: str,
    as_bytes: bool,
) -> None:
    guard = Guard(validator=validator)
    token = long_lived(issuer)
    guard.authorize(sent([f"Bearer {token}"]))
    value = form.format(token)
    assert guard.authorize(sent([value.encode() if as_bytes else value])).subject == "user-123"
    assert rs256.verifications == 1


@pytest.mark.parametrize("as_bytes", [False, True], ids=["str", "bytes"])
def test_a_cached_token_does_not_excuse_a_malformed_request(
    issuer: LocalIssuer, validator: TokenValidator, as_bytes: bool
) -> None:
    guard = Guard(validator=validator)
    token = long_lived(issuer)
    guard.authorize(sent([f"Bearer {token}"]))

    def header(value: str) -> str | bytes:
        return value.encode() if as_bytes else value

    cases: list[tuple[list[Any], bool, str]] = [
        ([header(f"Bearer {token}")] * 2, False, "multiple_authorization_headers"),
        ([header(f"Bearer {token}")], True, "multiple_methods"),
        ([header(f"Bearer \t{token}")], False, "malformed_authorization"),
    ]
    for values, in_query, reason in cases:
        with pytest.raises(InvalidRequest) as refused:
            guard.authorize(sent(values, token_in_query=in_query))
        assert refused.value.reason == reason


# -- making room: second chance for tokens in use, expired ones first --------------------------


def _token(expires_at: float) -> AccessToken:
    return AccessToken.verified(
        {},
        "user",
        "https://issuer.example.com",
        ("api",),
        frozenset(),
        None,
        expires_at,
        None,
        None,
        "0" * 16,
    )


def _cache(size: int, now: list[float]) -> VerifiedTokens:
    return VerifiedTokens(size, clock=lambda: now[0])


def test_a_token_in_use_outlives_tokens_no_longer_sent() -> None:
    now = [1000.0]
    cache = _cache(3, now)
    for name in (b"in use", b"old 1", b"old 2"):
        cache.remember(name, _token(5000))
    assert cache.get(b"in use") is not None  # the client sends it again
    cache.remember(b"new 1", _token(5000))
    cache.remember(b"new 2", _token(5000))
    # Oldest first would have dropped "in use" first; its hit gave it a second chance.
    assert b"in use" in cache
    assert b"old 1" not in cache
    assert b"old 2" not in cache
    assert cache.evictions == 2


def test_the_second_chance_lasts_one_round() -> None:
    now = [1000.0]
    cache = _cache(2, now)
    cache.remember(b"a", _token(5000))
    cache.remember(b"b", _token(5000))
    cache.get(b"a")
    cache.get(b"b")
    cache.remember(b"c", _token(5000))  # both visited: marks cleared, then the oldest goes
    assert cache.keys() == [b"b", b"c"]
    cache.remember(b"d", _token(5000))  # "b" was passed once already and not hit since
    assert cache.keys() == [b"c", b"d"]
    assert cache.evictions == 2


def test_an_expired_token_goes_first_even_when_it_was_used() -> None:
    now = [1000.0]
    cache = _cache(3, now)
    cache.remember(b"long 1", _token(5000))
    cache.remember(b"long 2", _token(5000))
    cache.remember(b"short", _token(1010))
    for name in (b"long 1", b"long 2", b"short"):
        assert cache.get(name) is not None
    now[0] = 1011.0
    cache.remember(b"new", _token(5000))
    assert b"short" not in cache
    assert {b"long 1", b"long 2", b"new"} == set(cache.keys())
