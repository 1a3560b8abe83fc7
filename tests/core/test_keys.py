"""Discovery and the key cache, against a real LocalIssuer over HTTP."""

from __future__ import annotations

import base64
import logging
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import jwt
import pytest
from jwt.algorithms import RSAAlgorithm

from audmw import Guard, InvalidToken, KeysUnavailable, Settings, TokenValidator
from audmw.keys import discovery_urls
from audmw.testing import LocalIssuer, SigningKey, generate_key

from .conftest import AUDIENCE, Clock, MakeValidator


@pytest.fixture(scope="session")
def spare_rsa_key() -> SigningKey:
    """An RSA key the issuer does not publish unless a test adds it."""
    return generate_key("rsa", kid="spare-rsa")


@pytest.fixture(scope="session")
def weak_rsa_key() -> SigningKey:
    return generate_key("rsa", kid="weak-rsa", rsa_bits=1024)


def fresh(issuer: LocalIssuer, **options: Any) -> str:
    """A token that is not in the verified-token cache yet, valid for an hour."""
    options.setdefault("expires_in", 3600)
    return issuer.mint(**options)


# -- discovery -----------------------------------------------------------------------------


def test_discovery_urls() -> None:
    assert discovery_urls("https://idp.example.com") == (
        "https://idp.example.com/.well-known/openid-configuration",
        "https://idp.example.com/.well-known/oauth-authorization-server",
    )
    assert discovery_urls("https://idp.example.com/tenant1/") == (
        "https://idp.example.com/tenant1/.well-known/openid-configuration",
        "https://idp.example.com/.well-known/oauth-authorization-server/tenant1",
    )


def test_openid_discovery_comes_first(issuer: LocalIssuer, validator: TokenValidator) -> None:
    assert validator.validate(issuer.mint()).subject == "user-123"
    assert issuer.requests == ["/.well-known/openid-configuration", "/jwks.json"]


def test_rfc8414_fallback_inserts_well_known_before_the_path(
    signing_keys: list[SigningKey], clock: Clock
) -> None:
    with LocalIssuer(path="/tenant1", discovery="oauth", keys=signing_keys) as issuer:
        validator = TokenValidator(Settings(issuer=issuer.issuer, audience=AUDIENCE), clock=clock)
        assert issuer.issuer.endswith("/tenant1")
        assert validator.validate(issuer.mint()).issuer == issuer.issuer
        assert issuer.requests == [
            "/tenant1/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server/tenant1",
            "/tenant1/jwks.json",
        ]


def test_no_discovery_document_means_keys_unavailable(
    signing_keys: list[SigningKey], clock: Clock
) -> None:
    with LocalIssuer(discovery="none", keys=signing_keys) as issuer:
        validator = TokenValidator(Settings(issuer=issuer.issuer, audience=AUDIENCE), clock=clock)
        with pytest.raises(KeysUnavailable):
            validator.validate(issuer.mint())
        assert issuer.jwks_requests == 0


