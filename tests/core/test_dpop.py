"""DPoP proofs (RFC 9449) through the Guard, against a real LocalIssuer: one test per rule."""

from __future__ import annotations

import logging
import os
from typing import Any

import anyio
import pytest

from audmw import Guard, Settings
from audmw.errors import AuthError, KeysUnavailable
from audmw.request import IncomingRequest
from audmw.store import MemoryStore, RedisStore
from audmw.testing import DEFECTS, DPoPKey, LocalIssuer
from audmw.testing.refusals import challenges

AUDIENCE = "https://api.example.com"
URL = "https://api.example.com/reports"


@pytest.fixture(scope="module")
def client_key() -> DPoPKey:
    return DPoPKey()


def make_guard(issuer: LocalIssuer, **options: Any) -> Guard:
    options.setdefault("issuer", issuer.issuer)
    options.setdefault("audience", AUDIENCE)
    options.setdefault("origins", "https://api.example.com")
    return Guard(Settings(**options))


def request(
    authorization: str,
    proofs: tuple[str, ...] = (),
    *,
    method: str = "GET",
    path: str = "/reports",
    scheme: str = "https",
    host: str = "api.example.com",
    peer: str = "192.0.2.7",
    proxy: tuple[tuple[str, str], ...] = (),
    certificate: str | None = None,
) -> IncomingRequest:
    return IncomingRequest(
        method,
        path,
        (authorization,),
        scheme=scheme,
        host=host,
        dpop=proofs,
        client_certificate=certificate,
        peer=peer,
        proxy=proxy,
    )


def refusal(guard: Guard, incoming: IncomingRequest) -> AuthError:
    with pytest.raises(AuthError) as caught:
        guard.authorize(incoming)
    return caught.value


def test_a_valid_proof_is_accepted(issuer: LocalIssuer, client_key: DPoPKey) -> None:
    guard = make_guard(issuer)
    token = issuer.mint(aud=AUDIENCE, dpop=client_key, scopes=["read"])
    accepted = guard.authorize(request(f"DPoP {token}", (client_key.proof("GET", URL, token),)))
    assert accepted.claims["cnf"]["jkt"] == client_key.thumbprint
    # The token is now in the verified-token cache: a hit still needs a new, valid proof.
    accepted = guard.authorize(request(f"DPoP {token}", (client_key.proof("GET", URL, token),)))
    assert accepted.scopes == {"read"}
    with pytest.raises(AuthError):
        guard.authorize(request(f"DPoP {token}"))


# Each defect and the reason it is refused with: one test per rule of RFC 9449 §4.3.
DEFECT_REASONS = {
    "typ": "dpop_bad_typ",
    "no_typ": "dpop_bad_typ",
    "alg_none": "dpop_alg_not_allowed",
    "alg_hs256": "dpop_alg_not_allowed",
    "alg_not_allowed": "dpop_alg_not_allowed",
    "no_jwk": "dpop_jwk_missing",
    "private_jwk": "dpop_jwk_private",
    "jwk_alg_mismatch": "dpop_jwk_alg_mismatch",
    "bad_signature": "dpop_bad_signature",
    "crit": "dpop_crit_unsupported",
    "htm": "dpop_htm_mismatch",
    "htu": "dpop_htu_mismatch",
    "htu_path": "dpop_htu_mismatch",
    "no_jti": "dpop_jti_invalid",
    "iat_old": "dpop_proof_expired",
    "iat_future": "dpop_iat_in_future",
    "no_iat": "dpop_iat_invalid",
    "ath": "dpop_ath_mismatch",
    "no_ath": "dpop_ath_mismatch",
    "other_key": "dpop_key_mismatch",
    "nonce": "dpop_nonce_stale",
    "malformed": "dpop_proof_malformed",
}


def test_every_defect_has_a_reason() -> None:
    assert set(DEFECT_REASONS) == set(DEFECTS)


