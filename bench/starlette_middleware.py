"""Per-request cost of AudienceMiddleware on Starlette, against the alternatives, in one run.

    .venv/bin/python -m bench.starlette_middleware [--rounds N] [--no-uvicorn]
        [--seconds S] [--served-rounds N]

Variants, all serving the same ``GET /api/me`` endpoint (which does not look at the token):
  no-auth           the app alone
  audmw cached      AudienceMiddleware, the same token again (verified-token cache)
  audmw uncached    AudienceMiddleware with token_cache_size=0 (full verification each time)
  pyjwt middleware  a hand-written pure-ASGI middleware calling jwt.decode
  starlette auth    Starlette's AuthenticationMiddleware with a jwt.decode backend
  signature only    the floor: read the header and check the RS256 signature, nothing else
                    (no JSON, no claims: it would accept any token the issuer ever signed)

Raw ASGI: the app is called directly in a loop (no server, no network). Under uvicorn: each
variant runs in its own uvicorn process, loaded over keep-alive connections by ``wrk`` when it
is installed (else by this process), the server and the load on cores of their own where the
machine has two or more. Two figures per variant: the server's time per request (the inverse
of its throughput, which on a small shared machine varies a lot from run to run), and the
time spent inside the auth middleware itself, timed in the server by layers just outside and
just inside it, which is steady. The key cache is warm in every case. Ratios are computed from
numbers measured in this same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from base64 import urlsafe_b64decode
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from audmw import Settings
from audmw.starlette import AudienceMiddleware, public, require_scopes

AUDIENCE = "https://api.example.com"
VARIANTS = (
    "no-auth",
    "audmw cached",
    "audmw uncached",
    "pyjwt middleware",
    "starlette auth",
    "signature only",
)


# -- the app and the alternatives -----------------------------------------------------------


async def me(request: Request) -> JSONResponse:
    return JSONResponse({"sub": "user-123"})


@public
async def public_page(request: Request) -> JSONResponse:
    return JSONResponse({"public": True})


@require_scopes("read:messages")
async def messages(request: Request) -> JSONResponse:
    return JSONResponse({"messages": []})


def routes() -> list[Route]:
    return [
        Route("/public", public_page),
        Route("/api/me", me),
        Route("/api/messages", messages, methods=["GET"]),
        Route("/api/messages", messages, methods=["POST"]),
        Route("/api/admin", messages),
    ]


class PyJWTMiddleware:
    """What one writes by hand: a pure ASGI middleware around ``jwt.decode``."""

    def __init__(self, app: ASGIApp, key: Any, issuer: str) -> None:
        self.app, self.key, self.issuer = app, key, issuer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = dict(scope["headers"]).get(b"authorization", b"").decode()
            try:
                scheme, _, token = header.partition(" ")
                if scheme.lower() != "bearer":
                    raise jwt.InvalidTokenError("no bearer token")
                claims = jwt.decode(
                    token, self.key, algorithms=["RS256"], audience=AUDIENCE, issuer=self.issuer
                )
            except jwt.InvalidTokenError:
                await PlainTextResponse("unauthorized", 401)(scope, receive, send)
                return
            scope["user"] = claims
        await self.app(scope, receive, send)


class SignatureOnlyMiddleware:
    """The least any validator must do per request: find the token, check its signature."""

    def __init__(self, app: ASGIApp, key: Any) -> None:
        self.app, self.key = app, key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"authorization":
                    signing_input, _, signature = value[7:].rpartition(b".")
                    self.key.verify(
                        urlsafe_b64decode(signature + b"=" * (-len(signature) % 4)),
                        signing_input,
                        padding.PKCS1v15(),
                        hashes.SHA256(),
                    )
        await self.app(scope, receive, send)


class PyJWTBackend(AuthenticationBackend):
    def __init__(self, key: Any, issuer: str) -> None:
        self.key, self.issuer = key, issuer

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser]:
        _scheme, _, token = conn.headers.get("authorization", "").partition(" ")
        claims = jwt.decode(
            token, self.key, algorithms=["RS256"], audience=AUDIENCE, issuer=self.issuer
        )
        return AuthCredentials(claims.get("scope", "").split()), SimpleUser(claims["sub"])


def public_key(jwks_uri: str) -> Any:
    return jwt.PyJWKClient(jwks_uri).get_signing_key_from_jwt(os.environ["BENCH_TOKEN"]).key


TIMING_PATH = "/__bench_timing"
_TIMES = {"outer": 0.0, "inner": 0.0, "requests": 0.0}


class OuterTimer:
    """Times the layers inside it; answers ``TIMING_PATH`` with the totals and resets them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif scope["path"] == TIMING_PATH:
            await JSONResponse(dict(_TIMES))(scope, receive, send)
            _TIMES.update(outer=0.0, inner=0.0, requests=0.0)
        else:
            start = time.perf_counter()
            await self.app(scope, receive, send)
            _TIMES["outer"] += time.perf_counter() - start
            _TIMES["requests"] += 1


