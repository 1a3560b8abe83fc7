"""``http_timeout`` bounds a whole key refresh, connect to last byte, sync and async.

The issuer sends its status line and headers one byte every 0.2 s: no single read waits as
long as the timeout, so only a deadline for the whole refresh ends the fetch. Without it
each fetch here takes over 20 s, and every request queued on the key lock waits as long.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from audmw import KeysUnavailable, Settings, TokenValidator
from audmw.testing import LocalIssuer

from .conftest import AUDIENCE, Clock

TIMEOUT = 1.0
# Far below the 20 s the trickle lasts, far above the timeout: no race with a slow machine.
BOUND = TIMEOUT + 4.0


def _validator(issuer: LocalIssuer, clock: Clock, source: str) -> TokenValidator:
    options: dict[str, Any] = {"issuer": issuer.issuer, "audience": AUDIENCE}
    if source == "jwks_uri":
        options["jwks_uri"] = issuer.jwks_uri
    return TokenValidator(Settings(http_timeout=TIMEOUT, **options), clock=clock)


def _fetches(issuer: LocalIssuer, source: str) -> int:
    return issuer.jwks_requests if source == "jwks_uri" else issuer.discovery_requests


@pytest.mark.parametrize("source", ["discovery", "jwks_uri"])
def test_a_trickling_issuer_is_cut_off_at_the_deadline_for_every_waiting_thread(
    issuer: LocalIssuer, clock: Clock, source: str
) -> None:
    validator = _validator(issuer, clock, source)
    token = issuer.mint()
    issuer.set_mode("trickle")
    answers: list[str] = []

    def request() -> None:
        try:
            validator.validate(token)
            answers.append("accepted")
        except KeysUnavailable as refused:
            answers.append(f"{refused.status} {refused.retry_after}")

    started = time.monotonic()
    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    elapsed = time.monotonic() - started
    assert elapsed < BOUND, f"the refresh held the key lock for {elapsed:.1f} s"
    assert answers == ["503 5"] * 8
    assert _fetches(issuer, source) == 1  # one fetch; the threads queued behind it did not retry

    issuer.set_mode("ok")
    clock.advance(5)  # jwks_retry_after
    assert validator.validate(token).subject == "user-123"


@pytest.mark.parametrize("source", ["discovery", "jwks_uri"])
@pytest.mark.anyio
async def test_a_trickling_issuer_is_cut_off_at_the_deadline_for_every_waiting_task(
    issuer: LocalIssuer, clock: Clock, source: str
) -> None:
    validator = _validator(issuer, clock, source)
    token = issuer.mint()
    issuer.set_mode("trickle")
    answers: list[int] = []

    async def request() -> None:
        try:
            await validator.validate_async(token)
            answers.append(200)
        except KeysUnavailable as refused:
            answers.append(refused.status)

    started = time.monotonic()
    async with anyio.create_task_group() as group:
        for _ in range(8):
            group.start_soon(request)
    elapsed = time.monotonic() - started
    assert elapsed < BOUND, f"the refresh held the key lock for {elapsed:.1f} s"
    assert answers == [503] * 8
    assert _fetches(issuer, source) == 1

    issuer.set_mode("ok")
    clock.advance(5)
    assert (await validator.validate_async(token)).subject == "user-123"


def test_the_deadline_covers_discovery_and_jwks_together(
    issuer: LocalIssuer, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    # Discovery answers at once; the JWKS trickles. The refresh as a whole is bounded.
    validator = _validator(issuer, clock, "discovery")
    token = issuer.mint()
    issuer.trickle_interval = 0.1  # the JWKS would take about 10 s
    original = issuer.metadata

    def metadata() -> dict[str, Any]:
        issuer.set_mode("trickle")  # the next document, the JWKS, trickles
        return original()

    issuer.metadata = metadata  # type: ignore[method-assign]
    started = time.monotonic()
    with pytest.raises(KeysUnavailable):
        validator.validate(token)
    assert time.monotonic() - started < BOUND
    assert issuer.discovery_requests == 1
    assert issuer.jwks_requests == 1
    assert f"took longer than {TIMEOUT} s (http_timeout)" in caplog.text


@pytest.fixture
def handshake_trickler() -> Iterator[str]:
    """An https JWKS URL whose server sends its TLS handshake a byte every 0.2 s."""
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)  # accept() wakes to see the stop

    def trickle(connection: socket.socket) -> None:
        # A handshake record that announces 16 KiB, then arrives a byte at a time.
        with connection, contextlib.suppress(OSError):
            for byte in b"\x16\x03\x03\x40\x00" + b"\x02" * 200:
                connection.send(bytes([byte]))
                if stop.wait(0.2):
                    return

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=trickle, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}/jwks.json"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


@pytest.mark.anyio
async def test_a_trickled_tls_handshake_is_cut_off_at_the_deadline(
    issuer: LocalIssuer, clock: Clock, handshake_trickler: str
) -> None:
    settings = Settings(
        issuer=issuer.issuer, audience=AUDIENCE, jwks_uri=handshake_trickler, http_timeout=TIMEOUT
    )
    token = issuer.mint()
    started = time.monotonic()
    with pytest.raises(KeysUnavailable):
        TokenValidator(settings, clock=clock).validate(token)
    with pytest.raises(KeysUnavailable):
        await TokenValidator(settings, clock=clock).validate_async(token)
    assert time.monotonic() - started < 2 * BOUND
