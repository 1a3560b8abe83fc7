"""Per-request cost of checking a route's requirement, as ratios to baselines measured in
this run.

    .venv/bin/python -m bench.requirements [--seconds 0.3]

Baselines, for the same verified token: a scopes-only requirement (what every route with
``require_scopes`` pays), and the verified-token cache hit that precedes every check. The
requirements beyond scopes are checked on every request, never cached (``max_age`` depends
on the time), so their cost adds to each request of the routes that ask for them.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from typing import Any

from audmw import DetailRequirement, Guard, Requirement, Settings
from audmw.request import IncomingRequest
from audmw.testing import LocalIssuer
from bench.validate import per_call


def at_most_100(entry: Mapping[str, Any]) -> bool:
    amount = entry["instructedAmount"]["amount"]
    return isinstance(amount, int | float) and amount <= 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=0.3)
    seconds = parser.parse_args().seconds
    with LocalIssuer() as issuer:
        raw = issuer.mint(
            scopes="pay read",
            acr="phrh",
            auth_time=int(time.time()) - 5,
            authorization_details=[
                {"type": "payment_initiation", "instructedAmount": {"amount": 5}}
            ],
        )
        guard = Guard(Settings(issuer=issuer.issuer, audience=issuer.audience))
        request = IncomingRequest("GET", "/pay", credentials=(f"Bearer {raw}",))
        token = guard.authorize(request)  # warms the verified-token cache
        now = time.time()
        requirements = {
            "scopes": Requirement.of(["pay"]),
            "scopes + acr + max_age": Requirement.of(["pay"], acr_values=["phrh"], max_age=300),
            "scopes + authorization details": Requirement.of(
                ["pay"], details=[DetailRequirement("payment_initiation", at_most_100)]
            ),
            "scopes + user token": Requirement.of(["pay"], kind="user"),
        }
        functions = {name: (lambda r=r: r.check(token, now)) for name, r in requirements.items()}
        functions["cache hit (Guard.lookup)"] = lambda: guard.lookup(request)
        timings = per_call(functions, seconds)
    base = timings["scopes"]
    hit = timings["cache hit (Guard.lookup)"]
    print(f"{'check':34} {'µs':>7} {'x scopes':>9} {'x cache hit':>12}")
    for name, micros in timings.items():
        print(f"{name:34} {micros:7.2f} {micros / base:9.2f} {micros / hit:12.2f}")


if __name__ == "__main__":
    main()
