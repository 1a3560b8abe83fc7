"""Key-source faults against the real LocalIssuer, through every example app under its real
server: never a wrong accept, the cached keys keep serving, 503 with ``Retry-After`` only
when nothing cached can verify the token, and no more fetches than the retry period allows.

Each fault has an issuer of its own, all of them trusted by every app, so each app meets
each fault with nothing cached (cold) once, then the rotation issuer with keys cached (warm).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from audmw import AuthError, Settings, TokenValidator
from audmw.testing import LocalIssuer, SigningKey, generate_key

from .conftest import AUDIENCE
from .servers import EXAMPLES, Answer, ExampleServer, request, send

HTTP_TIMEOUT = 1.0
RETRY_AFTER = 0.5
FAULTS = (
    "error",
    "hang",
    "trickle",
    "garbage",
    "huge",
    "refused",
    "no_usable_keys",
    "other_issuer",
)


def _break(issuer: LocalIssuer, fault: str) -> None:
    if fault == "refused":
        issuer.stop()  # nothing listens on its port: connection refused
    elif fault == "no_usable_keys":
        for kid in list(issuer.published):
            issuer.unpublish(kid)
        issuer.extra_jwks[:] = [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "shared"},  # symmetric: never used
            {"kty": "RSA", "kid": "broken", "n": "AQAB", "e": "AQAB"},  # not a key
            {"kty": "EC", "crv": "P-256", "kid": "bad-ec", "x": "AA", "y": "AA"},
        ]
    elif fault == "other_issuer":
        issuer.issuer_override = "https://elsewhere.example"
    else:
        issuer.set_mode(fault)  # type: ignore[arg-type]


def _heal(issuer: LocalIssuer, fault: str) -> None:
    if fault == "refused":
        issuer.start()  # the same port again
    elif fault == "no_usable_keys":
        issuer.extra_jwks.clear()
        for kid, key in issuer.signing_keys.items():
            if kid not in issuer.published:
                issuer.add_key(key, current=False)
    elif fault == "other_issuer":
        issuer.issuer_override = None
    else:
        issuer.set_mode("ok")


@pytest.fixture(scope="module")
def fault_issuers(hardening_keys: list[SigningKey]) -> Iterator[dict[str, LocalIssuer]]:
    issuers = {
        name: LocalIssuer(keys=hardening_keys, audience=AUDIENCE).start()
        for name in (*FAULTS, "rotation")
    }
    for issuer in issuers.values():
        issuer.trickle_interval = 0.2  # a fetch without a whole deadline lasts over 20 s
    yield issuers
    for issuer in issuers.values():
        issuer.stop()


@pytest.fixture(scope="module")
def fault_servers(
    fault_issuers: dict[str, LocalIssuer], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ExampleServer]]:
    directory = tmp_path_factory.mktemp("fault-servers")
    trusted = ",".join(issuer.issuer for issuer in fault_issuers.values())
    started = {
        name: ExampleServer(
            name,
            trusted,
            AUDIENCE,
            directory / f"{name}.log",
            http_timeout=str(HTTP_TIMEOUT),
            jwks_retry_after=str(RETRY_AFTER),
            jwks_refresh_cooldown=str(RETRY_AFTER),
        )
        for name in EXAMPLES
    }
    try:
        for server in started.values():
            server.wait()
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture(scope="module")
def attacker_key() -> SigningKey:
    return generate_key("rsa")


def _me(server: ExampleServer, token: str) -> Answer:
    return send(
        server.port, request("GET", "/api/me", [(b"Authorization", f"Bearer {token}".encode())])
    )


def _unavailable(answer: Answer) -> None:
    assert answer.status == 503, answer
    retry_after = answer.header("retry-after")
    assert retry_after is not None
    assert retry_after.isdigit()
    assert int(retry_after) >= 1


def _accepts(server: ExampleServer, token: str) -> Callable[[], bool]:
    return lambda: _me(server, token).status == 200


def _until(check: Callable[[], bool], seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("app", EXAMPLES)
def test_a_key_source_fault_with_nothing_cached_is_503_until_it_heals(
    fault_servers: dict[str, ExampleServer],
    fault_issuers: dict[str, LocalIssuer],
    attacker_key: SigningKey,
    app: str,
    fault: str,
) -> None:
    server, issuer = fault_servers[app], fault_issuers[fault]
    token = issuer.mint(scopes=["read:messages"], expires_in=3600)
    real_kid = issuer.key_for("RS256").kid
    forged = issuer.mint(key=attacker_key, kid=real_kid, expires_in=3600)
    _break(issuer, fault)
    try:
        before = issuer.discovery_requests
        started = time.monotonic()
        for _ in range(3):
            _unavailable(_me(server, token))
            assert _me(server, forged).status in (401, 503)  # never an accept
        elapsed = time.monotonic() - started
        refreshes = issuer.discovery_requests - before
        # One refresh, then none until the retry period has passed (fetch counts bounded).
        assert refreshes <= 1 + int(elapsed / RETRY_AFTER) + 1
        if fault not in ("refused", "hang", "trickle"):
            # (A slow fault may be cut off before the issuer has read the request.)
            assert refreshes >= 1
        assert elapsed < 10, "a fault held requests past http_timeout"
    finally:
        _heal(issuer, fault)
    assert _until(_accepts(server, token))
    assert _me(server, forged).status == 401


def test_a_rotation_mid_traffic_while_the_issuer_fails_keeps_the_cached_keys_serving(
    fault_servers: dict[str, ExampleServer],
    fault_issuers: dict[str, LocalIssuer],
    attacker_key: SigningKey,
) -> None:
    issuer = fault_issuers["rotation"]
    old_key = issuer.key_for("RS256")
    for server in fault_servers.values():
        assert _me(server, issuer.mint(expires_in=3600)).status == 200  # keys cached
    forged = issuer.mint(key=attacker_key, kid=old_key.kid, expires_in=3600)
    answers: dict[str, list[int]] = {"old": [], "new": [], "forged": []}
    stop = threading.Event()
    new_token: list[str] = []

    def traffic(server: ExampleServer) -> None:
        while not stop.is_set():
            answers["old"].append(_me(server, issuer.mint(key=old_key)).status)
            answers["forged"].append(_me(server, forged).status)
            if new_token:
                answer = _me(server, new_token[0])
                if answer.status == 503:
                    _unavailable(answer)
                answers["new"].append(answer.status)

    threads = [threading.Thread(target=traffic, args=(s,)) for s in fault_servers.values()]
    for thread in threads:
        thread.start()
    try:
        # Past the refresh cooldown of the warm-up fetches: within it, an unknown kid is
        # refused (unknown_kid) without a fetch, by design.
        time.sleep(3 * RETRY_AFTER)
        issuer.set_mode("error")
        issuer.rotate("RS256")  # a new current key, published while the issuer fails
        new_token.append(issuer.mint(expires_in=3600))
        time.sleep(2)
        before = issuer.discovery_requests
        time.sleep(1)
        failing_refreshes = issuer.discovery_requests - before
        issuer.set_mode("ok")
        for server in fault_servers.values():
            assert _until(_accepts(server, new_token[0]))
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert set(answers["old"]) == {200}, "a token of a cached key was not served"
    assert set(answers["forged"]) == {401}, "a forged token under a real kid was not refused"
    assert 503 in answers["new"]  # nothing cached could verify it while the issuer failed
    assert set(answers["new"]) <= {200, 503}
    assert answers["new"][-1] == 200
    # Each app at most one refresh per retry period (1 s of failing: a few each).
    assert failing_refreshes <= len(fault_servers) * (1 + int(1 / RETRY_AFTER) + 1)


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
@pytest.mark.anyio
async def test_a_key_set_with_no_usable_key_keeps_the_cached_keys_serving(
    fault_issuers: dict[str, LocalIssuer], sync: bool
) -> None:
    issuer = LocalIssuer(keys=[generate_key("rsa")], audience=AUDIENCE).start()
    try:
        clock = [time.time()]
        validator = TokenValidator(
            Settings(issuer=issuer.issuer, audience=AUDIENCE), clock=lambda: clock[0]
        )

        async def validate(token: str) -> int:
            try:
                if sync:
                    validator.validate(token)
                else:
                    await validator.validate_async(token)
            except AuthError as refused:
                return refused.status
            return 200

        assert await validate(issuer.mint()) == 200
        _break(issuer, "no_usable_keys")
        clock[0] += 601  # past the key set's lifetime: the next token makes a refresh
        assert await validate(issuer.mint(expires_in=3600)) == 200  # the last good keys serve
        assert issuer.jwks_requests == 2
        assert (
            await validate(issuer.mint(alg="ES256", key=generate_key("ec-p256"), expires_in=3600))
            == 503
        )
        assert issuer.jwks_requests == 2  # within jwks_retry_after: no refetch
    finally:
        issuer.stop()