@pytest.mark.parametrize("defect", sorted(DEFECT_REASONS))
def test_a_proof_with_one_defect_is_refused(
    issuer: LocalIssuer, client_key: DPoPKey, defect: str, caplog: pytest.LogCaptureFixture
) -> None:
    nonces = defect == "nonce"
    guard = make_guard(issuer, dpop_algorithms="ES256", dpop_nonce=nonces)
    token = issuer.mint(aud=AUDIENCE, dpop=client_key)
    nonce = guard.proofs.current_nonce() if guard.proofs is not None and nonces else None
    # The same proof without the defect passes: the defect alone is refused.
    good = client_key.proof("GET", URL, token, nonce=nonce)
    guard.authorize(request(f"DPoP {token}", (good,)))
    bad = client_key.proof("GET", URL, token, defect=defect)
    with caplog.at_level(logging.INFO, logger="audmw"):
        error = refusal(guard, request(f"DPoP {token}", (bad,)))
    assert error.reason == DEFECT_REASONS[defect]
    assert error.status == 401
    wanted = "use_dpop_nonce" if defect == "nonce" else "invalid_dpop_proof"
    answer = guard.answer(error)
    found = challenges(dict(answer.headers)["WWW-Authenticate"])
    assert found["dpop"]["error"] == wanted
    assert "error" not in found["bearer"]
    assert found["dpop"]["algs"] == "ES256"
    assert f"reason={DEFECT_REASONS[defect]}" in caplog.text
    assert token not in caplog.text
    assert bad not in caplog.text


def test_two_dpop_headers_are_refused(issuer: LocalIssuer, client_key: DPoPKey) -> None:
    guard = make_guard(issuer)
    token = issuer.mint(aud=AUDIENCE, dpop=client_key)
    proofs = (client_key.proof("GET", URL, token), client_key.proof("GET", URL, token))
    assert refusal(guard, request(f"DPoP {token}", proofs)).reason == "dpop_proof_multiple"
    folded = (", ".join(proofs),)  # a WSGI server joins repeated headers with a comma
    assert refusal(guard, request(f"DPoP {token}", folded)).reason == "dpop_proof_multiple"


def test_no_proof_with_the_dpop_scheme_is_refused(issuer: LocalIssuer, client_key: DPoPKey) -> None:
    guard = make_guard(issuer)
    token = issuer.mint(aud=AUDIENCE, dpop=client_key)
    assert refusal(guard, request(f"DPoP {token}")).reason == "dpop_proof_missing"


def test_a_replayed_proof_is_refused(issuer: LocalIssuer, client_key: DPoPKey) -> None:
    guard = make_guard(issuer)
    token = issuer.mint(aud=AUDIENCE, dpop=client_key)
    proof = client_key.proof("GET", URL, token)
    guard.authorize(request(f"DPoP {token}", (proof,)))
    error = refusal(guard, request(f"DPoP {token}", (proof,)))
    assert (error.reason, error.error) == ("dpop_replayed", "invalid_dpop_proof")


def test_a_bound_token_sent_as_bearer_is_refused(issuer: LocalIssuer, client_key: DPoPKey) -> None:
    token = issuer.mint(aud=AUDIENCE, dpop=client_key)
    for mode in ("allowed", "off"):
        guard = make_guard(issuer, dpop=mode)
        error = refusal(guard, request(f"Bearer {token}", (client_key.proof("GET", URL, token),)))
        assert (error.reason, error.error) == ("dpop_bound_token_as_bearer", "invalid_token")
        # Refused on the cached path too, once the token was accepted with its proof.
    guard = make_guard(issuer)
    guard.authorize(request(f"DPoP {token}", (client_key.proof("GET", URL, token),)))
    assert refusal(guard, request(f"Bearer {token}")).reason == "dpop_bound_token_as_bearer"


def test_other_cnf_members_are_tolerated(issuer: LocalIssuer, client_key: DPoPKey) -> None:
    guard = make_guard(issuer)
    token = issuer.mint(aud=AUDIENCE, cnf={"jkt": client_key.thumbprint, "kid": "k1"})
    guard.authorize(request(f"DPoP {token}", (client_key.proof("GET", URL, token),)))


def test_an_unbound_token_under_the_dpop_scheme_is_refused(
    issuer: LocalIssuer, client_key: DPoPKey
) -> None:
    guard = make_guard(issuer)
    token = issuer.mint(aud=AUDIENCE)
    error = refusal(guard, request(f"DPoP {token}", (client_key.proof("GET", URL, token),)))
    assert (error.reason, error.error, error.dpop) == ("dpop_token_unbound", "invalid_token", True)
    challenge = challenges(dict(guard.answer(error).headers)["WWW-Authenticate"])
    assert challenge["dpop"]["error"] == "invalid_token"
    # The same token as Bearer is fine when DPoP is only allowed.
    guard.authorize(request(f"Bearer {token}"))


