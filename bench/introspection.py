"""Per-request cost of a cached introspection answer, as ratios to JWT baselines of this run.

    .venv/bin/python -m bench.introspection [--requests 5000] [--rounds 5]

``Guard.authorize`` of one ``Authorization: Bearer`` request, for:
- JWT, cache hit: a token already in the verified-token cache (the usual request);
- JWT, uncached: full validation every time (``token_cache_size = 0``; keys already fetched);
- opaque, cache hit: an introspected token in the process's verified-token cache;
- opaque, memory store: the answer read from the in-memory store and checked again
  (``token_cache_size = 0``: what a process that did not ask itself pays);
- opaque, Redis store: the same from a local redis-server (started here when
  ``redis-server`` is on PATH): what a worker pays for an answer another worker fetched.
Rounds interleave the variants and the best round counts.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from audmw import Guard, Settings
from audmw.request import IncomingRequest
from audmw.testing import LocalIssuer
from bench.dpop import redis_server, timed

AUDIENCE = "https://api.example.com"
CLIENT, SECRET = "the-api", "introspection-secret-of-the-api"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    with LocalIssuer(audience=AUDIENCE) as issuer, redis_server() as redis_url:
        issuer.register_client(CLIENT, secret=SECRET)
        base = {"issuer": issuer.issuer, "audience": AUDIENCE}
        introspection = {
            **base,
            "introspection": "opaque",
            "introspection_client_id": CLIENT,
            "introspection_client_secret": SECRET,
            "introspection_cache_ttl": 3600,
        }
        jwt = issuer.mint(expires_in=3600, scopes="read")
        opaque = issuer.mint_opaque(expires_in=3600, scopes="read")

        def request(token: str) -> IncomingRequest:
            return IncomingRequest("GET", "/items", (f"Bearer {token}",))

        variants: dict[str, tuple[Guard, IncomingRequest]] = {
            "JWT, cache hit": (Guard(Settings(**base)), request(jwt)),
            "JWT, uncached": (Guard(Settings(**base, token_cache_size=0)), request(jwt)),
            "opaque, cache hit": (Guard(Settings(**introspection)), request(opaque)),
            "opaque, memory store": (
                Guard(Settings(**introspection, token_cache_size=0)),
                request(opaque),
            ),
        }
        if redis_url is not None:
            variants["opaque, Redis store"] = (
                Guard(Settings(**introspection, token_cache_size=0, introspection_cache=redis_url)),
                request(opaque),
            )
        for guard, incoming in variants.values():
            guard.authorize(incoming)  # warm: keys fetched, answer introspected and stored
        before = issuer.token_endpoint.introspection_requests
        best: dict[str, float] = {}
        for _ in range(args.rounds):
            for name, (guard, incoming) in variants.items():
                call: Callable[[int], None] = lambda _, g=guard, r=incoming: g.authorize(r)  # noqa: E731
                micros = timed(call, args.requests)
                best[name] = min(best.get(name, micros), micros)
        asked = issuer.token_endpoint.introspection_requests - before
    hit, uncached = best["JWT, cache hit"], best["JWT, uncached"]
    print(f"{'variant':<24} {'µs/request':>11} {'x JWT hit':>10} {'x JWT uncached':>15}")
    for name, micros in best.items():
        print(f"{name:<24} {micros:>11.2f} {micros / hit:>10.2f} {micros / uncached:>15.3f}")
    if redis_url is None:
        print("(no redis-server on PATH: the Redis variant was skipped)")
    print(f"introspection requests while timing: {asked}")


if __name__ == "__main__":
    main()
