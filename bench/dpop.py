"""Added cost of a DPoP proof per request, as ratios to baselines measured in this run.

    .venv/bin/python -m bench.dpop [--requests 3000] [--rounds 5]

For one token already in the verified-token cache (the usual request):
- bearer: ``Guard.authorize`` of ``Authorization: Bearer`` (no proof);
- floor: the raw ``cryptography`` ES256 (EC P-256) verification of one proof, nothing else;
- DPoP, memory store: ``Guard.authorize`` of ``Authorization: DPoP`` with a new proof;
- DPoP, Redis store: the same with the replay store in a local redis-server (started here
  when ``redis-server`` is on PATH), and the store's ``add`` alone for each store.
Every proof is made before timing (each request needs its own ``jti``); rounds interleave
the variants and the best round counts.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import tempfile
import time
from base64 import urlsafe_b64decode
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.utils import raw_to_der_signature

from audmw import Guard, Settings
from audmw.request import IncomingRequest
from audmw.store import MemoryStore, RedisStore, SharedStore
from audmw.testing import DPoPKey, LocalIssuer

AUDIENCE = "https://api.example.com"
URL = "https://api.example.com/items"


@contextmanager
def redis_server() -> Iterator[str | None]:
    executable = shutil.which("redis-server")
    if executable is None:
        yield None
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as directory:
        process = subprocess.Popen(
            [
                executable,
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--save",
                "",
                "--dir",
                directory,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(10)


def timed(function: Callable[[int], None], count: int) -> float:
    """Microseconds per call of ``function(i)`` for i in range(count)."""
    start = time.perf_counter()
    for index in range(count):
        function(index)
    return (time.perf_counter() - start) / count * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    count, rounds = args.requests, args.rounds
    key = DPoPKey("ES256")
    with LocalIssuer() as issuer, redis_server() as redis_url:
        settings = Settings(
            issuer=issuer.issuer, audience=AUDIENCE, origins="https://api.example.com"
        )
        bound = issuer.mint(aud=AUDIENCE, dpop=key, expires_in=3600)
        plain = issuer.mint(aud=AUDIENCE, expires_in=3600)
        stores: dict[str, SharedStore] = {"memory": MemoryStore(10_000_000)}
        if redis_url is not None:
            stores["redis"] = RedisStore(redis_url)
        guards = {name: Guard(settings, store=store) for name, store in stores.items()}
        bearer_guard = Guard(settings)

        def request(authorization: str, proof: str | None = None) -> IncomingRequest:
            return IncomingRequest(
                "GET",
                "/items",
                (authorization,),
                scheme="https",
                host="api.example.com",
                dpop=(proof,) if proof else (),
            )

        bearer_request = request(f"Bearer {plain}")
        bearer_guard.authorize(bearer_request)  # warm: keys fetched, token cached
        total = count * rounds * len(guards)
        print(f"making {total} proofs…", flush=True)
        proofs = iter([key.proof("GET", URL, bound) for _ in range(total)])
        requests = {name: [] for name in guards}  # type: dict[str, list[IncomingRequest]]
        for guard in guards.values():
            guard.authorize(request(f"DPoP {bound}", key.proof("GET", URL, bound)))  # warm

        sample = key.proof("GET", URL, bound)
        signing_input, _, signature_b64 = sample.rpartition(".")
        message = signing_input.encode()
        signature = urlsafe_b64decode(signature_b64 + "=" * (-len(signature_b64) % 4))
        public: Any = key.key.private_key.public_key()
        der = raw_to_der_signature(signature, public.curve)

        def floor(_: int) -> None:
            public.verify(der, message, ec.ECDSA(hashes.SHA256()))

        best: dict[str, float] = {}

        def keep(name: str, value: float) -> None:
            best[name] = min(best.get(name, float("inf")), value)

        keys_made = iter(range(10**9))
        for round_number in range(rounds):
            keep(
                "bearer (cache hit)", timed(lambda _: bearer_guard.authorize(bearer_request), count)
            )
            keep("floor: one ES256 verify", timed(floor, count))
            order = list(guards.items())
            if round_number % 2:
                order.reverse()  # neither store always runs first in a round
            for name, guard in order:
                batch = [request(f"DPoP {bound}", next(proofs)) for _ in range(count)]
                requests[name] = batch
                keep(
                    f"DPoP, {name} store",
                    timed(lambda i, g=guard, b=batch: g.authorize(b[i]), count),
                )
                store = stores[name]
                keep(
                    f"{name} store add alone",
                    timed(lambda _, s=store: s.add(str(next(keys_made)).encode(), b"1", 60), count),
                )

    bearer = best["bearer (cache hit)"]
    floor_us = best["floor: one ES256 verify"]
    width = max(len(name) for name in best)
    print(f"\n{'':<{width}}  µs/request")
    for name, value in best.items():
        print(f"{name:<{width}}  {value:8.1f}")
    print()
    for name in guards:
        added = best[f"DPoP, {name} store"] - bearer
        print(
            f"DPoP with the {name} store adds {added:.1f} µs to a cached Bearer request: "
            f"{added / floor_us:.2f}x the ES256 verify floor ({floor_us:.1f} µs)"
        )
    if "redis" in stores:
        print(
            f"the Redis round trip (SET NX PX) costs {best['redis store add alone']:.1f} µs, "
            f"{best['redis store add alone'] / best['memory store add alone']:.0f}x the "
            "in-memory add"
        )
    else:
        print("redis-server is not on PATH: the Redis store was not measured")


if __name__ == "__main__":
    main()