def test_required_refuses_bearer_and_off_refuses_dpop(
    issuer: LocalIssuer, client_key: DPoPKey
) -> None:
    plain = issuer.mint(aud=AUDIENCE)
    required = make_guard(issuer, dpop="required")
    error = refusal(required, request(f"Bearer {plain}"))
    assert (error.reason, error.error) == ("unsupported_scheme", None)
    assert dict(required.answer(error).headers)["WWW-Authenticate"].startswith("DPoP algs=")
    bound = issuer.mint(aud=AUDIENCE, dpop=client_key)
    required.authorize(request(f"DPoP {bound}", (client_key.proof("GET", URL, bound),)))
    off = make_guard(issuer, dpop="off")
    error = refusal(off, request(f"DPoP {bound}", (client_key.proof("GET", URL, bound),)))
    assert error.reason == "unsupported_scheme"
    assert dict(off.answer(error).headers)["WWW-Authenticate"] == "Bearer"


def test_the_nonce_round_trip(issuer: LocalIssuer, client_key: DPoPKey) -> None:
    guard = make_guard(issuer, dpop_nonce=True, dpop_nonce_secret="n" * 32)
    token = issuer.mint(aud=AUDIENCE, dpop=client_key)
    error = refusal(guard, request(f"DPoP {token}", (client_key.proof("GET", URL, token),)))
    assert (error.reason, error.error) == ("dpop_nonce_required", "use_dpop_nonce")
    headers = dict(guard.answer(error).headers)
    nonce = headers["DPoP-Nonce"]
    assert challenges(headers["WWW-Authenticate"])["dpop"]["error"] == "use_dpop_nonce"
    proof = client_key.proof("GET", URL, token, nonce=nonce)
    guard.authorize(request(f"DPoP {token}", (proof,)))
    # Another process with the same secret accepts the same nonce.
    other = make_guard(issuer, dpop_nonce=True, dpop_nonce_secret="n" * 32)
    other.authorize(request(f"DPoP {token}", (client_key.proof("GET", URL, token, nonce=nonce),)))
    stranger = make_guard(issuer, dpop_nonce=True, dpop_nonce_secret="m" * 32)
    error = refusal(
        stranger, request(f"DPoP {token}", (client_key.proof("GET", URL, token, nonce=nonce),))
    )
    assert error.reason == "dpop_nonce_stale"


def test_the_nonce_rotates_and_the_previous_one_still_counts(issuer: LocalIssuer) -> None:
    from audmw.dpop import ProofChecker

    now = [1_000_000.0]
    settings = Settings(
        issuer=issuer.issuer, audience=AUDIENCE, dpop_nonce=True, dpop_nonce_lifetime=60
    )
    checker = ProofChecker(settings, clock=lambda: now[0])
    first = checker.current_nonce()
    now[0] += 60
    assert checker.current_nonce() != first
    assert checker._nonce_accepted(first)
    now[0] += 60
    assert not checker._nonce_accepted(first)


@pytest.mark.parametrize(
    ("htu", "accepted"),
    [
        ("https://api.example.com/reports", True),
        ("HTTPS://API.EXAMPLE.COM/reports", True),
        ("https://api.example.com:443/reports", True),
        ("https://api.example.com/%72eports", True),
        ("https://api.example.com/reports?x=1#f", True),
        ("https://api.example.com/a/../reports", True),
        ("http://api.example.com/reports", False),
        ("https://api.example.com:8443/reports", False),
        ("https://api.example.com/Reports", False),
        ("https://api.example.com/reports/", False),
        ("https://user@api.example.com/reports", False),
        ("https://api.example.com.evil.com/reports", False),
    ],
)
def test_htu_is_compared_after_normalisation(
    issuer: LocalIssuer, client_key: DPoPKey, htu: str, accepted: bool
) -> None:
    guard = make_guard(issuer)
    token = issuer.mint(aud=AUDIENCE, dpop=client_key)
    incoming = request(f"DPoP {token}", (client_key.proof("GET", htu, token),))
    if accepted:
        guard.authorize(incoming)
    else:
        assert refusal(guard, incoming).reason == "dpop_htu_mismatch"


