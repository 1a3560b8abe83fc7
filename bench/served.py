"""Added cost of audmw on a cached token, inside the servers users run, against no auth.

    .venv/bin/python -m bench.served [--framework flask|django-wsgi|django-asgi|starlette]
        [--seconds 2] [--rounds 5]

For each framework, the same ``GET /api/me`` app (a view that returns a small JSON object and
does not look at the token) runs twice in real servers at once, without auth and with audmw
(the same token on every request: the verified-token cache answers):

  flask        waitress, one thread
  django-wsgi  gunicorn, one sync worker
  django-asgi  uvicorn (httptools, uvloop), Django's ASGI handler
  starlette    uvicorn (httptools, uvloop); ``bench.starlette_middleware`` has the peers

The load comes from ``wrk`` when it is installed (else from this process), the server on a
core of its own where the machine has two. Rounds alternate the two servers, so a busy moment
of a shared machine hits both alike; the best round counts. Two figures per server:

- server microseconds per request, the inverse of the throughput (varies run to run);
- microseconds inside the application, timed by a layer around the WSGI/ASGI app under the
  same load (Django under ASGI: on one connection, as its views run in threads and the
  requests of several connections would overlap), which is steady: the added cost of audmw
  is the difference between the two servers' figures, and the target is that difference
  over the no-auth server's time per request (<= 15%).
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
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bench.starlette_middleware import _cpus, _free_port, _server_cpu, load, wrk

AUDIENCE = "https://api.example.com"
TIMING_PATH = "/__bench_timing"
VARIANTS = ("no-auth", "audmw cached")
FRAMEWORKS = ("flask", "django-wsgi", "django-asgi", "starlette")
_TIMES = {"app": 0.0, "requests": 0.0}


# -- the apps, built in the server process from the environment --------------------------------


def _timing_answer() -> bytes:
    answer = json.dumps(_TIMES).encode()
    _TIMES.update(app=0.0, requests=0.0)
    return answer


def timed_wsgi(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """``app`` with its time per request summed; ``TIMING_PATH`` answers the sums."""

    def timed(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == TIMING_PATH:
            body = _timing_answer()
            start_response("200 OK", [("Content-Length", str(len(body)))])
            return [body]
        start = time.perf_counter()
        body = list(app(environ, start_response))  # the view's whole answer, as servers read it
        _TIMES["app"] += time.perf_counter() - start
        _TIMES["requests"] += 1
        return body

    return timed


def timed_asgi(app: Any) -> Any:
    async def timed(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == TIMING_PATH:
            body = _timing_answer()
            headers = [(b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        start = time.perf_counter()
        await app(scope, receive, send)
        _TIMES["app"] += time.perf_counter() - start
        _TIMES["requests"] += 1

    return timed


def _protected() -> bool:
    return os.environ["BENCH_VARIANT"] == "audmw cached"


def flask_app() -> Any:
    from flask import Flask, jsonify

    app = Flask("bench")

    @app.get("/api/me")
    def me() -> Any:
        return jsonify({"sub": "user-123"})

    if _protected():
        from audmw_flask import Audmw

        app.config.update(AUDMW_ISSUER=os.environ["BENCH_ISSUER"], AUDMW_AUDIENCE=AUDIENCE)
        Audmw(app)
    return timed_wsgi(app)


def _django() -> None:
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY="bench-only-" + "x" * 40,
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        INSTALLED_APPS=["audmw_django"] if _protected() else [],
        MIDDLEWARE=["audmw_django.middleware.AudienceMiddleware"] if _protected() else [],
        ROOT_URLCONF="bench.served",
        DATABASES={},
        USE_TZ=True,
        AUDMW={"ISSUER": os.environ["BENCH_ISSUER"], "AUDIENCE": AUDIENCE},
    )
    django.setup()


def django_wsgi() -> Any:
    _django()
    from django.core.wsgi import get_wsgi_application

    return timed_wsgi(get_wsgi_application())


def django_asgi() -> Any:
    _django()
    from django.core.asgi import get_asgi_application

    return timed_asgi(get_asgi_application())


def starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware

    from audmw import Settings
    from audmw.starlette import AudienceMiddleware
    from bench.starlette_middleware import routes

    middleware = []
    if _protected():
        settings = Settings(issuer=os.environ["BENCH_ISSUER"], audience=AUDIENCE)
        middleware = [Middleware(AudienceMiddleware, settings)]
    return timed_asgi(Starlette(routes=routes(), middleware=middleware))


def __getattr__(name: str) -> Any:
    """``urlpatterns`` for Django's ``ROOT_URLCONF``, made when Django first asks."""
    if name == "urlpatterns":
        from django.http import HttpRequest, JsonResponse
        from django.urls import path

        def me(request: HttpRequest) -> JsonResponse:
            return JsonResponse({"sub": "user-123"})

        return [path("api/me", me)]
    raise AttributeError(name)