class InnerTimer:
    """Times the app below the auth middleware: outer minus inner is the middleware's time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        await self.app(scope, receive, send)
        _TIMES["inner"] += time.perf_counter() - start


def build(variant: str, issuer: str, jwks_uri: str, *, timed: bool = False) -> Starlette:
    settings = Settings(issuer=issuer, audience=AUDIENCE)
    middleware: list[Middleware] = []
    if variant == "audmw cached":
        middleware = [Middleware(AudienceMiddleware, settings)]
    elif variant == "audmw uncached":
        uncached = Settings(issuer=issuer, audience=AUDIENCE, token_cache_size=0)
        middleware = [Middleware(AudienceMiddleware, uncached)]
    elif variant == "pyjwt middleware":
        middleware = [Middleware(PyJWTMiddleware, key=public_key(jwks_uri), issuer=issuer)]
    elif variant == "signature only":
        middleware = [Middleware(SignatureOnlyMiddleware, key=public_key(jwks_uri))]
    elif variant == "starlette auth":
        backend = PyJWTBackend(public_key(jwks_uri), issuer)
        middleware = [Middleware(AuthenticationMiddleware, backend=backend)]
    if timed:
        middleware = [Middleware(OuterTimer), *middleware, Middleware(InnerTimer)]
    return Starlette(routes=routes(), middleware=middleware)


def app_from_env() -> Starlette:
    """The uvicorn factory: the variant and issuer come from the environment."""
    return build(
        os.environ["BENCH_VARIANT"],
        os.environ["BENCH_ISSUER"],
        os.environ["BENCH_JWKS"],
        timed=True,
    )


# -- raw ASGI ---------------------------------------------------------------------------------


async def raw_asgi(app: ASGIApp, token: str, requests: int) -> float:
    """Microseconds per request for one round of ``requests`` calls."""
    headers = [(b"host", b"testserver"), (b"authorization", f"Bearer {token}".encode())]
    base: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/me",
        "raw_path": b"/api/me",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    statuses: list[int] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(dict(base), receive, send)  # warm: routes, key cache, token cache
    if statuses != [200]:
        raise RuntimeError(f"warm-up answered {statuses}")
    start = time.perf_counter()
    for _ in range(requests):
        await app(dict(base), receive, send)
    return (time.perf_counter() - start) / requests * 1e6


# -- uvicorn with a separate load generator -----------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _connection(port: int, request: bytes, stop: float, counter: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.decode(errors="replace"))
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            counter[0] += 1
    finally:
        writer.close()


async def load(port: int, token: str, seconds: float, connections: int = 8) -> float:
    """Microseconds of server time per request: the inverse of the measured throughput."""
    request = (
        f"GET /api/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n"
    ).encode()
    warm = [0]
    await _connection(port, request, time.perf_counter() + 0.5, warm)
    counter = [0]
    start = time.perf_counter()
    stop = start + seconds
    await asyncio.gather(*(_connection(port, request, stop, counter) for _ in range(connections)))
    return (time.perf_counter() - start) / counter[0] * 1e6


def wrk(port: int, token: str, seconds: float, connections: int = 8) -> float:
    """``load``, by wrk: one thread keeps a one-core server busy."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
    command += ["-H", f"Authorization: Bearer {token}", f"http://127.0.0.1:{port}/api/me"]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    if "Non-2xx" in output:
        raise RuntimeError(output)
    return 1e6 / float(output.split("Requests/sec:")[1].split()[0])