def test_forwarded_headers_count_only_from_a_trusted_proxy(
    issuer: LocalIssuer, client_key: DPoPKey
) -> None:
    token = issuer.mint(aud=AUDIENCE, dpop=client_key)
    forwarded = (("x-forwarded-proto", "https"), ("x-forwarded-host", "api.example.com"))
    behind = {"scheme": "http", "host": "10.0.0.5:8000", "proxy": forwarded}
    trusting = make_guard(issuer, trusted_proxies="10.0.0.0/8", origins=None)
    proof = client_key.proof("GET", URL, token)
    trusting.authorize(request(f"DPoP {token}", (proof,), peer="10.0.0.9", **behind))
    # From any other address the same headers are the client's own words: ignored.
    proof = client_key.proof("GET", URL, token)
    error = refusal(trusting, request(f"DPoP {token}", (proof,), peer="192.0.2.1", **behind))
    assert error.reason == "dpop_htu_mismatch"
    # RFC 7239 Forwarded: the last element is the one the trusted proxy wrote.
    proof = client_key.proof("GET", URL, token)
    trusting.authorize(
        request(
            f"DPoP {token}",
            (proof,),
            peer="10.0.0.9",
            scheme="http",
            host="10.0.0.5",
            proxy=(
                ("forwarded", 'host=evil.example; proto=http, host="api.example.com";proto=https'),
            ),
        )
    )
    # A prefix the proxy strips before the app.
    url = "https://api.example.com/v1/reports"
    proof = client_key.proof("GET", url, token)
    trusting.authorize(
        request(
            f"DPoP {token}",
            (proof,),
            peer="10.0.0.9",
            proxy=(*forwarded, ("x-forwarded-prefix", "/v1")),
        )
    )


def test_a_forged_host_is_refused_with_origins(issuer: LocalIssuer, client_key: DPoPKey) -> None:
    guard = make_guard(issuer)  # origins: https://api.example.com
    token = issuer.mint(aud=AUDIENCE, dpop=client_key)
    forged = "https://evil.example.com/reports"
    incoming = request(
        f"DPoP {token}", (client_key.proof("GET", forged, token),), host="evil.example.com"
    )
    assert refusal(guard, incoming).reason == "dpop_htu_mismatch"


def test_an_unreachable_redis_store_refuses_with_503(
    issuer: LocalIssuer, client_key: DPoPKey
) -> None:
    guard = Guard(
        Settings(issuer=issuer.issuer, audience=AUDIENCE, origins="https://api.example.com"),
        store=RedisStore("redis://127.0.0.1:1/0", timeout=1),
    )
    token = issuer.mint(aud=AUDIENCE, dpop=client_key)
    error = refusal(guard, request(f"DPoP {token}", (client_key.proof("GET", URL, token),)))
    assert isinstance(error, KeysUnavailable)
    assert (error.status, error.reason) == (503, "replay_store_unavailable")
    headers = dict(guard.answer(error).headers)
    assert "Retry-After" in headers
    assert "WWW-Authenticate" not in headers
    # The async path refuses the same way.

    async def main() -> None:
        with pytest.raises(KeysUnavailable):
            await guard.authorize_async(
                request(f"DPoP {token}", (client_key.proof("GET", URL, token),))
            )

    anyio.run(main)


def test_a_full_memory_store_refuses_rather_than_forgets(
    issuer: LocalIssuer, client_key: DPoPKey
) -> None:
    guard = Guard(
        Settings(issuer=issuer.issuer, audience=AUDIENCE, origins="https://api.example.com"),
        store=MemoryStore(2),
    )
    token = issuer.mint(aud=AUDIENCE, dpop=client_key)
    for _ in range(2):
        guard.authorize(request(f"DPoP {token}", (client_key.proof("GET", URL, token),)))
    error = refusal(guard, request(f"DPoP {token}", (client_key.proof("GET", URL, token),)))
    assert (error.status, error.reason) == (503, "replay_store_full")


def test_memory_store_expires_entries() -> None:
    now = [0.0]
    store = MemoryStore(2, clock=lambda: now[0])
    assert store.add(b"a", b"1", 10)
    assert not store.add(b"a", b"1", 10)
    assert store.get(b"a") == b"1"
    now[0] = 11
    assert store.get(b"a") is None
    assert store.add(b"a", b"1", 10)
    assert store.add(b"b", b"1", 10)
    now[0] = 30
    assert store.add(b"c", b"1", 10)  # full of expired entries: swept, not refused


