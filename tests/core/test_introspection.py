"""Opaque tokens checked at the local issuer's introspection endpoint (RFC 7662)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from audmw import Settings
from audmw.errors import AuthError, IntrospectionUnavailable, InvalidToken
from audmw.guard import Guard
from audmw.introspection import IntrospectionVerifier
from audmw.store import MemoryStore
from audmw.testing import LocalIssuer
from audmw.verifier import pending_token

CLIENT, SECRET = "the-api", "introspection-secret-of-the-api"


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer() as local:
        local.register_client(CLIENT, secret=SECRET)
        yield local


@pytest.fixture(autouse=True)
def healthy(issuer: LocalIssuer) -> None:
    issuer.set_mode("ok")


def settings_for(issuer: LocalIssuer, **options: Any) -> Settings:
    values: dict[str, Any] = {
        "issuer": issuer.issuer,
        "audience": issuer.audience,
        "introspection": "opaque",
        "introspection_client_id": CLIENT,
        "introspection_client_secret": SECRET,
        **options,
    }
    return Settings(**values)


def verifier_for(issuer: LocalIssuer, **options: Any) -> IntrospectionVerifier:
    return IntrospectionVerifier(settings_for(issuer, **options))


def check(verifier: IntrospectionVerifier, token: str) -> Any:
    return verifier.verify(pending_token(token, 16384))


def refusal(verifier: IntrospectionVerifier, token: str) -> AuthError:
    with pytest.raises(AuthError) as caught:
        check(verifier, token)
    return caught.value


def introspections(issuer: LocalIssuer) -> int:
    return issuer.token_endpoint.introspection_requests


# -- what the answer must say -------------------------------------------------------------------


def test_an_active_opaque_token_becomes_an_access_token(issuer: LocalIssuer) -> None:
    verifier = verifier_for(issuer)
    token = check(verifier, issuer.mint_opaque(scopes="read write", username="alice"))
    assert token.subject == "user-123"
    assert token.client_id == "test-client"
    assert token.scopes == {"read", "write"}
    assert token.issuer == issuer.issuer
    assert token.audience == (issuer.audience,)
    assert token.claims["username"] == "alice"
    assert "active" not in token.claims


def test_the_endpoint_comes_from_discovery_and_the_client_authenticates(
    issuer: LocalIssuer,
) -> None:
    verifier = verifier_for(issuer)
    check(verifier, issuer.mint_opaque())
    assert verifier.endpoint == issuer.introspection_url


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "https://other.example.com"}, "aud_mismatch"),
        ({"aud": None}, "aud_missing"),
        ({"iss": "https://evil.example.com/"}, "iss_mismatch"),
        ({"expires_in": -120}, "token_inactive"),  # the endpoint itself says inactive
        ({"exp": None}, "exp_missing"),
        ({"exp": time.time() - 60, "expires_in": 3600}, "token_inactive"),
        ({"nbf": time.time() + 600}, "not_yet_valid"),
        ({"token_type": "refresh_token"}, "refresh_token"),
    ],
)
def test_the_answer_is_checked_like_a_jwt(
    issuer: LocalIssuer, claims: dict[str, Any], reason: str
) -> None:
    error = refusal(verifier_for(issuer), issuer.mint_opaque(**claims))
    assert isinstance(error, InvalidToken)
    assert (error.status, error.reason) == (401, reason)


def test_an_expired_exp_in_an_active_answer_is_refused(issuer: LocalIssuer) -> None:
    # A server that says active but gives a past exp: the leeway rule of JWTs applies.
    verifier = verifier_for(issuer, leeway=0)
    token = issuer.mint_opaque()
    # Still active at the server for 30 s (a slow machine included); past at the API's clock.
    issuer.token_endpoint.opaque[token]["exp"] = int(time.time()) + 30
    verifier_clock = IntrospectionVerifier(verifier.settings, clock=lambda: time.time() + 90)
    assert refusal(verifier_clock, token).reason == "expired"


def test_active_must_be_the_json_true(issuer: LocalIssuer) -> None:
    token = issuer.mint_opaque()
    issuer.token_endpoint.opaque[token]["active"] = "true"  # overrides the endpoint's True
    error = refusal(verifier_for(issuer), token)
    assert (error.status, error.reason) == (401, "token_inactive")


def test_a_revoked_token_is_inactive(issuer: LocalIssuer) -> None:
    token = issuer.mint_opaque()
    issuer.revoke(token)
    error = refusal(verifier_for(issuer), token)
    assert (error.status, error.reason, error.error) == (401, "token_inactive", "invalid_token")


def test_required_claims_and_scopes_apply(issuer: LocalIssuer) -> None:
    verifier = verifier_for(issuer, required_claims={"tier": "gold"})
    assert refusal(verifier, issuer.mint_opaque(tier="silver")).reason == "claim_mismatch"
    assert check(verifier, issuer.mint_opaque(tier="gold")).claims["tier"] == "gold"


# -- which tokens go to the endpoint ------------------------------------------------------------


def test_opaque_mode_verifies_jwts_locally(issuer: LocalIssuer) -> None:
    verifier = verifier_for(issuer)
    before = introspections(issuer)
    assert check(verifier, issuer.mint()).subject == "user-123"
    assert introspections(issuer) == before


def test_all_mode_introspects_jwts_too(issuer: LocalIssuer) -> None:
    verifier = verifier_for(issuer, introspection="all")
    jwt = issuer.mint()
    before = introspections(issuer)
    assert check(verifier, jwt).subject == "user-123"
    assert introspections(issuer) == before + 1
    issuer.revoke(jwt)  # a JWT revoked at the issuer: only introspection can know
    assert refusal(verifier_for(issuer, introspection="all"), jwt).reason == "token_inactive"


def test_guard_uses_introspection_when_the_settings_say_so(issuer: LocalIssuer) -> None:
    assert isinstance(Guard(settings_for(issuer)).validator, IntrospectionVerifier)
    assert not isinstance(
        Guard(settings_for(issuer, introspection="off")).validator, IntrospectionVerifier
    )


# -- the cache ----------------------------------------------------------------------------------


def test_a_cached_answer_costs_no_request(issuer: LocalIssuer) -> None:
    guard = Guard(settings_for(issuer))
    token = issuer.mint_opaque()
    pending = pending_token(token, 16384)
    before = introspections(issuer)
    guard.verify(pending)
    assert guard.cache.get(pending.key) is not None  # the next request's lookup finds it
    guard.verify(pending)  # even past the lookup, the store answers
    assert introspections(issuer) == before + 1


def test_the_revocation_window(issuer: LocalIssuer) -> None:
    now = [time.time()]
    settings = settings_for(issuer, introspection_cache_ttl=30)
    verifier = IntrospectionVerifier(
        settings, clock=lambda: now[0], store=MemoryStore(clock=lambda: now[0])
    )
    token = issuer.mint_opaque(expires_in=3600)
    pending = pending_token(token, 16384)
    verifier.verify(pending)
    issuer.revoke(token)
    now[0] += 29  # inside the window: the cached answer still holds
    assert verifier.cache.get(pending.key) is not None
    assert verifier.verify(pending).subject == "user-123"
    now[0] += 2  # past it: asked again, and refused
    assert verifier.cache.get(pending.key) is None
    with pytest.raises(InvalidToken, match="invalid"):
        verifier.verify(pending)


def test_a_cached_answer_never_outlives_exp(issuer: LocalIssuer) -> None:
    now = [time.time()]
    verifier = IntrospectionVerifier(
        settings_for(issuer, introspection_cache_ttl=3600, leeway=0),
        clock=lambda: now[0],
        store=MemoryStore(clock=lambda: now[0]),
    )
    pending = pending_token(issuer.mint_opaque(expires_in=60), 16384)
    verifier.verify(pending)
    now[0] += 61
    assert verifier.cache.get(pending.key) is None
    assert verifier.store.get(b"introspection:" + pending.key) is None


def test_inactive_answers_are_cached_briefly(issuer: LocalIssuer) -> None:
    now = [time.time()]
    verifier = IntrospectionVerifier(
        settings_for(issuer, introspection_negative_ttl=5),
        clock=lambda: now[0],
        store=MemoryStore(clock=lambda: now[0]),
    )
    token = issuer.mint_opaque()
    issuer.revoke(token)
    before = introspections(issuer)
    for _ in range(3):
        assert refusal(verifier, token).reason == "token_inactive"
    assert introspections(issuer) == before + 1
    now[0] += 6
    refusal(verifier, token)
    assert introspections(issuer) == before + 2


def test_two_workers_share_the_redis_cache(issuer: LocalIssuer, redis_url: str) -> None:
    first = verifier_for(issuer, introspection_cache=redis_url)
    second = verifier_for(issuer, introspection_cache=redis_url)
    token = issuer.mint_opaque()
    before = introspections(issuer)
    assert check(first, token).subject == "user-123"
    assert check(second, token).subject == "user-123"
    assert asyncio.run(second.verify_async(pending_token(token, 16384))).subject == "user-123"
    assert introspections(issuer) == before + 1
    revoked = issuer.mint_opaque()
    issuer.revoke(revoked)
    assert refusal(first, revoked).reason == "token_inactive"
    assert refusal(second, revoked).reason == "token_inactive"
    assert introspections(issuer) == before + 2


def test_the_redis_cache_unreachable_is_a_503(issuer: LocalIssuer) -> None:
    verifier = verifier_for(issuer, introspection_cache="redis://127.0.0.1:1/0")
    error = refusal(verifier, issuer.mint_opaque())
    assert error.status == 503


# -- one request in flight per token --------------------------------------------------------------


@pytest.fixture
def gate(issuer: LocalIssuer) -> Iterator[threading.Event]:
    event = threading.Event()
    issuer.token_endpoint.introspection_gate = event
    yield event
    event.set()
    issuer.token_endpoint.introspection_gate = None


def test_one_request_in_flight_for_many_threads(issuer: LocalIssuer, gate: threading.Event) -> None:
    verifier = verifier_for(issuer)
    token = issuer.mint_opaque()
    before = introspections(issuer)
    results: list[str] = []

    def call() -> None:
        results.append(check(verifier, token).subject)

    threads = [threading.Thread(target=call) for _ in range(16)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # all of them reach the verifier while the endpoint holds its answer
    gate.set()
    for thread in threads:
        thread.join(timeout=20)
    assert results == ["user-123"] * 16
    assert introspections(issuer) == before + 1


def test_one_request_in_flight_for_many_tasks(issuer: LocalIssuer, gate: threading.Event) -> None:
    verifier = verifier_for(issuer)
    token = issuer.mint_opaque()
    before = introspections(issuer)

    async def many() -> list[str]:
        asyncio.get_running_loop().call_later(0.3, gate.set)
        pending = pending_token(token, 16384)
        found = await asyncio.gather(*(verifier.verify_async(pending) for _ in range(16)))
        return [token.subject or "" for token in found]

    assert asyncio.run(many()) == ["user-123"] * 16
    assert introspections(issuer) == before + 1


# -- faults -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "reason", "attempts"),
    [
        ("error", "introspection_failed", 2),  # a 5xx is retried once, then refused
        ("garbage", "introspection_malformed", 1),
        ("huge", "introspection_malformed", 1),
    ],
)
def test_a_failing_endpoint_is_a_503_never_an_accept(
    issuer: LocalIssuer, mode: str, reason: str, attempts: int
) -> None:
    verifier = verifier_for(issuer, introspection_endpoint=issuer.introspection_url)
    token = issuer.mint_opaque()
    issuer.set_mode(mode)  # type: ignore[arg-type]
    before = introspections(issuer)
    guard = Guard(verifier.settings, validator=verifier)
    with pytest.raises(IntrospectionUnavailable) as caught:
        guard.verify(pending_token(token, 16384))
    assert caught.value.reason == reason
    assert introspections(issuer) == before + attempts
    answer = guard.answer(caught.value)
    assert answer.status == 503
    assert dict(answer.headers)["Retry-After"] == "5"


def test_a_slow_endpoint_is_a_503(issuer: LocalIssuer) -> None:
    verifier = verifier_for(
        issuer, introspection_endpoint=issuer.introspection_url, introspection_timeout=0.3
    )
    token = issuer.mint_opaque()
    issuer.set_mode("hang")
    try:
        assert refusal(verifier, token).reason == "introspection_unavailable"
    finally:
        issuer.set_mode("ok")


def test_an_endpoint_that_is_down_is_a_503() -> None:
    with LocalIssuer() as gone:
        url = gone.introspection_url
        settings = Settings(
            issuer=gone.issuer,
            audience=gone.audience,
            introspection="opaque",
            introspection_endpoint=url,
            introspection_client_id=CLIENT,
            introspection_client_secret=SECRET,
        )
    error = refusal(IntrospectionVerifier(settings), "an-opaque-token")
    assert (error.status, error.reason) == (503, "introspection_unavailable")


def test_an_endpoint_refusing_the_api_credentials_is_a_503(issuer: LocalIssuer) -> None:
    verifier = verifier_for(issuer, introspection_client_secret="not-the-secret")
    error = refusal(verifier, issuer.mint_opaque())
    assert (error.status, error.reason) == (503, "introspection_client_refused")
    assert error.hint is not None
    assert "introspection_client_secret" in error.hint


def test_async_faults_are_503s_too(issuer: LocalIssuer) -> None:
    verifier = verifier_for(issuer)
    token = issuer.mint_opaque()
    issuer.set_mode("garbage")
    with pytest.raises(IntrospectionUnavailable):
        asyncio.run(verifier.verify_async(pending_token(token, 16384)))


def test_logs_carry_the_fingerprint_never_the_token(
    issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    token = issuer.mint_opaque()
    issuer.revoke(token)
    with caplog.at_level(logging.INFO, logger="audmw"):
        refusal(verifier_for(issuer), token)
    text = caplog.text
    assert "reason=token_inactive" in text
    assert pending_token(token, 16384).fingerprint in text
    assert token not in text
    assert token[:12] not in text


# -- settings -----------------------------------------------------------------------------------


def test_introspection_needs_the_api_credentials(issuer: LocalIssuer) -> None:
    from audmw.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="introspection_client_id"):
        Settings(issuer=issuer.issuer, audience=issuer.audience, introspection="opaque")
    with pytest.raises(ConfigurationError, match="off, opaque or all"):
        Settings(issuer=issuer.issuer, audience=issuer.audience, introspection="sometimes")
    with pytest.raises(ConfigurationError, match="https"):
        settings_for(issuer, introspection_endpoint="http://idp.example.com/introspect")


# -- signed answers (RFC 9701) ------------------------------------------------------------------


@pytest.fixture
def signed(issuer: LocalIssuer) -> Iterator[None]:
    issuer.token_endpoint.signed_introspection = True
    yield
    issuer.token_endpoint.signed_introspection = False
    issuer.token_endpoint.introspection_signing_key = None


def test_a_signed_answer_is_verified_and_used(issuer: LocalIssuer, signed: None) -> None:
    verifier = verifier_for(issuer)
    token = check(verifier, issuer.mint_opaque(scopes="read"))
    assert token.scopes == {"read"}
    fresh = verifier_for(issuer)  # the async driver fetches the issuer's keys itself
    pending = pending_token(issuer.mint_opaque(scopes="write"), 16384)
    assert asyncio.run(fresh.verify_async(pending)).scopes == {"write"}


def test_a_signed_answer_by_another_key_is_a_503(issuer: LocalIssuer, signed: None) -> None:
    from audmw.testing import generate_key

    issuer.token_endpoint.introspection_signing_key = generate_key("rsa", kid="not-published")
    error = refusal(verifier_for(issuer), issuer.mint_opaque())
    assert (error.status, error.reason) == (503, "introspection_signature_invalid")


def test_a_signed_answer_for_another_client_is_a_503(issuer: LocalIssuer, signed: None) -> None:
    issuer.register_client("another-api", secret=SECRET)
    verifier = verifier_for(issuer)
    token = issuer.mint_opaque()
    # The same answer, signed for another client: replayed to this API, it is refused.
    issuer.token_endpoint.signed_answer = (  # type: ignore[method-assign]
        _for_client(issuer, "another-api")
    )
    try:
        error = refusal(verifier, token)
    finally:
        del issuer.token_endpoint.signed_answer
    assert error.reason == "introspection_signature_invalid"


def test_a_signed_answer_from_another_issuer_is_a_503(issuer: LocalIssuer, signed: None) -> None:
    verifier = verifier_for(issuer)
    token = issuer.mint_opaque()
    # Signed with this issuer's key but naming another (tenants of one provider share keys).
    issuer.token_endpoint.signed_answer = (  # type: ignore[method-assign]
        _for_client(issuer, CLIENT, iss="https://other-tenant.example.com")
    )
    try:
        error = refusal(verifier, token)
    finally:
        del issuer.token_endpoint.signed_answer
    assert error.reason == "introspection_signature_invalid"


def _for_client(issuer: LocalIssuer, client_id: str, iss: str | None = None) -> Any:
    from audmw.testing.issuer import sign_compact

    def signed_answer(headers: Any, answer: Any, body: bytes = b"") -> bytes:
        key = issuer.key_for("RS256")
        claims = {
            "iss": iss or issuer.issuer,
            "aud": client_id,
            "token_introspection": dict(answer),
        }
        header = {"alg": "RS256", "typ": "token-introspection+jwt", "kid": key.kid}
        return sign_compact(header, claims, key.private_key).encode()

    return signed_answer


def test_a_request_going_away_does_not_cancel_the_others(
    issuer: LocalIssuer, gate: threading.Event
) -> None:
    verifier = verifier_for(issuer)
    token = issuer.mint_opaque()
    before = introspections(issuer)

    async def many() -> list[str]:
        pending = pending_token(token, 16384)
        first = asyncio.ensure_future(verifier.verify_async(pending))
        others = [asyncio.ensure_future(verifier.verify_async(pending)) for _ in range(4)]
        await asyncio.sleep(0.2)
        first.cancel()  # the client of the first request disconnected
        gate.set()
        found = await asyncio.gather(*others)
        with pytest.raises(asyncio.CancelledError):
            await first
        return [token.subject or "" for token in found]

    assert asyncio.run(many()) == ["user-123"] * 4
    assert introspections(issuer) == before + 1


def test_an_answer_with_duplicate_members_is_a_503(issuer: LocalIssuer) -> None:
    import httpx

    # No real server sends two "active" members; a transport that does is the fault.
    body = b'{"active": false, "active": true, "aud": "https://api.example.com"}'
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    settings = settings_for(issuer, introspection_endpoint=issuer.introspection_url)
    verifier = IntrospectionVerifier(settings, transport=transport)
    error = refusal(verifier, "an-opaque-token")
    assert (error.status, error.reason) == (503, "introspection_malformed")


def test_the_secret_or_a_client_authentication_is_needed(issuer: LocalIssuer) -> None:
    from audmw.client import ClientSecretPost
    from audmw.errors import ConfigurationError

    settings = settings_for(issuer, introspection_client_secret=None)
    with pytest.raises(ConfigurationError, match="introspection_client_secret"):
        IntrospectionVerifier(settings)
    verifier = IntrospectionVerifier(settings, client_auth=ClientSecretPost(CLIENT, SECRET))
    assert check(verifier, issuer.mint_opaque()).subject == "user-123"


def test_a_full_memory_cache_still_answers(issuer: LocalIssuer) -> None:
    # Made-up tokens fill the store with inactive answers: good tokens are still accepted.
    verifier = IntrospectionVerifier(settings_for(issuer), store=MemoryStore(2))
    for _ in range(3):
        assert refusal(verifier, issuer.mint_opaque(aud="https://other.example.com")).status == 401
    assert check(verifier, issuer.mint_opaque()).subject == "user-123"


def test_a_compressed_answer_is_read(issuer: LocalIssuer) -> None:
    import gzip
    import json as json_module

    import httpx

    # Real servers compress; the local issuer does not, so the transport stands in for one.
    answer = {"active": True, "aud": issuer.audience, "exp": time.time() + 60, "sub": "zip"}
    body = gzip.compress(json_module.dumps(answer).encode())
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, content=body, headers={"Content-Encoding": "gzip"})
    )
    settings = settings_for(issuer, introspection_endpoint=issuer.introspection_url)
    verifier = IntrospectionVerifier(settings, transport=transport)
    assert check(verifier, "an-opaque-token").subject == "zip"


def test_an_endpoint_trickling_its_headers_is_cut_off(issuer: LocalIssuer) -> None:
    verifier = verifier_for(
        issuer, introspection_endpoint=issuer.introspection_url, introspection_timeout=0.3
    )
    token = issuer.mint_opaque()
    issuer.trickle_interval = 0.05  # the status line and headers take seconds to arrive
    issuer.set_mode("trickle")
    try:
        # Without the limit on the whole exchange, the answer arrives after seconds and
        # the token is accepted.
        with pytest.raises(IntrospectionUnavailable) as caught:
            asyncio.run(verifier.verify_async(pending_token(token, 16384)))
    finally:
        issuer.set_mode("ok")
        issuer.trickle_interval = 0.2
    assert caught.value.reason == "introspection_unavailable"


def test_an_endpoint_trickling_its_headers_is_cut_off_in_blocking_code(
    issuer: LocalIssuer,
) -> None:
    # The status line and headers one byte every 0.2 s: no single read waits as long as the
    # limit, so only a limit on the whole exchange ends it (without it: over 20 s, then an
    # accept). Every thread waiting on the same token gets the 503 too.
    verifier = verifier_for(
        issuer, introspection_endpoint=issuer.introspection_url, introspection_timeout=0.5
    )
    token = issuer.mint_opaque()
    before = introspections(issuer)
    issuer.set_mode("trickle")
    answers: list[str] = []

    def request() -> None:
        try:
            check(verifier, token)
            answers.append("accepted")
        except IntrospectionUnavailable as refused:
            answers.append(f"{refused.status} {refused.reason}")

    started = time.monotonic()
    try:
        threads = [threading.Thread(target=request) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        issuer.set_mode("ok")
    elapsed = time.monotonic() - started
    # Far below the 40 s two trickled attempts last, far above 2 x 0.5 s: no race.
    assert elapsed < 15, f"the exchange held the request for {elapsed:.1f} s"
    assert answers == ["503 introspection_unavailable"] * 4
    assert introspections(issuer) == before + 2  # one request and its retry, for all four
    assert check(verifier, token).subject == "user-123"  # the pool kept no dead connection


def test_private_key_jwt_at_the_endpoint(issuer: LocalIssuer) -> None:
    from audmw.client import PrivateKeyJwt
    from audmw.testing import generate_key

    key = generate_key("ec-p256")
    issuer.register_client("the-api-with-a-key", keys=[key])
    settings = settings_for(issuer, introspection_client_id="the-api-with-a-key")
    verifier = IntrospectionVerifier(settings, client_auth=PrivateKeyJwt("the-api-with-a-key", key))
    assert check(verifier, issuer.mint_opaque()).subject == "user-123"
    assert check(verifier, issuer.mint_opaque(sub="second")).subject == "second"  # new jti
    wrong = IntrospectionVerifier(
        settings, client_auth=PrivateKeyJwt("the-api-with-a-key", generate_key("ec-p256"))
    )
    assert refusal(wrong, issuer.mint_opaque()).reason == "introspection_client_refused"
