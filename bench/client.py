"""Cost of ``ClientCredentials`` per request once its token is cached, against the same
request with a fixed ``Authorization`` header (the floor: httpx itself).

    .venv/bin/python -m bench.client [--seconds 0.3]

The API is an in-process ``httpx.MockTransport``, so the numbers are httpx's and the auth
flow's own; the token comes from a ``LocalIssuer`` over HTTP once, before timing starts.
"""

from __future__ import annotations

import argparse

import httpx

from audmw.client import ClientCredentials
from audmw.testing import LocalIssuer
from bench.rules import per_call


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=0.3)
    args = parser.parse_args(argv)
    api = httpx.MockTransport(lambda request: httpx.Response(204))
    with LocalIssuer() as issuer:
        issuer.register_client("bench", secret="bench-secret")
        auth = ClientCredentials(
            issuer=issuer.issuer, client_id="bench", client_secret="bench-secret"
        )
        header = {"Authorization": f"Bearer {auth.token().access_token}"}
        with httpx.Client(transport=api) as fixed, httpx.Client(transport=api, auth=auth) as ours:
            timings = per_call(
                {
                    "fixed header": lambda: fixed.get("http://api.test/", headers=header),
                    "ClientCredentials": lambda: ours.get("http://api.test/"),
                },
                args.seconds,
            )
        assert issuer.token_endpoint.requests == 1
    floor = timings["fixed header"]
    for name, microseconds in timings.items():
        print(f"{name:<18} {microseconds:8.1f} µs/request  {microseconds / floor:5.2f}x")


if __name__ == "__main__":
    main()