def _timing(port: int) -> dict[str, float]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(
            f"GET {TIMING_PATH} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        )
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    times: dict[str, float] = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    return times


def _cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def _server_cpu() -> None:
    """The server gets a core of its own, so the load generator does not take its time."""
    cpus = _cpus()
    if len(cpus) >= 2:
        os.sched_setaffinity(0, {cpus[0]})


def _serve(variant: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """A uvicorn process serving ``variant`` (on a core of its own), and its port."""
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "bench.starlette_middleware:app_from_env",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env={**env, "BENCH_VARIANT": variant},
        cwd=Path(__file__).resolve().parents[1],
        preexec_fn=_server_cpu,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError(f"uvicorn for {variant} did not start") from None
            time.sleep(0.1)


def under_uvicorn(
    env: dict[str, str], token: str, seconds: float, rounds: int
) -> dict[str, tuple[float, float]]:
    """Per variant: server microseconds per request, and microseconds inside the auth layer.

    Every variant's server runs at once (idle but for its turn) and the rounds take turns, so
    a slow spell of the machine hits every variant alike; the best round counts.
    """
    cpus = _cpus()
    servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    measure = wrk if shutil.which("wrk") else lambda *a: asyncio.run(load(*a))
    best = {variant: (float("inf"), float("inf")) for variant in VARIANTS}
    try:
        if len(cpus) >= 2:
            os.sched_setaffinity(0, set(cpus[1:]))  # the load: every core but the servers'
        for variant in VARIANTS:
            servers[variant] = _serve(variant, env)
            measure(servers[variant][1], token, 1.0)  # warm: keys, caches, connections
        for _ in range(rounds):
            for variant, (_process, port) in servers.items():
                _timing(port)  # start the layer timers afresh
                per_request = measure(port, token, seconds)
                times = _timing(port)
                inside = (times["outer"] - times["inner"]) / times["requests"] * 1e6
                served, layer = best[variant]
                best[variant] = (min(served, per_request), min(layer, inside))
        return best
    finally:
        if len(cpus) >= 2:
            os.sched_setaffinity(0, set(cpus))
        for process, _port in servers.values():
            process.terminate()
            process.wait(timeout=15)


def report_served(title: str, results: dict[str, tuple[float, float]]) -> None:
    """Targets from the time inside the auth layer; throughput shown for reference."""
    base, timer = results["no-auth"]  # timer: what the two timing layers cost by themselves
    layer = {name: inside - timer for name, (_, inside) in results.items()}
    print(f"\n{title}")
    print(f"  {'variant':<18} {'us/request':>11} {'in auth us':>11}")
    for name, (served, _) in results.items():
        print(f"  {name:<18} {served:>11.1f} {layer[name]:>11.1f}")
    print(f"  (timing layers alone: {timer:.1f} us, subtracted)")
    cached, uncached = layer["audmw cached"], layer["audmw uncached"]
    print(f"  cached, time in auth / no-auth request: {cached / base:+.1%} (target <= +15%)")
    print(
        f"  uncached time in auth / hand-written jwt.decode middleware's: "
        f"{uncached / layer['pyjwt middleware']:.2f} (target <= 0.50)"
    )
    print(
        f"  uncached / AuthenticationMiddleware: {uncached / layer['starlette auth']:.2f}; "
        f"audmw uncached = {uncached / layer['signature only']:.2f}x the floor"
    )


# -- report -----------------------------------------------------------------------------------


def report(title: str, results: dict[str, float]) -> None:
    base = results["no-auth"]
    print(f"\n{title}")
    print(f"  {'variant':<18} {'us/request':>11} {'added us':>9} {'vs no-auth':>11}")
    for name, value in results.items():
        print(f"  {name:<18} {value:>11.1f} {value - base:>9.1f} {value / base - 1:>+10.0%}")
    hand = results["pyjwt middleware"] - base
    cached = results["audmw cached"] - base
    uncached = results["audmw uncached"] - base
    print(f"  cached overhead over no-auth: {cached / base:+.1%} (target <= +15%)")
    print(
        f"  uncached added cost / hand-written jwt.decode added cost: {uncached / hand:.2f} "
        "(target <= 0.50)"
    )
    ratio = uncached / (results["starlette auth"] - base)
    print(f"  uncached added cost / AuthenticationMiddleware added cost: {ratio:.2f}")
    floor = results["signature only"] - base
    print(
        f"  floor (signature only) added cost: {floor:.1f} us = {floor / hand:.2f} of the "
        f"hand-written middleware's; audmw uncached = {uncached / floor:.2f}x the floor"
    )


def main(argv: list[str] | None = None) -> None:
    from audmw.testing import LocalIssuer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="raw ASGI requests per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=2.0, help="load per uvicorn round")
    parser.add_argument("--served-rounds", type=int, default=5, help="uvicorn rounds")
    parser.add_argument("--no-uvicorn", action="store_true")
    args = parser.parse_args(argv)
    with LocalIssuer() as issuer:
        token = issuer.mint(scopes=["read:messages"], expires_in=3600)
        os.environ["BENCH_TOKEN"] = token
        apps = {variant: build(variant, issuer.issuer, issuer.jwks_uri) for variant in VARIANTS}
        raw = dict.fromkeys(VARIANTS, float("inf"))
        for _ in range(args.rounds):  # round-robin, so a busy moment hurts every variant alike
            for variant, app in apps.items():
                measured = asyncio.run(raw_asgi(app, token, args.requests))
                raw[variant] = min(raw[variant], measured)
        report(f"raw ASGI calls, GET /api/me, best of {args.rounds} x {args.requests}", raw)
        if not args.no_uvicorn:
            env = {
                **os.environ,
                "BENCH_ISSUER": issuer.issuer,
                "BENCH_JWKS": issuer.jwks_uri,
                "BENCH_TOKEN": token,
            }
            served = under_uvicorn(env, token, args.seconds, args.served_rounds)
            report_served(
                f"uvicorn (1 worker), 8 keep-alive connections, best of {args.served_rounds} "
                f"x {args.seconds:.0f} s",
                served,
            )
    print(json.dumps({"raw_us": raw}, indent=None))


if __name__ == "__main__":
    main()
