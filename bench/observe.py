"""Per-request cost of observing decisions, against the code before it existed, in one run.

    .venv/bin/python bench/observe.py [--rounds 5] [--requests 3000] [--callgrind]
        [--baseline REV]

Each variant serves ``GET /api/me`` through ``AudienceMiddleware`` on Starlette, called as raw
ASGI in a loop, on a cache hit (``cached``) and with the verified-token cache off
(``uncached``: the full checks every time, keys already fetched):

  baseline  the code without ``audmw.observe`` (``--baseline``; by default where this branch
            last merged ``main``, while ``main`` has none, else the parent of the commit that
            added it), exported from git into a temporary directory
  off       this tree, no decision hook, no OpenTelemetry SDK configured: must equal baseline
  hook      this tree with a ``decision_hook`` that does nothing
  otel      this tree with OpenTelemetry's SDK configured (a meter provider with a reader
            that is never exported during the run, a tracer provider)

Every variant runs in a process of its own (OpenTelemetry's providers are global), the same
issuer and token for all; rounds alternate the variants so that drift on a shared machine
hits each alike. Wall-clock figures are medians of microseconds per request; ratios are to
the baseline measured in the same run. ``--callgrind`` also counts instructions per request
under valgrind (the difference between runs of two lengths, so start-up cancels out), which
is steady where wall-clock time is not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GIT = shutil.which("git") or "git"
VALGRIND = shutil.which("valgrind") or "valgrind"
AUDIENCE = "https://api.example.com"
VARIANTS = ("baseline", "off", "hook", "otel")
MODES = ("cached", "uncached")


# -- the worker: one variant, in a process of its own -----------------------------------------


def _ignore(decision: Any) -> None:
    """The decision hook of the ``hook`` variant: the cost of calling it, nothing else."""


def _app(variant: str, mode: str, issuer: str) -> Any:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from audmw import Settings
    from audmw.starlette import AudienceMiddleware

    if variant == "otel":
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider

        metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
        trace.set_tracer_provider(TracerProvider())

    async def me(request: Request) -> JSONResponse:
        return JSONResponse({"sub": "user-123"})

    # A generous timeout: under valgrind the one key fetch of the warm-up is slow.
    options: dict[str, Any] = {"issuer": issuer, "audience": AUDIENCE, "http_timeout": 120}
    if mode == "uncached":
        options["token_cache_size"] = 0
    if variant == "hook":
        options["decision_hook"] = _ignore
    return Starlette(
        routes=[Route("/api/me", me)],
        middleware=[Middleware(AudienceMiddleware, settings=Settings(**options))],
    )


async def _serve(app: Any, token: str, requests: int, timed: bool) -> float:
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

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    for _ in range(20):  # warm: routes, keys, the token cache, the interpreter's caches
        await app(dict(base), receive, send)
    if set(statuses) != {200}:
        raise RuntimeError(f"warm-up answered {sorted(set(statuses))}")
    start = time.perf_counter()
    for _ in range(requests):
        await app(dict(base), receive, send)
    elapsed = time.perf_counter() - start
    return elapsed / requests * 1e6 if timed else 0.0


def worker(variant: str, mode: str, requests: int) -> None:
    app = _app(variant, mode, os.environ["BENCH_ISSUER"])
    per_request = asyncio.run(_serve(app, os.environ["BENCH_TOKEN"], requests, True))
    print(json.dumps({"us": per_request}))


# -- the driver ---------------------------------------------------------------------------------


def _lacks_observe(revision: str) -> bool:
    """Whether ``revision`` exists and has no ``audmw/observe.py``."""
    found = subprocess.run(
        [GIT, "cat-file", "-e", f"{revision}:audmw/observe.py"], cwd=ROOT, capture_output=True
    )
    known = subprocess.run(
        [GIT, "rev-parse", "--verify", "--quiet", revision], cwd=ROOT, capture_output=True
    )
    return known.returncode == 0 and found.returncode != 0


def _baseline_tree(revision: str | None, into: Path) -> tuple[Path, str]:
    """The ``audmw`` package as it was at ``revision``, exported into ``into``."""
    if revision is None and _lacks_observe("main"):
        # Where this work last took main in: everything else it runs, without observing.
        revision = (
            subprocess.run(
                [GIT, "merge-base", "HEAD", "main"], cwd=ROOT, capture_output=True, text=True
            ).stdout.strip()
            or None
        )
    if revision is None:
        added = subprocess.run(
            [GIT, "log", "--diff-filter=A", "--format=%H", "--", "audmw/observe.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        if not added:
            raise SystemExit("audmw/observe.py was never committed: pass --baseline REV")
        revision = added[-1] + "^"
    archive = subprocess.run(
        [GIT, "archive", "--format=tar", revision, "audmw"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    described = subprocess.run(
        [GIT, "rev-parse", "--short", revision], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return into, described


def _environment(variant: str, baseline: Path, issuer: str, token: str) -> dict[str, str]:
    # A fixed hash seed: dict and set layouts, and so instruction counts, repeat exactly.
    environment = dict(os.environ, BENCH_ISSUER=issuer, BENCH_TOKEN=token, PYTHONHASHSEED="0")
    environment["PYTHONPATH"] = str(baseline if variant == "baseline" else ROOT)
    return environment


def _command(variant: str, mode: str, requests: int) -> list[str]:
    # Run as a file, from a directory with no ``audmw`` in it: PYTHONPATH picks the tree.
    return [sys.executable, str(Path(__file__).resolve()), "--worker", variant, mode, str(requests)]


def _timed(variant: str, mode: str, requests: int, environment: dict[str, str]) -> float:
    done = subprocess.run(
        _command(variant, mode, requests),
        env=environment,
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{variant} {mode} failed:\n{done.stderr}")
    return float(json.loads(done.stdout.splitlines()[-1])["us"])


_COLLECTED = re.compile(r"Collected : (\d+)")


def _instructions(variant: str, mode: str, requests: int, environment: dict[str, str]) -> int:
    done = subprocess.run(
        [
            VALGRIND,
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            *_command(variant, mode, requests),
        ],
        env=environment,
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
        check=False,
    )
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"callgrind {variant} {mode} failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--callgrind", action="store_true", help="count instructions too")
    parser.add_argument("--callgrind-requests", type=int, default=300)
    parser.add_argument("--baseline", help="the git revision to compare with")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        variant, mode, requests = args.worker
        worker(variant, mode, int(requests))
        return

    from audmw.testing import LocalIssuer

    with tempfile.TemporaryDirectory() as directory, LocalIssuer() as issuer:
        baseline, revision = _baseline_tree(args.baseline, Path(directory))
        token = issuer.mint(aud=AUDIENCE, expires_in=3600)
        environments = {v: _environment(v, baseline, issuer.issuer, token) for v in VARIANTS}
        print(f"baseline: {revision}; {args.rounds} rounds of {args.requests} requests")
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for mode in MODES:
                for variant in VARIANTS:
                    measured = _timed(variant, mode, args.requests, environments[variant])
                    times.setdefault((variant, mode), []).append(measured)
        print(f"\n{'variant':<10}{'mode':<10}{'µs/request':>12}{'vs baseline':>12}")
        for mode in MODES:
            base = statistics.median(times[("baseline", mode)])
            for variant in VARIANTS:
                value = statistics.median(times[(variant, mode)])
                print(f"{variant:<10}{mode:<10}{value:>12.2f}{value / base:>12.3f}")

        if args.callgrind:
            if shutil.which("valgrind") is None:
                raise SystemExit("--callgrind needs valgrind on PATH (apt-get install valgrind)")
            short, long = args.callgrind_requests, args.callgrind_requests * 3
            print(f"\ninstructions per request (callgrind, {long} minus {short} requests)")
            print(f"{'variant':<10}{'mode':<10}{'instructions':>14}{'vs baseline':>12}")
            for mode in MODES:
                counts = {}
                for variant in VARIANTS:
                    environment = environments[variant]
                    more = _instructions(variant, mode, long, environment)
                    fewer = _instructions(variant, mode, short, environment)
                    counts[variant] = (more - fewer) / (long - short)
                for variant in VARIANTS:
                    ratio = counts[variant] / counts["baseline"]
                    print(f"{variant:<10}{mode:<10}{counts[variant]:>14.0f}{ratio:>12.4f}")


if __name__ == "__main__":
    main()
