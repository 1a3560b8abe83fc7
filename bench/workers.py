"""Throughput with 1, 2 and 4 worker processes, key fetches per worker, and ``prefetch_keys``.

    .venv/bin/python -m bench.workers [--workers 1,2,4] [--seconds 2] [--rounds 3]
        [--servers uvicorn,gunicorn-uvicorn,gunicorn-flask,gunicorn-django] [--json bench/results]

Each server runs ``bench.worker_apps`` twice side by side, with audmw and without it
(``BENCH_AUTH=0``), against a ``LocalIssuer`` in this process: uvicorn ``--workers N``
(Starlette, httptools and uvloop), gunicorn with uvicorn workers (Starlette), gunicorn sync
workers (Flask, Django). This process drives ``GET /api/me`` with one cached token over
keep-alive connections (sync workers close each one), alternating between the two servers
round by round; the best round of each counts. It runs on the same cores as the servers, as
a load balancer or a sidecar would.

Counted at the issuer: each worker fetches discovery and keys once, at start-up with
``prefetch_keys`` (asserted as soon as the server answers), else on its first request
(asserted after the load). First requests: right after start-up, a burst of requests on new
connections; each worker's first answer (the body names its process) is timed, with and
without ``prefetch_keys``. The ``LocalIssuer`` answers on loopback in about a millisecond; an
issuer across the internet takes tens to hundreds, which is what a first request then waits.

``--json DIR`` writes ``workers-throughput.json`` (requests/s by worker count),
``workers-overhead.json`` (with audmw, as a fraction of the same server without it) and
``workers-first-request.json`` (ms), for ``bench/plot.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from audmw.testing import LocalIssuer

AUDIENCE = "https://api.example.com"
ROOT = Path(__file__).resolve().parents[1]
SERVERS = ("uvicorn", "gunicorn-uvicorn", "gunicorn-flask", "gunicorn-django")
STARTUP_TIMEOUT = 60.0


class Failed(Exception):
    """A count differs from the one required, or a server misbehaved."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def command(server: str, workers: int, port: int) -> list[str]:
    bind = ["--bind", f"127.0.0.1:{port}"]
    quiet = ["--log-level", "warning"]
    if server == "uvicorn":
        return [
            *(sys.executable, "-m", "uvicorn", "bench.worker_apps:starlette_app"),
            *("--port", str(port), "--workers", str(workers), "--log-level", "warning"),
            *("--http", "httptools", "--loop", "uvloop", "--no-access-log"),
        ]
    gunicorn = [sys.executable, "-m", "gunicorn", "--workers", str(workers), *bind, *quiet]
    gunicorn += ["--no-control-socket"] if _has_control_socket() else []
    if server == "gunicorn-uvicorn":
        return [*gunicorn, "-k", "uvicorn.workers.UvicornWorker", "bench.worker_apps:starlette_app"]
    if server == "gunicorn-flask":
        return [*gunicorn, "bench.worker_apps:flask_app"]
    assert server == "gunicorn-django"
    return [*gunicorn, "bench.worker_apps:django_app"]


def _has_control_socket() -> bool:
    help_text = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--help"], capture_output=True, text=True
    ).stdout
    return "--no-control-socket" in help_text


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]