@pytest.mark.parametrize("suffix", ["/", "/other", "x"])
def test_metadata_naming_another_issuer_is_not_used(
    issuer: LocalIssuer,
    validator: TokenValidator,
    suffix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    issuer.issuer_override = issuer.issuer + suffix
    with caplog.at_level(logging.INFO, logger="audmw"), pytest.raises(KeysUnavailable):
        validator.validate(issuer.mint())
    assert issuer.jwks_requests == 0
    assert "names issuer" in caplog.text
    assert "set the issuer exactly" in caplog.text


def test_configured_jwks_uri_skips_discovery(
    issuer: LocalIssuer, make_validator: MakeValidator
) -> None:
    validator = make_validator(jwks_uri=issuer.jwks_uri)
    validator.validate(issuer.mint())
    assert issuer.requests == ["/jwks.json"]


def test_nothing_is_fetched_at_construction(issuer: LocalIssuer) -> None:
    settings = Settings(issuer=issuer.issuer, audience=AUDIENCE)
    TokenValidator(settings)
    Guard(settings)
    assert issuer.requests == []


def test_an_app_starts_while_the_issuer_is_down(issuer: LocalIssuer) -> None:
    settings = Settings(issuer=issuer.issuer, audience=AUDIENCE)
    token = issuer.mint()
    issuer.stop()
    validator = TokenValidator(settings)  # does not raise
    with pytest.raises(KeysUnavailable):
        validator.validate(token)


# -- TTL and Cache-Control -------------------------------------------------------------------


def test_keys_are_cached_for_the_default_ttl(
    issuer: LocalIssuer, validator: TokenValidator, clock: Clock
) -> None:
    validator.validate(fresh(issuer))
    assert issuer.jwks_requests == 1
    clock.advance(599)
    validator.validate(fresh(issuer))
    assert issuer.jwks_requests == 1
    clock.advance(2)
    validator.validate(fresh(issuer))
    assert issuer.jwks_requests == 2


def test_configured_ttl(issuer: LocalIssuer, make_validator: MakeValidator, clock: Clock) -> None:
    validator = make_validator(jwks_ttl=100)
    validator.validate(fresh(issuer))
    clock.advance(99)
    validator.validate(fresh(issuer))
    assert issuer.jwks_requests == 1
    clock.advance(2)
    validator.validate(fresh(issuer))
    assert issuer.jwks_requests == 2


@pytest.fixture
def max_age_issuer(signing_keys: list[SigningKey]) -> Iterator[LocalIssuer]:
    with LocalIssuer(jwks_max_age=120, keys=signing_keys) as issuer:
        yield issuer


def test_cache_control_max_age_sets_the_ttl(max_age_issuer: LocalIssuer, clock: Clock) -> None:
    issuer = max_age_issuer
    validator = TokenValidator(Settings(issuer=issuer.issuer, audience=AUDIENCE), clock=clock)
    validator.validate(fresh(issuer))
    clock.advance(119)
    validator.validate(fresh(issuer))
    assert issuer.jwks_requests == 1
    clock.advance(2)
    validator.validate(fresh(issuer))
    assert issuer.jwks_requests == 2


@pytest.mark.parametrize(("max_age", "ttl"), [(0, 60), (5, 60), (3600, 3600), (10**8, 86_400)])
def test_cache_control_max_age_is_bounded(
    signing_keys: list[SigningKey], clock: Clock, max_age: int, ttl: int
) -> None:
    with LocalIssuer(jwks_max_age=max_age, keys=signing_keys) as issuer:
        validator = TokenValidator(Settings(issuer=issuer.issuer, audience=AUDIENCE), clock=clock)
        validator.validate(fresh(issuer))
        assert validator.keys[issuer.issuer].expires_at == clock.now + ttl


# -- one fetch in flight ------------------------------------------------------------------------


def test_threads_on_a_cold_cache_share_one_fetch(
    issuer: LocalIssuer, validator: TokenValidator
) -> None:
    tokens = [fresh(issuer, alg="ES256") for _ in range(16)]
    barrier = threading.Barrier(len(tokens))
    results: list[object] = []

    def work(token: str) -> None:
        barrier.wait()
        try:
            results.append(validator.validate(token).subject)
        except Exception as exc:  # collected and asserted below
            results.append(exc)

    threads = [threading.Thread(target=work, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["user-123"] * len(tokens)
    assert issuer.jwks_requests == 1
    assert issuer.discovery_requests == 1


@pytest.mark.anyio
async def test_a_thousand_concurrent_async_validations_make_one_fetch(
    issuer: LocalIssuer, validator: TokenValidator
) -> None:
    tokens = [fresh(issuer, alg="ES256", sub=f"user-{n}") for n in range(1000)]
    subjects: list[str | None] = []

    async def work(token: str) -> None:
        subjects.append((await validator.validate_async(token)).subject)

    async with anyio.create_task_group() as group:
        for token in tokens:
            group.start_soon(work, token)
    assert sorted(subjects, key=str) == sorted((f"user-{n}" for n in range(1000)), key=str)
    assert issuer.jwks_requests == 1
    assert issuer.discovery_requests == 1


@pytest.mark.anyio
async def test_async_fetch_does_not_block_the_event_loop(issuer: LocalIssuer) -> None:
    validator = TokenValidator(Settings(issuer=issuer.issuer, audience=AUDIENCE, http_timeout=0.5))
    token = issuer.mint()
    issuer.set_mode("hang")
    ticks = 0
    finished = anyio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not finished.is_set():
            ticks += 1
            await anyio.sleep(0.01)

    async def check() -> None:
        try:
            with pytest.raises(KeysUnavailable):
                await validator.validate_async(token)
        finally:
            finished.set()

    async with anyio.create_task_group() as group:
        group.start_soon(ticker)
        ticks_before = ticks
        group.start_soon(check)
    # A blocking fetch would have frozen the ticker for the whole timeout.
    assert ticks > ticks_before + 1


# -- unknown kid ------------------------------------------------------------------------------


def test_a_flood_of_unknown_kids_makes_at_most_one_refetch(
    issuer: LocalIssuer, validator: TokenValidator, clock: Clock
) -> None:
    validator.validate(fresh(issuer))
    assert issuer.jwks_requests == 1
    clock.advance(31)  # past the refresh cooldown: one refetch is allowed
    for _ in range(1000):
        token = fresh(issuer, alg="ES256", kid=uuid.uuid4().hex)
        with pytest.raises(InvalidToken) as refused:
            validator.validate(token)
        assert refused.value.reason == "unknown_kid"
    assert issuer.jwks_requests == 2


@pytest.mark.anyio
async def test_a_concurrent_flood_of_unknown_kids_makes_at_most_one_refetch(
    issuer: LocalIssuer, validator: TokenValidator, clock: Clock
) -> None:
    await validator.validate_async(fresh(issuer))
    clock.advance(31)
    tokens = [fresh(issuer, alg="ES256", kid=uuid.uuid4().hex) for _ in range(1000)]
    reasons: list[str] = []

    async def work(token: str) -> None:
        try:
            await validator.validate_async(token)
        except InvalidToken as error:
            reasons.append(error.reason)

    async with anyio.create_task_group() as group:
        for token in tokens:
            group.start_soon(work, token)
    assert reasons == ["unknown_kid"] * 1000
    assert issuer.jwks_requests == 2


def test_a_rotated_key_is_picked_up_after_the_cooldown(
    issuer: LocalIssuer, validator: TokenValidator, clock: Clock
) -> None:
    validator.validate(fresh(issuer))
    issuer.rotate("RS256")
    rotated = fresh(issuer)
    with pytest.raises(InvalidToken) as refused:
        validator.validate(rotated)  # the fetch moments ago did not have it: wait the cooldown
    assert refused.value.reason == "unknown_kid"
    assert issuer.jwks_requests == 1
    clock.advance(30)
    assert validator.validate(rotated).subject == "user-123"
    assert issuer.jwks_requests == 2


def test_new_material_under_a_known_kid_is_used_once_the_set_is_refetched(
    issuer: LocalIssuer, validator: TokenValidator, clock: Clock, spare_rsa_key: SigningKey
) -> None:
    """Keys are looked up by kid per key set: a refetched set must not answer with old keys."""
    before = fresh(issuer)
    kid = jwt.get_unverified_header(before)["kid"]
    validator.validate(before)
    issuer.add_key(SigningKey(kid, "rsa", spare_rsa_key.private_key))
    after = fresh(issuer)
    assert jwt.get_unverified_header(after)["kid"] == kid
    with pytest.raises(InvalidToken) as refused:
        validator.validate(after)  # the kid is known: no refetch before the set expires
    assert refused.value.reason == "bad_signature"
    clock.advance(601)
    assert validator.validate(after).subject == "user-123"
    with pytest.raises(InvalidToken) as retired:
        validator.validate(before)  # its key is gone: the cached verification no longer counts
    assert retired.value.reason == "bad_signature"
    assert issuer.jwks_requests == 2


def test_an_answer_computed_from_a_replaced_key_set_is_never_served(
    issuer: LocalIssuer, validator: TokenValidator, clock: Clock, spare_rsa_key: SigningKey
) -> None:
    """A thread still looking at the old set when another refreshes it stores its answer late.

    That answer must land with the old set, not be served for the new one (where the old key,
    no longer published, would verify tokens again).
    """
    token = fresh(issuer)
    kid = jwt.get_unverified_header(token)["kid"]
    validator.validate(token)
    keys = validator.keys[issuer.issuer]
    old_answer = keys.candidates(kid, "RS256")
    _old_set, _old_index, old_memo = keys._candidates
    issuer.add_key(SigningKey(kid, "rsa", spare_rsa_key.private_key))
    clock.advance(601)
    keys.refresh(keys.generation)
    keys.candidates(kid, "RS256")  # a faster thread's first look at the new set
    old_memo[(kid, "RS256")] = old_answer  # then the late store of the slower one
    (current,), known = keys.candidates(kid, "RS256")
    assert known
    assert current is not old_answer[0][0]
    assert current.key.public_numbers() == spare_rsa_key.private_key.public_key().public_numbers()


def test_custom_cooldown(issuer: LocalIssuer, make_validator: MakeValidator, clock: Clock) -> None:
    validator = make_validator(jwks_refresh_cooldown=300)
    validator.validate(fresh(issuer))
    issuer.rotate("RS256")
    rotated = fresh(issuer)
    clock.advance(200)
    with pytest.raises(InvalidToken):
        validator.validate(rotated)
    assert issuer.jwks_requests == 1
    clock.advance(100)
    validator.validate(rotated)
    assert issuer.jwks_requests == 2


# -- failures -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["error", "garbage"])
def test_a_failed_refresh_keeps_the_last_good_keys(
    issuer: LocalIssuer,
    validator: TokenValidator,
    clock: Clock,
    mode: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    validator.validate(fresh(issuer))
    issuer.set_mode(mode)
    clock.advance(601)  # the key set has expired
    with caplog.at_level(logging.WARNING, logger="audmw"):
        assert validator.validate(fresh(issuer)).subject == "user-123"
    assert issuer.jwks_requests == 2  # it did try
    assert "still using the last good keys" in caplog.text
    # No retry storm while the issuer is failing: the next attempt waits jwks_retry_after.
    validator.validate(fresh(issuer))
    clock.advance(4)
    validator.validate(fresh(issuer))
    assert issuer.jwks_requests == 2
    issuer.set_mode("ok")
    clock.advance(2)
    validator.validate(fresh(issuer))
    assert issuer.jwks_requests == 3
    assert validator.keys[issuer.issuer].failed_at is None


def test_unknown_kid_while_the_issuer_fails_is_unavailable_not_invalid(
    issuer: LocalIssuer, validator: TokenValidator, clock: Clock
) -> None:
    validator.validate(fresh(issuer))
    issuer.set_mode("error")
    issuer.rotate("RS256")
    clock.advance(31)
    with pytest.raises(KeysUnavailable):
        validator.validate(fresh(issuer))


@pytest.mark.parametrize("mode", ["error", "garbage"])
def test_keys_unavailable_when_the_issuer_fails_from_the_start(
    issuer: LocalIssuer, make_validator: MakeValidator, clock: Clock, mode: Any
) -> None:
    validator = make_validator(jwks_retry_after=7)
    issuer.set_mode(mode)
    with pytest.raises(KeysUnavailable) as refused:
        validator.validate(fresh(issuer))
    assert refused.value.status == 503
    assert refused.value.reason == "keys_unavailable"
    assert refused.value.retry_after == 7
    requests = len(issuer.requests)
    clock.advance(3)
    with pytest.raises(KeysUnavailable) as again:
        validator.validate(fresh(issuer))
    assert again.value.retry_after == 4
    assert len(issuer.requests) == requests  # no fetch before the retry time
    issuer.set_mode("ok")
    clock.advance(4)
    assert validator.validate(fresh(issuer)).subject == "user-123"


def test_keys_unavailable_when_nothing_listens(issuer: LocalIssuer) -> None:
    validator = TokenValidator(Settings(issuer=issuer.issuer, audience=AUDIENCE))
    token = issuer.mint()
    issuer.stop()
    with pytest.raises(KeysUnavailable) as refused:
        validator.validate(token)
    assert refused.value.retry_after == 5


def test_a_hanging_issuer_times_out(issuer: LocalIssuer, make_validator: MakeValidator) -> None:
    validator = make_validator(http_timeout=0.3)
    issuer.set_mode("hang")
    with pytest.raises(KeysUnavailable):
        validator.validate(issuer.mint())


@pytest.mark.anyio
async def test_a_hanging_issuer_times_out_async(issuer: LocalIssuer) -> None:
    validator = TokenValidator(Settings(issuer=issuer.issuer, audience=AUDIENCE, http_timeout=0.3))
    issuer.set_mode("hang")
    with pytest.raises(KeysUnavailable):
        await validator.validate_async(issuer.mint())


class RecordingTransport(httpx.HTTPTransport):
    """The real transport, noting the timeouts each request was sent with."""

    def __init__(self) -> None:
        super().__init__()
        self.timeouts: list[dict[str, float | None]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.timeouts.append(request.extensions["timeout"])
        return super().handle_request(request)


class AsyncRecordingTransport(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.timeouts: list[dict[str, float | None]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.timeouts.append(request.extensions["timeout"])
        return await super().handle_async_request(request)


@pytest.mark.anyio
async def test_every_fetch_carries_the_configured_timeout(issuer: LocalIssuer) -> None:
    transport, async_transport = RecordingTransport(), AsyncRecordingTransport()
    settings = Settings(issuer=issuer.issuer, audience=AUDIENCE, http_timeout=1.5)
    TokenValidator(settings, transport=transport).validate(issuer.mint())
    await TokenValidator(settings, async_transport=async_transport).validate_async(issuer.mint())
    expected = {"connect": 1.5, "read": 1.5, "write": 1.5, "pool": 1.5}
    assert transport.timeouts == [expected, expected]  # discovery, JWKS
    assert async_transport.timeouts == [expected, expected]


@pytest.mark.anyio
async def test_jwks_larger_than_the_cap_is_refused(issuer: LocalIssuer) -> None:
    size = len(httpx.get(issuer.jwks_uri).content)
    small = Settings(
        issuer=issuer.issuer, audience=AUDIENCE, jwks_uri=issuer.jwks_uri, jwks_max_bytes=size - 1
    )
    with pytest.raises(KeysUnavailable):
        TokenValidator(small).validate(issuer.mint())
    with pytest.raises(KeysUnavailable):
        await TokenValidator(small).validate_async(issuer.mint())
    enough = Settings(
        issuer=issuer.issuer, audience=AUDIENCE, jwks_uri=issuer.jwks_uri, jwks_max_bytes=size
    )
    assert TokenValidator(enough).validate(issuer.mint()).subject == "user-123"


# -- which keys are used --------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"use": "enc"}, "unknown_kid"),
        ({"use": "SIG"}, "unknown_kid"),
        ({"key_ops": ["encrypt"]}, "unknown_kid"),
        ({"key_ops": "verify"}, "unknown_kid"),
        ({"alg": "RS512"}, "key_alg_mismatch"),
        ({"alg": "PS256"}, "key_alg_mismatch"),
        ({"alg": "HS256"}, "unknown_kid"),
        ({"kid": 7}, "unknown_kid"),
    ],
)
def test_unusable_keys_are_filtered(
    issuer: LocalIssuer,
    validator: TokenValidator,
    spare_rsa_key: SigningKey,
    change: dict[str, Any],
    reason: str,
) -> None:
    issuer.extra_jwks.append({**spare_rsa_key.public_jwk(), **change})
    with pytest.raises(InvalidToken) as refused:
        validator.validate(issuer.mint(key=spare_rsa_key, kid="spare-rsa"))
    assert refused.value.reason == reason
    # The issuer's usable keys still work beside the unusable one.
    assert validator.validate(issuer.mint()).subject == "user-123"


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"use": "sig"},
        {"key_ops": ["verify"]},
        {"key_ops": ["sign", "verify"]},
        {"alg": "RS256"},
    ],
)
def test_usable_keys_are_kept(
    issuer: LocalIssuer,
    validator: TokenValidator,
    spare_rsa_key: SigningKey,
    change: dict[str, Any],
) -> None:
    jwk = {**spare_rsa_key.public_jwk(), **change}
    if not change:
        del jwk["use"]
    issuer.extra_jwks.append(jwk)
    token = issuer.mint(key=spare_rsa_key)
    assert validator.validate(token).subject == "user-123"


def test_a_jwk_with_private_members_is_not_used(
    issuer: LocalIssuer, validator: TokenValidator, spare_rsa_key: SigningKey
) -> None:
    private = RSAAlgorithm.to_jwk(spare_rsa_key.private_key, as_dict=True)
    private.pop("key_ops", None)  # PyJWT adds ["sign"]; without it only the members tell
    issuer.extra_jwks.append({**private, "kid": "spare-rsa", "use": "sig"})
    with pytest.raises(InvalidToken) as refused:
        validator.validate(issuer.mint(key=spare_rsa_key))
    assert refused.value.reason == "unknown_kid"


def test_rsa_keys_under_2048_bits_are_not_used(
    issuer: LocalIssuer, validator: TokenValidator, weak_rsa_key: SigningKey
) -> None:
    issuer.add_key(weak_rsa_key, current=False)
    assert weak_rsa_key.kid in {jwk["kid"] for jwk in issuer.jwks()["keys"]}
    with pytest.raises(InvalidToken) as refused:
        validator.validate(issuer.mint(key=weak_rsa_key))
    assert refused.value.reason == "unknown_kid"
    assert validator.validate(issuer.mint()).subject == "user-123"


def test_symmetric_keys_in_a_jwks_are_never_used(
    issuer: LocalIssuer, make_validator: MakeValidator
) -> None:
    shared = b"k" * 32
    issuer.extra_jwks.append({"kty": "oct", "k": _b64(shared), "kid": "shared", "alg": "HS256"})
    validator = make_validator(algorithms=["RS256", "HS256"], hmac_secret=b"s" * 32)
    validator.validate(issuer.mint())
    loaded = validator.keys[issuer.issuer].keys
    assert "shared" not in {key.kid for key in loaded}
    assert {key.kty for key in loaded} <= {"RSA", "EC", "OKP"}
    with pytest.raises(InvalidToken) as refused:
        validator.validate(issuer.mint(alg="HS256", key=shared, kid="shared"))
    assert refused.value.reason == "bad_signature"


def test_malformed_keys_are_skipped(issuer: LocalIssuer, validator: TokenValidator) -> None:
    issuer.extra_jwks.extend(
        [
            {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
            {"kty": "EC", "kid": "badcurve", "crv": "P-192", "x": "AA", "y": "AA"},
            {"kty": "OKP", "kid": "x25519", "crv": "X25519", "x": "AA"},
            {"kty": "EC", "kid": "noxy", "crv": "P-256"},
        ]
    )
    assert validator.validate(issuer.mint()).subject == "user-123"
    kids = {key.kid for key in validator.keys[issuer.issuer].keys}
    assert kids.isdisjoint({"broken", "badcurve", "x25519", "noxy"})


@pytest.mark.anyio
async def test_a_json_document_without_keys_is_no_jwks(issuer: LocalIssuer) -> None:
    settings = Settings(
        issuer=issuer.issuer,
        audience=AUDIENCE,
        jwks_uri=issuer.issuer + "/.well-known/openid-configuration",
    )
    with pytest.raises(KeysUnavailable):
        TokenValidator(settings).validate(issuer.mint())
    with pytest.raises(KeysUnavailable):
        await TokenValidator(settings).validate_async(issuer.mint())


def test_a_jwks_with_odd_entries_keeps_its_usable_keys(
    issuer: LocalIssuer, validator: TokenValidator
) -> None:
    issuer.extra_jwks.extend([["not", "a", "dict"], "string", 7, None])
    assert validator.validate(issuer.mint()).subject == "user-123"
