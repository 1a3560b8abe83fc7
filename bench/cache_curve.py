"""Verified-token cache: hit ratio and cost per request as the live tokens outgrow the cache.

    .venv/bin/python -m bench.cache_curve [--size 512] [--reuse 50] [--requests-per-slot 40]
        [--rounds 3] [--json bench/results/cache-curve.json]

The traffic: clients, each sending its token for ``--reuse`` requests before it gets a new one
(as clients do with a token that lives for minutes), the next request coming from a client
drawn at random with a skew (client ``i`` calls with weight ``1 / (i + 1) ** 0.8``: a few busy
services, many quiet ones). The working set, the number of clients and so of live tokens, goes
from 0.25x to 4x the cache size. The same sequence of requests is replayed against:

  CLOCK         ``VerifiedTokens`` as it is: a hit marks the entry, room is made by passing
                over marked entries once (clearing the mark) and dropping the first unmarked
  oldest first  the policy it replaced: the entry inserted first goes (kept here only)

Hit ratios are exact (the sequence is seeded). The cost per request is ``validate`` on real
ES256 tokens of a ``LocalIssuer`` (keys fetched before timing), the best of interleaved rounds,
both policies measured in the same run. ``--json PATH`` writes the hit-ratio curve to PATH and
the cost curve beside it (``<stem>-cost.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from audmw import Settings, TokenValidator
from audmw.cache import KeySet, VerifiedTokens
from audmw.testing import LocalIssuer
from audmw.token import AccessToken

AUDIENCE = "https://api.example.com"
FACTORS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
SKEW = 0.8
POLICIES = ("CLOCK (audmw)", "oldest first")


class OldestFirst(VerifiedTokens):
    """The eviction policy before CLOCK, for comparison: the entry inserted first goes."""

    def __init__(
        self, size: int, *, leeway: float = 0.0, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(size, leeway=leeway, clock=clock)
        self.leeway = leeway
        self.clock = clock
        self.entries: dict[bytes, tuple[AccessToken, object, KeySet | None]] = {}

    def get(self, key: bytes) -> AccessToken | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        token, signing_key, keys = entry
        if token.expires_at + self.leeway < self.clock() or (
            keys is not None and signing_key not in keys.active
        ):
            if self.entries.pop(key, None) is not None:
                self.evictions += 1
            return None
        return token

    def remember(
        self,
        key: bytes,
        token: AccessToken,
        signing_key: object = None,
        keys: KeySet | None = None,
    ) -> None:
        if not self.size:
            return
        entries = self.entries
        if len(entries) >= self.size:
            with contextlib.suppress(KeyError, RuntimeError, StopIteration):
                del entries[next(iter(entries))]
                self.evictions += 1
        entries[key] = (token, signing_key, keys)

    def __len__(self) -> int:
        return len(self.entries)

    def clear(self) -> None:
        self.entries.clear()


def traffic(clients: int, reuse: int, requests: int, seed: int) -> list[tuple[int, int]]:
    """``requests`` requests as (client, generation of its token), seeded."""
    rng = random.Random(seed)
    weights = [1 / (i + 1) ** SKEW for i in range(clients)]
    sent = [0] * clients
    sequence = []
    for client in rng.choices(range(clients), weights, k=requests):
        sequence.append((client, sent[client] // reuse))
        sent[client] += 1
    return sequence


def make_cache(policy: str, size: int) -> VerifiedTokens:
    return VerifiedTokens(size) if policy == POLICIES[0] else OldestFirst(size)


def hit_ratio(policy: str, size: int, sequence: list[tuple[int, int]]) -> float:
    """The exact share of requests the cache answers, without validating anything."""
    cache = make_cache(policy, size)
    entry = AccessToken.verified(
        {}, None, "issuer", (AUDIENCE,), frozenset(), None, 2e9, None, None, ""
    )
    hits = 0
    for request in sequence:
        key = repr(request).encode()
        if cache.get(key) is not None:
            hits += 1
        else:
            cache.remember(key, entry)
    return hits / len(sequence)


def cost(validator: TokenValidator, tokens: list[str]) -> float:
    """Microseconds per request to validate ``tokens`` in order, starting from an empty cache."""
    validator.cache.clear()
    validate = validator.validate
    started = time.perf_counter()
    for token in tokens:
        validate(token)
    return (time.perf_counter() - started) / len(tokens) * 1e6


def figure(
    name: str,
    title: str,
    unit: str,
    series: dict[str, list[list[float]]],
    argv: str,
    notes: list[str],
) -> dict[str, Any]:
    return {
        "name": name,
        "title": title,
        "command": f"python -m bench.cache_curve {argv}".strip(),
        "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}",
        "kind": "curve",
        "unit": unit,
        "x_label": "live tokens / cache size",
        "series": series,
        "notes": notes,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512, help="entries the cache holds")
    parser.add_argument("--reuse", type=int, default=50, help="requests per token")
    parser.add_argument(
        "--requests-per-slot", type=int, default=40, help="requests per cache entry, per point"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the curves there (and <stem>-cost)")
    args = parser.parse_args(argv)
    requests = args.size * args.requests_per_slot

    hits: dict[str, list[list[float]]] = {policy: [] for policy in POLICIES}
    costs: dict[str, list[list[float]]] = {policy: [] for policy in POLICIES}
    print(f"cache size {args.size}, {requests} requests per point, {args.reuse} per token")
    print(f"{'live/size':>9} " + " ".join(f"{p + ' hits':>20} {'µs/req':>7}" for p in POLICIES))
    with LocalIssuer() as issuer:
        settings = Settings(issuer=issuer.issuer, audience=AUDIENCE, algorithms=["ES256"])
        validators = {
            policy: TokenValidator(settings, cache=make_cache(policy, args.size))
            for policy in POLICIES
        }
        for factor in FACTORS:
            clients = max(1, round(factor * args.size))
            sequence = traffic(clients, args.reuse, requests, args.seed)
            minted = {
                request: issuer.mint(alg="ES256", aud=AUDIENCE, expires_in=3600, jti=repr(request))
                for request in dict.fromkeys(sequence)
            }
            tokens = [minted[request] for request in sequence]
            for validator in validators.values():
                validator.validate(tokens[0])  # keys fetched before timing
            best = dict.fromkeys(POLICIES, float("inf"))
            for _ in range(args.rounds):
                for policy in POLICIES:
                    best[policy] = min(best[policy], cost(validators[policy], tokens))
            row = []
            for policy in POLICIES:
                ratio = hit_ratio(policy, args.size, sequence)
                hits[policy].append([factor, round(ratio, 4)])
                costs[policy].append([factor, round(best[policy], 2)])
                row.append(f"{ratio:>20.1%} {best[policy]:>7.2f}")
            print(f"{factor:>9.2f} " + " ".join(row))

    if args.json is not None:
        shown = " ".join(a for a in (argv or []) if not a.startswith("--json")) or ""
        notes = [
            f"cache size {args.size}; {requests} requests per point; each client sends its "
            f"token {args.reuse} times, then a new one; client i calls with weight "
            f"1/(i+1)^{SKEW}",
            "CLOCK: a hit marks the entry; room is made by passing marked entries once and "
            "dropping the first unmarked (an expired one whatever its mark)",
        ]
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                figure(
                    "cache-curve",
                    "Verified-token cache: hit ratio as live tokens outgrow it",
                    "hit ratio",
                    hits,
                    shown,
                    notes,
                ),
                indent=1,
            )
            + "\n"
        )
        cost_path = args.json.with_name(args.json.stem + "-cost.json")
        cost_path.write_text(
            json.dumps(
                figure(
                    "cache-curve-cost",
                    "Verified-token cache: cost per request (ES256)",
                    "µs per request",
                    costs,
                    shown,
                    notes,
                ),
                indent=1,
            )
            + "\n"
        )
        print(f"wrote {args.json} and {cost_path}")


if __name__ == "__main__":
    main()