@contextmanager
def serving(
    server: str, workers: int, issuer: LocalIssuer, *, auth: bool, prefetch: bool
) -> Iterator[Server]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUDMW_", "DJANGO_"))}
    env.update(
        AUDMW_ISSUER=issuer.issuer,
        AUDMW_AUDIENCE=AUDIENCE,
        BENCH_AUTH="1" if auth else "0",
        PYTHONPATH=str(ROOT),
    )
    if prefetch:
        env["AUDMW_PREFETCH_KEYS"] = "true"
    process = subprocess.Popen(
        command(server, workers, port),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _answers(port):
            if process.poll() is not None:
                raise Failed(f"{server} stopped: {process.communicate()[1].decode()[-2000:]}")
            if time.monotonic() > deadline:
                raise Failed(f"{server} did not start within {STARTUP_TIMEOUT:g} s")
            time.sleep(0.05)
        yield Server(server, port, process)
    finally:
        process.terminate()
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(
                b"GET /public HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            )
            return connection.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


# -- the load --------------------------------------------------------------------------------


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes, bool]:
    """One request on an open connection: status, body, and whether the server keeps it."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines[1:] if line)
    }
    if "content-length" not in headers:
        raise Failed(f"an answer without Content-Length: {lines[0]}")
    body = await reader.readexactly(int(headers["content-length"]))
    return status, body, headers.get("connection", "").lower() != "close"


def _request(token: str) -> bytes:
    return (
        f"GET /api/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n"
    ).encode()


async def _load(port: int, token: str, seconds: float, concurrency: int, workers: set[str]) -> int:
    """Requests answered 200 in ``seconds``, ``concurrency`` connections at a time; the
    workers that answered are added to ``workers``."""
    request = _request(token)
    stop = time.monotonic() + seconds
    answered = 0

    async def client() -> None:
        nonlocal answered
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while time.monotonic() < stop:
            if connection is None:
                connection = await asyncio.open_connection("127.0.0.1", port)
            status, body, keep = await _exchange(*connection, request)
            if status != 200:
                raise Failed(f"GET /api/me answered {status}")
            answered += 1
            workers.add(body.decode())
            if not keep:
                connection[1].close()
                connection = None
        if connection is not None:
            connection[1].close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return answered


async def _first_answers(port: int, token: str, workers: int) -> dict[str, float]:
    """A burst of requests on new connections: each worker's first answer, in ms."""
    request = _request(token)
    firsts: dict[str, float] = {}

    async def one() -> None:
        started = time.perf_counter()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        status, body, _ = await _exchange(reader, writer, request)
        elapsed = (time.perf_counter() - started) * 1000
        writer.close()
        if status != 200:
            raise Failed(f"a first GET /api/me answered {status}")
        firsts.setdefault(body.decode(), elapsed)  # answers arrive in the order they end

    for _ in range(20):  # until every worker has answered once
        await asyncio.gather(*(one() for _ in range(workers * 2)))
        if len(firsts) >= workers:
            break
    return firsts


# -- the runs --------------------------------------------------------------------------------


def wait_for_fetches(issuer: LocalIssuer, wanted: int, seconds: float = 30.0) -> None:
    """Workers start one after another: wait until ``wanted`` have fetched, then a moment
    more, so a fetch too many would be seen."""
    deadline = time.monotonic() + seconds
    while issuer.jwks_requests < wanted and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)


def expect(what: str, found: object, wanted: object) -> str:
    if found != wanted:
        raise Failed(f"{what}: {found}, expected {wanted}")
    return f"{what}: {found}"


def throughput(
    server: str, workers: int, args: argparse.Namespace, counts: list[str]
) -> tuple[float, float]:
    """Best requests/s with audmw and without, in alternating rounds; asserts the fetches."""
    with LocalIssuer() as issuer:
        token = issuer.mint(aud=AUDIENCE, expires_in=3600)
        with (
            serving(server, workers, issuer, auth=True, prefetch=False) as auth,
            serving(server, workers, issuer, auth=False, prefetch=False) as plain,
        ):
            counts.append(
                expect(
                    f"{server} x{workers}: JWKS fetches before any token",
                    (issuer.discovery_requests, issuer.jwks_requests),
                    (0, 0),
                )
            )
            answering = {"auth": set[str](), "plain": set[str]()}
            for label, running in (("auth", auth), ("plain", plain)):  # past first requests
                warm_up = min(args.seconds, 1.0)
                asyncio.run(_load(running.port, token, warm_up, args.concurrency, answering[label]))
            best = {"auth": 0.0, "plain": 0.0}
            for _ in range(args.rounds):
                for label, running in (("auth", auth), ("plain", plain)):
                    answered = asyncio.run(
                        _load(running.port, token, args.seconds, args.concurrency, answering[label])
                    )
                    best[label] = max(best[label], answered / args.seconds)
            fetched = (issuer.discovery_requests, issuer.jwks_requests)
            # At most one fetch per worker (the kernel may leave a worker without a connection
            # of the measured load; the first-request runs count them exactly).
            served = len(answering["auth"])
            line = (
                f"{server} x{workers}: discovery and JWKS fetches after the load: {fetched} "
                f"({served} workers seen answering)"
            )
            if fetched[0] != fetched[1] or fetched[1] > workers:
                raise Failed(line + f", expected at most {workers} each")
            counts.append(line)
    return best["auth"], best["plain"]


def first_requests(
    server: str, workers: int, prefetch: bool, counts: list[str]
) -> dict[str, float]:
    with LocalIssuer() as issuer:
        token = issuer.mint(aud=AUDIENCE, expires_in=3600)
        with serving(server, workers, issuer, auth=True, prefetch=prefetch) as running:
            if prefetch:
                wait_for_fetches(issuer, workers)
                counts.append(
                    expect(
                        f"{server} x{workers} prefetch_keys: fetches at start-up, no request yet",
                        (issuer.discovery_requests, issuer.jwks_requests),
                        (workers, workers),
                    )
                )
            firsts = asyncio.run(_first_answers(running.port, token, workers))
            fetched = (issuer.discovery_requests, issuer.jwks_requests)
            if prefetch:
                wanted = (workers, workers)  # nothing more for the requests
                what = "prefetch_keys: fetches after the first requests"
            else:
                wanted = (len(firsts), len(firsts))  # one for each worker's first request
                what = f"fetches after {len(firsts)} workers' first requests"
            counts.append(expect(f"{server} x{workers} {what}", fetched, wanted))
    return firsts


