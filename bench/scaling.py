"""Cost per request as the work grows, and exact fetch counts on cold starts and floods.

    .venv/bin/python -m bench.scaling [--seconds 0.2] [--json bench/results]

Curves (microseconds per request through ``Guard.requirement`` and ``Guard.authorize``, the
path every adapter takes; route marks through Starlette's ``AudienceMiddleware`` on raw ASGI
calls, minus the app it protects), each for a cached token and an
uncached one (the verified-token cache off, so every request verifies the signature):

- rules: path rules 10 -> 1,000 (the shapes of ``bench.rules``), a new path every request
  so that no memo answers; route marks: 10 -> 1,000 marked Starlette routes given to the
  middleware in front of an app that answers at once, a path parameter in the route asked
  for so that no memo answers either;
- issuers: 1 -> 1,000 exact issuers sharing one ``jwks_uri``, and 1 -> 1,000 tenants of a
  ``{tenantid}`` issuer template (``allowed_tenants``);
- keys: 1 -> 100 RSA keys in the JWKS, tokens signed by each in turn.

Counts, asserted exactly (the command fails otherwise), at real ``LocalIssuer``s over HTTP:

- cold start: 1,000 requests at once on a cold app, as asyncio tasks through Starlette and
  as threads through ``Guard.authorize``, with two issuers: one discovery and one JWKS fetch
  per issuer;
- random-kid flood: tokens with random unknown kids for 95 s of (simulated) time with a 30 s
  cooldown: exactly one refetch per cooldown, one at start-up before them.

Rounds of every size are interleaved (best of several), so a slow spell of the machine hits
every size alike. ``--json DIR`` writes ``scaling-rules.json``, ``scaling-issuers.json`` and
``scaling-keys.json`` there (kind "curve"), for ``bench/plot.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import sys
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from audmw import Guard, Settings, TokenValidator
from audmw.request import IncomingRequest
from audmw.starlette import AudienceMiddleware, require_scopes
from audmw.testing import LocalIssuer, generate_key
from bench.rules import EXEMPT_PATHS, per_call, rules_for

AUDIENCE = "https://api.example.com"
RULE_SIZES = (10, 100, 1000)
ISSUER_SIZES = (1, 10, 100, 1000)
KEY_SIZES = (1, 10, 100)
COLD_REQUESTS = 1000
FLOOD_COOLDOWN = 30.0
FLOOD_SECONDS = 95  # three cooldowns pass: three refetches
FLOOD_PER_SECOND = 20


def machine() -> str:
    return (
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{datetime.now(timezone.utc):%Y-%m-%d}"
    )


# -- the measured request ------------------------------------------------------------------


def guard_request(guard: Guard, paths: Iterator[str], tokens: Iterator[str]) -> Callable[[], Any]:
    """One request through the core: its requirement, then its token against it."""
    requirement_of = guard.requirement
    authorize = guard.authorize

    def call() -> Any:
        request = IncomingRequest("GET", next(paths), (f"Bearer {next(tokens)}",))
        return authorize(request, requirement_of(request))

    return call


def fresh_paths(prefix: str) -> Iterator[str]:
    return (f"{prefix}{n}" for n in itertools.count())


def settings_for(local: LocalIssuer, *, cached: bool, **options: Any) -> Settings:
    options.setdefault("issuer", local.issuer)
    return Settings(audience=AUDIENCE, token_cache_size=10_000 if cached else 0, **options)


def warmed(guard: Guard, call: Callable[[], Any]) -> Callable[[], Any]:
    call()  # keys fetched, the token cached: only the steady state is timed
    return call


# -- rules and route marks -----------------------------------------------------------------


def rule_curves(issuer: LocalIssuer, functions: dict[str, Callable[[], Any]]) -> None:
    token = issuer.mint(aud=AUDIENCE, scopes=["read", "a"], expires_in=3600)
    for size in RULE_SIZES:
        service = size // 2 - size // 2 % 3  # a GET rule in the middle of the list
        for cached in (True, False):
            settings = settings_for(
                issuer, cached=cached, rules=rules_for(size), exempt_paths=EXEMPT_PATHS
            )
            guard = Guard(settings)
            call = guard_request(
                guard, fresh_paths(f"/svc{service}/items/"), itertools.repeat(token)
            )
            functions[f"rules {cached} {size}"] = warmed(guard, call)
        for with_auth in (True, False):
            functions[f"marks {with_auth} {size}"] = asgi_call(
                marked_app(size, issuer, with_auth), f"/svc{size // 2}/items/", token
            )


async def item(request: Request) -> PlainTextResponse:
    return PlainTextResponse("item")


def marked_app(size: int, issuer: LocalIssuer, with_auth: bool) -> Any:
    """The middleware over ``size`` routes, each marked with the scope it needs, in front of
    an app that answers at once: what is timed is the middleware alone (Starlette's own
    router also tries its routes in turn, whatever audmw does)."""
    routes = [
        Route(f"/svc{n}/items/{{item}}", require_scopes("read")(item), name=f"item{n}")
        for n in range(size)
    ]
    if not with_auth:
        return answer_at_once
    return AudienceMiddleware(answer_at_once, settings_for(issuer, cached=True), routes=routes)


async def answer_at_once(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"item"})


def drive(coroutine: Coroutine[Any, Any, Any]) -> None:
    """Run a coroutine that never suspends (no I/O) without an event loop's overhead."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    coroutine.close()
    raise RuntimeError("the request suspended: the benchmark needs a warmed app")