# -- the servers and the load ------------------------------------------------------------------


def _command(framework: str, port: int) -> list[str]:
    python = sys.executable
    if framework == "flask":
        return [python, "-m", "waitress", "--port", str(port), "--threads", "1", "--call",
                "bench.served:flask_app"]  # fmt: skip
    if framework == "django-wsgi":
        return [python, "-m", "gunicorn", "--workers", "1", "--worker-class", "sync",
                "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
                "bench.served:django_wsgi()"]  # fmt: skip
    factory = (
        "bench.served:django_asgi" if framework == "django-asgi" else "bench.served:starlette_app"
    )
    return [python, "-m", "uvicorn", "--factory", factory, "--port", str(port),
            "--http", "httptools", "--loop", "uvloop", "--log-level", "warning",
            "--no-access-log"]  # fmt: skip


def _serve(
    framework: str, variant: str, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    process = subprocess.Popen(
        _command(framework, port),
        env={**env, "BENCH_VARIANT": variant},
        cwd=Path(__file__).resolve().parents[1],
        preexec_fn=_server_cpu,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 90  # a busy shared machine starts Django slowly
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError(f"{framework} {variant} did not start") from None
            time.sleep(0.1)


def _timing(port: int) -> dict[str, float]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(
            f"GET {TIMING_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    times: dict[str, float] = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    return times


def _warm(port: int, token: str) -> None:
    """One accepted request first: the keys are fetched, the token verified and cached."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/api/me", headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"warm-up request answered {response.status}")
    finally:
        connection.close()


def measure(
    framework: str, env: dict[str, str], token: str, seconds: float, rounds: int
) -> dict[str, tuple[float, float]]:
    """Per variant: the best server µs per request and the best µs inside the app."""
    cpus = _cpus()
    run_load = wrk if shutil.which("wrk") else lambda *a: asyncio.run(load(*a))
    servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    best = {variant: (float("inf"), float("inf")) for variant in VARIANTS}
    try:
        if len(cpus) >= 2:
            os.sched_setaffinity(0, set(cpus[1:]))
        for variant in VARIANTS:
            servers[variant] = _serve(framework, variant, env)
            _warm(servers[variant][1], token)
        for _ in range(rounds):
            for variant, (_process, port) in servers.items():
                _timing(port)
                per_request = run_load(port, token, seconds)
                times = _timing(port)
                if framework == "django-asgi":
                    # Django runs the view in a thread, so the requests of several connections
                    # overlap and a timer around the app would count the waits: time it on one.
                    run_load(port, token, seconds / 2, 1)
                    times = _timing(port)
                inside = times["app"] / max(times["requests"], 1) * 1e6
                served, app = best[variant]
                best[variant] = (min(served, per_request), min(app, inside))
        return best
    finally:
        if len(cpus) >= 2:
            os.sched_setaffinity(0, set(cpus))
        for process, _port in servers.values():
            process.terminate()
            process.wait(timeout=15)


def main(argv: list[str] | None = None) -> None:
    from audmw.testing import LocalIssuer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", choices=(*FRAMEWORKS, "all"), default="all")
    parser.add_argument("--seconds", type=float, default=2.0, help="load per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    frameworks = FRAMEWORKS if args.framework == "all" else (args.framework,)
    loader = "wrk" if shutil.which("wrk") else "this process"
    print(f"GET /api/me, cached token, load by {loader}, best of {args.rounds} x {args.seconds} s")
    print(
        f"{'server':<12} {'no-auth µs/req':>15} {'audmw µs/req':>13} {'app µs no-auth':>15} "
        f"{'app µs audmw':>13} {'added µs':>9} {'added / no-auth':>16}"
    )
    with LocalIssuer() as issuer:
        token = issuer.mint(scopes=["read:messages"], aud=AUDIENCE, expires_in=3600)
        env = {**os.environ, "BENCH_ISSUER": issuer.issuer}
        for framework in frameworks:
            results = measure(framework, env, token, args.seconds, args.rounds)
            (base, base_app), (audmw, audmw_app) = results["no-auth"], results["audmw cached"]
            added = audmw_app - base_app
            print(
                f"{framework:<12} {base:>15.1f} {audmw:>13.1f} {base_app:>15.1f} "
                f"{audmw_app:>13.1f} {added:>9.1f} {added / base:>15.1%}"
            )


if __name__ == "__main__":
    main()