def machine() -> str:
    return (
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{datetime.now(timezone.utc):%Y-%m-%d}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma separated")
    parser.add_argument("--servers", default=",".join(SERVERS), help="servers to run")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one load round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per variant")
    parser.add_argument("--concurrency", type=int, default=32, help="connections at a time")
    parser.add_argument("--json", type=Path, help="directory to write the results' JSON into")
    args = parser.parse_args(argv)
    worker_counts = [int(n) for n in args.workers.split(",")]
    servers = [name for name in args.servers.split(",") if name]
    unknown = set(servers) - set(SERVERS)
    if unknown:
        parser.error(f"unknown servers {sorted(unknown)}; choose from {', '.join(SERVERS)}")

    counts: list[str] = []
    rates: dict[str, dict[int, tuple[float, float]]] = {}
    firsts: dict[str, dict[int, dict[bool, dict[str, float]]]] = {}
    for server in servers:
        for workers in worker_counts:
            rates.setdefault(server, {})[workers] = throughput(server, workers, args, counts)
            firsts.setdefault(server, {})[workers] = {
                prefetch: first_requests(server, workers, prefetch, counts)
                for prefetch in (False, True)
            }
    for line in counts:
        print(line)

    print(f"\n{'server':>18} {'workers':>7} {'audmw req/s':>11} {'no auth req/s':>13} {'ratio':>6}")
    for server, by_count in rates.items():
        for workers, (auth, plain) in by_count.items():
            print(f"{server:>18} {workers:>7} {auth:>11.0f} {plain:>13.0f} {auth / plain:>6.2f}")
    print(
        f"\n{'first request, ms':>18} {'workers':>7} {'without prefetch':>24} {'with prefetch':>24}"
    )
    first_bars: dict[str, float] = {}
    for server, by_count in firsts.items():
        for workers, by_prefetch in by_count.items():
            shown = []
            for prefetch in (False, True):
                values = sorted(by_prefetch[prefetch].values())
                shown.append(
                    f"median {statistics.median(values):6.1f} max {max(values):6.1f}"
                    if values
                    else "none"
                )
                if values:
                    label = f"{server} x{workers}{', prefetch' if prefetch else ''}"
                    first_bars[label] = round(max(values), 2)
            print(f"{server:>18} {workers:>7} {shown[0]:>24} {shown[1]:>24}")

    if args.json is not None:
        args.json.mkdir(parents=True, exist_ok=True)
        shell = "python -m bench.workers " + " ".join(argv if argv is not None else sys.argv[1:])
        common = {"command": shell.strip(), "machine": machine()}
        notes = [
            f"GET /api/me with one cached token, {args.concurrency} keep-alive connections "
            f"from the benchmark's own process on the same cores; best of {args.rounds} "
            f"rounds of {args.seconds:g} s, alternating with the same server without audmw",
            *counts,
        ]
        documents = {
            "workers-throughput": {
                **common,
                "title": "Throughput by worker processes",
                "kind": "curve",
                "unit": "requests/s",
                "x_label": "worker processes",
                "series": {
                    f"{server} {variant}": [
                        [workers, round(pair[index])] for workers, pair in by_count.items()
                    ]
                    for server, by_count in rates.items()
                    for index, variant in ((0, "audmw"), (1, "no auth"))
                },
                "notes": notes,
            },
            "workers-overhead": {
                **common,
                "title": "Throughput with audmw, as a fraction of the same server without it",
                "kind": "curve",
                "unit": "x of no auth",
                "x_label": "worker processes",
                "series": {
                    server: [[workers, round(a / p, 3)] for workers, (a, p) in by_count.items()]
                    for server, by_count in rates.items()
                },
                "notes": notes,
            },
            "workers-first-request": {
                **common,
                "title": "Slowest first request of a worker, with and without prefetch_keys",
                "kind": "bars",
                "unit": "ms",
                "bars": first_bars,
                "notes": [
                    "each worker's first authorized request right after start-up; the "
                    "LocalIssuer answers on loopback in about a millisecond, an issuer across "
                    "the internet in tens to hundreds",
                    *counts,
                ],
            },
        }
        for name, document in documents.items():
            (args.json / f"{name}.json").write_text(
                json.dumps({"name": name, **document}, indent=1, ensure_ascii=False) + "\n"
            )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failed as failure:
        sys.exit(f"bench.workers: {failure}")