def asgi_call(app: Any, prefix: str, token: str) -> Callable[[], Any]:
    """A raw ASGI ``GET prefix<n>`` with the token, a new ``n`` every call."""
    numbers = itertools.count()
    headers = [(b"authorization", f"Bearer {token}".encode())]
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    def call() -> Any:
        path = f"{prefix}{next(numbers)}"
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": headers,
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8000),
        }
        sent.clear()
        drive(app(scope, receive, send))
        return sent[0]["status"]

    # The first request starts the app's middleware stack and fetches the keys (it awaits).
    asyncio.run(app(_scope_of(prefix + "0", headers), receive, send))
    if call() != 200:
        raise SystemExit(f"the marked app refused the benchmark's request: {sent}")
    return call


def _scope_of(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


# -- issuers and tenants -------------------------------------------------------------------


def issuer_curves(issuer: LocalIssuer, functions: dict[str, Callable[[], Any]]) -> None:
    template = f"{issuer.origin}/{{tenantid}}/v2.0"
    for size in ISSUER_SIZES:
        issuers = [f"{issuer.origin}/issuer{n}" for n in range(size)]
        tenants = [str(uuid.UUID(int=n + 1)) for n in range(size)]
        tenant = tenants[size // 2]
        exact_token = issuer.mint(aud=AUDIENCE, iss=issuers[size // 2], expires_in=3600)
        tenant_token = issuer.mint(
            aud=AUDIENCE, iss=template.replace("{tenantid}", tenant), tid=tenant, expires_in=3600
        )
        for cached in (True, False):
            exact = Guard(
                settings_for(issuer, cached=cached, issuer=issuers, jwks_uri=issuer.jwks_uri)
            )
            call = guard_request(exact, itertools.repeat("/api/me"), itertools.repeat(exact_token))
            functions[f"issuers {cached} {size}"] = warmed(exact, call)
            tenanted = Guard(
                settings_for(
                    issuer,
                    cached=cached,
                    issuer=[template],
                    jwks_uri=issuer.jwks_uri,
                    allowed_tenants=tenants,
                )
            )
            call = guard_request(
                tenanted, itertools.repeat("/api/me"), itertools.repeat(tenant_token)
            )
            functions[f"tenants {cached} {size}"] = warmed(tenanted, call)


# -- keys per JWKS -------------------------------------------------------------------------


def key_curves(functions: dict[str, Callable[[], Any]], issuers: list[LocalIssuer]) -> None:
    keys = [generate_key("rsa", kid=f"key-{n}") for n in range(max(KEY_SIZES))]
    for size in KEY_SIZES:
        issuer = LocalIssuer(keys=keys[:size]).start()
        issuers.append(issuer)
        tokens = [
            issuer.mint(aud=AUDIENCE, key=key, kid=key.kid, expires_in=3600) for key in keys[:size]
        ]
        for cached in (True, False):
            guard = Guard(settings_for(issuer, cached=cached))
            call = guard_request(guard, itertools.repeat("/api/me"), itertools.cycle(tokens))
            for _ in tokens:
                call()  # every token verified once: cached means every kid's token is cached
            functions[f"keys {cached} {size}"] = call


# -- counts --------------------------------------------------------------------------------


class Failed(Exception):
    """A count differs from the one required."""


def expect(what: str, found: object, wanted: object) -> str:
    if found != wanted:
        raise Failed(f"{what}: {found}, expected {wanted}")
    return f"{what}: {found}"


def cold_start_async(first: LocalIssuer, second: LocalIssuer) -> list[str]:
    """``COLD_REQUESTS`` concurrent requests through Starlette on a cold app, two issuers."""
    settings = Settings(issuer=[first.issuer, second.issuer], audience=AUDIENCE)

    async def me(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.user.identity)

    app = Starlette(
        routes=[Route("/me", me)], middleware=[Middleware(AudienceMiddleware, settings)]
    )
    tokens = [
        (first if n % 2 else second).mint(aud=AUDIENCE, alg="ES256", sub=f"user-{n}")
        for n in range(COLD_REQUESTS)
    ]
    statuses: list[int] = []

    async def request(token: str) -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        headers = [(b"authorization", f"Bearer {token}".encode())]
        await app(_scope_of("/me", headers), receive, send)

    async def everyone() -> None:
        await asyncio.gather(*(request(token) for token in tokens))

    asyncio.run(everyone())
    return [
        expect("async: requests answered 200", statuses.count(200), COLD_REQUESTS),
        *issuer_counts("async", first, second),
    ]


def cold_start_threads(first: LocalIssuer, second: LocalIssuer) -> list[str]:
    """``COLD_REQUESTS`` threads released at once on a cold ``Guard``, two issuers."""
    guard = Guard(Settings(issuer=[first.issuer, second.issuer], audience=AUDIENCE))
    tokens = [
        (first if n % 2 else second).mint(aud=AUDIENCE, alg="ES256", sub=f"user-{n}")
        for n in range(COLD_REQUESTS)
    ]
    barrier = threading.Barrier(COLD_REQUESTS)
    accepted: list[str | None] = []

    def work(token: str) -> None:
        barrier.wait()
        request = IncomingRequest("GET", "/me", (f"Bearer {token}",))
        accepted.append(guard.authorize(request).subject)

    threads = [threading.Thread(target=work, args=(token,)) for token in tokens]
    previous = threading.stack_size(256 * 1024)
    try:
        for thread in threads:
            thread.start()
    finally:
        threading.stack_size(previous)
    for thread in threads:
        thread.join()
    return [
        expect("threads: requests accepted", len(accepted), COLD_REQUESTS),
        *issuer_counts("threads", first, second),
    ]


def issuer_counts(label: str, *issuers: LocalIssuer) -> list[str]:
    lines = []
    for number, issuer in enumerate(issuers, 1):
        found = (issuer.discovery_requests, issuer.jwks_requests)
        lines.append(expect(f"{label}: issuer {number} discovery, JWKS fetches", found, (1, 1)))
    return lines


class Clock:
    """Simulated time in hundredths of a second: the flood spans minutes in a moment."""

    def __init__(self) -> None:
        self.start = time.time()
        self.ticks = 0

    def __call__(self) -> float:
        return self.start + self.ticks / 100


def flood(issuer: LocalIssuer) -> list[str]:
    """Random unknown kids, ``FLOOD_PER_SECOND`` a second for ``FLOOD_SECONDS`` seconds."""
    clock = Clock()
    settings = Settings(
        issuer=issuer.issuer, audience=AUDIENCE, jwks_refresh_cooldown=FLOOD_COOLDOWN
    )
    guard = Guard(settings, validator=TokenValidator(settings, clock=clock))
    guard.authorize(IncomingRequest("GET", "/", (f"Bearer {issuer.mint(aud=AUDIENCE)}",)))
    refused = 0
    steps = FLOOD_SECONDS * FLOOD_PER_SECOND
    for step in range(steps):
        clock.ticks = step * 100 // FLOOD_PER_SECOND
        token = issuer.mint(aud=AUDIENCE, alg="ES256", kid=uuid.uuid4().hex)
        try:
            guard.authorize(IncomingRequest("GET", "/", (f"Bearer {token}",)))
        except Exception as error:  # an AuthError: unknown_kid, as asserted below
            refused += getattr(error, "reason", None) == "unknown_kid"
    refetches = int(FLOOD_SECONDS // FLOOD_COOLDOWN)
    return [
        expect("flood: tokens refused with unknown_kid", refused, steps),
        expect(
            f"flood: JWKS fetches over {FLOOD_SECONDS} s, cooldown {FLOOD_COOLDOWN:g} s "
            "(start-up + one per cooldown)",
            issuer.jwks_requests,
            1 + refetches,
        ),
        expect("flood: discovery fetches", issuer.discovery_requests, 1),
    ]


# -- report --------------------------------------------------------------------------------


CURVES: dict[str, tuple[str, str, tuple[int, ...], dict[str, str]]] = {
    "rules": (
        "Scaling: rules and route marks",
        "rules or marked routes",
        RULE_SIZES,
        {
            "path rules, cached token": "rules True",
            "path rules, uncached token": "rules False",
            "route marks (the middleware alone), cached token": "marks",
        },
    ),
    "issuers": (
        "Scaling: issuers and tenants",
        "issuers or tenants",
        ISSUER_SIZES,
        {
            "exact issuers, cached token": "issuers True",
            "exact issuers, uncached token": "issuers False",
            "{tenantid} tenants, cached token": "tenants True",
            "{tenantid} tenants, uncached token": "tenants False",
        },
    ),
    "keys": (
        "Scaling: keys per JWKS",
        "keys in the JWKS",
        KEY_SIZES,
        {"cached token": "keys True", "uncached token": "keys False"},
    ),
}


def series_of(times: dict[str, float], key: str, sizes: tuple[int, ...]) -> list[list[float]]:
    if key == "marks":  # what audmw adds to the same app
        return [
            [size, round(times[f"marks True {size}"] - times[f"marks False {size}"], 2)]
            for size in sizes
        ]
    return [[size, round(times[f"{key} {size}"], 2)] for size in sizes]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.2, help="timing budget per function")
    parser.add_argument("--json", type=Path, help="directory to write the curves' JSON into")
    args = parser.parse_args(argv)

    counts: list[str] = []
    with LocalIssuer() as first, LocalIssuer() as second:
        counts += cold_start_async(first, second)
    with LocalIssuer() as first, LocalIssuer() as second:
        counts += cold_start_threads(first, second)
    with LocalIssuer() as issuer:
        counts += flood(issuer)
    for line in counts:
        print(line)

    functions: dict[str, Callable[[], Any]] = {}
    started: list[LocalIssuer] = []
    with LocalIssuer() as issuer:
        rule_curves(issuer, functions)
        issuer_curves(issuer, functions)
        key_curves(functions, started)
        times = per_call(functions, args.seconds)
    for issuer in started:
        issuer.stop()

    command = "python -m bench.scaling " + " ".join(argv if argv is not None else sys.argv[1:])
    for name, (title, x_label, sizes, wanted) in CURVES.items():
        series = {label: series_of(times, key, sizes) for label, key in wanted.items()}
        print(f"\n{title} (µs per request)")
        print(f"{x_label:>48} " + " ".join(f"{size:>8}" for size in sizes) + "  largest/smallest")
        for label, points in series.items():
            ratio = points[-1][1] / points[0][1]
            values = " ".join(f"{value:>8.2f}" for _, value in points)
            print(f"{label:>48} {values}  {ratio:.2f}x")
        if args.json is not None:
            args.json.mkdir(parents=True, exist_ok=True)
            document = {
                "name": f"scaling-{name}",
                "title": title,
                "command": command.strip(),
                "machine": machine(),
                "kind": "curve",
                "unit": "µs per request",
                "x_label": x_label,
                "series": series,
                "notes": [
                    "Guard.requirement + Guard.authorize (route marks: raw ASGI calls of "
                    "AudienceMiddleware, minus the app behind it); uncached: the verified-token "
                    "cache off, every request verifies RS256",
                    *(counts if name == "keys" else []),
                ],
            }
            (args.json / f"scaling-{name}.json").write_text(
                json.dumps(document, indent=1, ensure_ascii=False) + "\n"
            )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failed as failure:
        sys.exit(f"bench.scaling: a count is wrong: {failure}")