def test_settings_refuse_symmetric_dpop_algorithms(issuer: LocalIssuer) -> None:
    from audmw import ConfigurationError

    for bad in ("HS256", "none"):
        with pytest.raises(ConfigurationError, match="asymmetric"):
            Settings(issuer=issuer.issuer, audience=AUDIENCE, dpop_algorithms=bad)
    with pytest.raises(ConfigurationError, match="off, allowed or required"):
        Settings(issuer=issuer.issuer, audience=AUDIENCE, dpop="maybe")


def test_the_redis_store_is_an_atomic_set_if_absent(redis_url: str) -> None:
    import time

    store = RedisStore(redis_url)
    key = os.urandom(8).hex().encode()
    assert store.add(key, b"1", 60)
    assert not store.add(key, b"2", 60)
    assert store.get(key) == b"1"

    async def main() -> None:
        assert not await store.add_async(key, b"3", 60)
        fresh = os.urandom(8).hex().encode()
        assert await store.add_async(fresh, b"4", 60)
        assert await store.get_async(fresh) == b"4"

    anyio.run(main)
    anyio.run(main)  # another event loop: its own connections
    short = os.urandom(8).hex().encode()
    assert store.add(short, b"1", 0.05)
    time.sleep(0.3)  # Redis expires it (PX), not this process
    assert store.get(short) is None
    assert store.add(short, b"1", 60)


def test_two_guards_sharing_redis_refuse_each_others_proofs(
    issuer: LocalIssuer, client_key: DPoPKey, redis_url: str
) -> None:
    settings = Settings(
        issuer=issuer.issuer,
        audience=AUDIENCE,
        origins="https://api.example.com",
        replay_store=redis_url,
    )
    first, second = Guard(settings), Guard(settings)
    token = issuer.mint(aud=AUDIENCE, dpop=client_key)
    proof = client_key.proof("GET", URL, token)
    first.authorize(request(f"DPoP {token}", (proof,)))

    async def replay() -> AuthError:
        with pytest.raises(AuthError) as caught:
            await second.authorize_async(request(f"DPoP {token}", (proof,)))
        return caught.value

    assert anyio.run(replay).reason == "dpop_replayed"


def test_a_websocket_handshake_proof_names_the_https_url(
    issuer: LocalIssuer, client_key: DPoPKey
) -> None:
    guard = make_guard(issuer)
    token = issuer.mint(aud=AUDIENCE, dpop=client_key)
    proof = client_key.proof("GET", URL, token)
    guard.authorize(request(f"DPoP {token}", (proof,), scheme="wss"))


def test_a_proof_with_the_previous_nonce_gets_the_new_one(
    issuer: LocalIssuer, client_key: DPoPKey
) -> None:
    from audmw.dpop import ProofChecker

    now = [2_000_000.0]
    settings = Settings(
        issuer=issuer.issuer,
        audience=AUDIENCE,
        origins="https://api.example.com",
        dpop_nonce=True,
        dpop_nonce_lifetime=60,
    )
    checker = ProofChecker(settings, clock=lambda: now[0])
    token = issuer.mint(aud=AUDIENCE, dpop=client_key)
    old = checker.current_nonce()

    def incoming(nonce: str) -> IncomingRequest:
        proof = client_key.proof("GET", URL, token, nonce=nonce, iat=now[0])
        return request(f"DPoP {token}", (proof,))

    checker.check(incoming(old), token.encode(), client_key.thumbprint)
    assert checker.fresh_nonce(incoming(old)) is None  # current: nothing to send
    now[0] += 60
    checker.check(incoming(old), token.encode(), client_key.thumbprint)  # still accepted
    assert checker.fresh_nonce(incoming(old)) == checker.current_nonce() != old


def test_the_resource_metadata_says_what_this_api_accepts(issuer: LocalIssuer) -> None:
    from audmw.metadata import document

    def members(**options: Any) -> dict[str, Any]:
        found = document(
            Settings(issuer=issuer.issuer, resource="https://api.example.com", **options)
        )
        return {name: value for name, value in found.items() if "dpop" in name or "tls" in name}

    assert members(dpop="required", dpop_algorithms="ES256", client_certificates=True) == {
        "dpop_signing_alg_values_supported": ["ES256"],
        "dpop_bound_access_tokens_required": True,
        "tls_client_certificate_bound_access_tokens": True,
    }
    assert members(dpop="off") == {
        "dpop_bound_access_tokens_required": False,
        "tls_client_certificate_bound_access_tokens": False,
    }
