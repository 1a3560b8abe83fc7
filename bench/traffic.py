"""Realistic traffic through each framework's real server, audmw beside the peers, in one run.

    .venv/bin/python -m bench.traffic [--framework starlette ...] [--clients 1000]
        [--per-client 50] [--rounds 3] [--connections 16] [--json-dir bench/results]
        [--variant audmw ...] [--wsgi waitress|gunicorn] [--profile-dir DIR]

The workload: ``clients`` clients, each with its own token used for ``per-client`` requests
(``GET /api/me`` and ``GET /api/messages`` in turn), shuffled together so that every token is
live at once; the tokens signed RS256, ES256 and EdDSA in turn (client by client) by a
``LocalIssuer`` that serves its keys over HTTP. One request in twenty is refused, evenly
expired token (401), token for another audience (401) and missing scope (``/api/admin``,
403). Every round mints new tokens, so no variant meets a token it has seen before.

Each variant (``bench.traffic_apps``) runs in its own server process on a core of its own
(uvicorn with httptools and uvloop for the ASGI apps, waitress or gunicorn for the WSGI ones);
the load comes from this process on the other core(s): ``connections`` keep-alive HTTP/1.1
connections over asyncio (uvloop), each sending the next request of the list when the last
one is answered. Every answer's status is checked against the expected one (the ``no-auth``
baseline answers 200 to everything); one mismatch stops the run.

Per variant: requests per second and the client's p50/p99 latency (from its best round), and
the server's CPU time per request (the sum of its threads' run time from
``/proc/<pid>/task/*/schedstat`` over the round, divided by the requests it answered; best
round), which does not depend on how fast the load generator is. "Added" is the server's CPU
time per request minus the no-auth baseline's, measured in the same rounds: the rounds take
turns across the variants, so a slow spell of the shared machine hits them all. Round 0 is a
short warm-up (keys fetched, code loaded) and is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from audmw.testing import LocalIssuer
from bench.traffic_apps import (
    AUDIENCE,
    FRAMEWORKS,
    LIMITS,
    PACKAGES,
    VARIANTS,
    WSGI_SERVERS,
    server_of,
)

ROOT = Path(__file__).resolve().parents[1]
ALGS = ("RS256", "ES256", "EdDSA")
OTHER_AUDIENCE = "https://other-api.example.com"


@dataclass(frozen=True)
class Request:
    path: str
    token: str
    status: int  # expected with auth; the no-auth baseline answers 200 to everything
    alg: str


def workload(
    issuer: LocalIssuer, clients: int, per_client: int, seed: int, *, algs: tuple[str, ...] = ALGS
) -> list[Request]:
    """Every client's requests, shuffled together; one in twenty refused, kinds in turn."""
    requests: list[Request] = []
    number = 0
    for client in range(clients):
        alg = algs[client % len(algs)]
        sub = f"client-{client}"
        token = issuer.mint(sub=sub, scopes=["read:messages"], alg=alg, expires_in=3600)
        expired = wrong_audience = ""
        for turn in range(per_client):
            number += 1
            if number % 20:
                path = "/api/messages" if turn % 2 else "/api/me"
                requests.append(Request(path, token, 200, alg))
                continue
            kind = (number // 20) % 3
            if kind == 0:
                expired = expired or issuer.mint(
                    sub=sub, scopes=["read:messages"], alg=alg, expires_in=-3600
                )
                requests.append(Request("/api/me", expired, 401, alg))
            elif kind == 1:
                wrong_audience = wrong_audience or issuer.mint(
                    sub=sub, aud=OTHER_AUDIENCE, scopes=["read:messages"], alg=alg
                )
                requests.append(Request("/api/me", wrong_audience, 401, alg))
            else:
                requests.append(Request("/api/admin", token, 403, alg))
    random.Random(seed).shuffle(requests)
    return requests


# -- the load ------------------------------------------------------------------------------------


class Mismatch(Exception):
    pass


@dataclass
class Round:
    requests: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The status of one response, read whole; and whether the server closes the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, chunked, close = 0, False, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and b"close" in value.lower():
            close = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, close


async def _replay(
    port: int, requests: list[Request], connections: int, baseline: bool, variant: str
) -> Round:
    head = "GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\r\n"
    wire = [head.format(r.path, r.token).encode() for r in requests]
    result = Round(latencies=[0.0] * len(requests))
    position = [0]

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while position[0] < len(requests):
                index = position[0]
                position[0] += 1
                start = time.perf_counter()
                writer.write(wire[index])
                status, close = await _answer(reader)
                result.latencies[index] = time.perf_counter() - start
                expected = 200 if baseline else requests[index].status
                if status != expected:
                    wanted = requests[index]
                    raise Mismatch(
                        f"{variant}: GET {wanted.path} with a {wanted.alg} token answered "
                        f"{status}, expected {expected}"
                    )
                if close:
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    result.seconds = time.perf_counter() - start
    result.requests = len(requests)
    return result


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    # The parent's pid is the second field after the parenthesised name.
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                continue
    return found


def _cpu_seconds(pid: int) -> float:
    """Run time so far of every thread of ``pid`` and of its worker processes (gunicorn's),
    at nanosecond resolution."""
    total = 0
    for process in (pid, *_children(pid)):
        try:
            tasks = os.listdir(f"/proc/{process}/task")
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{process}/task/{task}/schedstat") as stats:
                    total += int(stats.read().split()[0])
            except (FileNotFoundError, ProcessLookupError):
                continue
    return total / 1e9


def measure(server: Server, requests: list[Request], connections: int, *, baseline: bool) -> Round:
    before = _cpu_seconds(server.process.pid)
    result = _run(_replay(server.port, requests, connections, baseline, server.variant))
    result.cpu_seconds = _cpu_seconds(server.process.pid) - before
    return result


def _run(coroutine: Any) -> Any:
    try:
        import uvloop

        return uvloop.run(coroutine)
    except ImportError:
        return asyncio.run(coroutine)


# -- the servers ---------------------------------------------------------------------------------


def _cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def _server_cpu() -> None:
    """The server gets a core of its own, so the load generator does not take its time."""
    cpus = _cpus()
    if len(cpus) >= 2:
        os.sched_setaffinity(0, {cpus[0]})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    variant: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path


def start(
    framework: str, variant: str, issuer: LocalIssuer, profile_dir: Path | None = None
) -> Server:
    port = _free_port()
    env = {
        **os.environ,
        "BENCH_FRAMEWORK": framework,
        "BENCH_VARIANT": variant,
        "BENCH_ISSUER": issuer.issuer,
        "BENCH_JWKS": issuer.jwks_uri,
        "BENCH_PORT": str(port),
    }
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
        name = f"{framework}-{variant}".replace(" ", "-")
        env["BENCH_PROFILE"] = str((profile_dir / f"{name}.prof").resolve())
    # The server's own output (audmw's refusal lines under Django, say) goes to a file.
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - open while the server runs
        "w+b", prefix=f"traffic-{framework}-", suffix=".log", delete=False
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.traffic_apps"],
        env=env,
        cwd=ROOT,
        preexec_fn=_server_cpu,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return Server(variant, process, port, Path(log.name))
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                log.seek(0)
                output = log.read().decode(errors="replace")[-3000:]
                raise RuntimeError(
                    f"the {framework} server for {variant} did not start:\n{output}"
                ) from None
            time.sleep(0.1)


# -- one framework -------------------------------------------------------------------------------


@dataclass
class Figures:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    cpu_us: float


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run_framework(
    framework: str,
    issuer: LocalIssuer,
    *,
    clients: int,
    per_client: int,
    rounds: int,
    connections: int,
    variants: tuple[str, ...] | None = None,
    profile_dir: Path | None = None,
) -> dict[str, Figures]:
    chosen = tuple(
        variant
        for variant in variants or VARIANTS[framework]
        if variant not in PACKAGES or importlib.util.find_spec(PACKAGES[variant]) is not None
    )
    servers: dict[str, Server] = {}
    best: dict[str, Figures] = {}
    cpus = _cpus()
    try:
        if len(cpus) >= 2:
            os.sched_setaffinity(0, set(cpus[1:]))  # the load: every core but the servers'
        for variant in chosen:
            servers[variant] = start(framework, variant, issuer, profile_dir)
        for number in range(rounds + 1):  # round 0 warms: keys fetched, code paths loaded
            mixed = workload(issuer, clients, per_client, seed=number)
            limited = {
                variant: workload(issuer, clients, per_client, seed=number, algs=LIMITS[variant][0])
                for variant in servers
                if variant in LIMITS
            }
            warm = number == 0
            order = list(servers.items())
            order = order[number % len(order) :] + order[: number % len(order)]
            for variant, server in order:
                requests = limited.get(variant, mixed)
                if warm:
                    requests = requests[: max(60, len(requests) // 20)]
                result = measure(server, requests, connections, baseline=variant == "no-auth")
                if warm:
                    continue
                figures = Figures(
                    result.requests / result.seconds,
                    _percentile(result.latencies, 0.5) * 1e3,
                    _percentile(result.latencies, 0.99) * 1e3,
                    result.cpu_seconds / result.requests * 1e6,
                )
                previous = best.get(variant)
                if previous is None:
                    best[variant] = figures
                else:
                    if figures.requests_per_second > previous.requests_per_second:
                        previous.requests_per_second = figures.requests_per_second
                        previous.p50_ms, previous.p99_ms = figures.p50_ms, figures.p99_ms
                    previous.cpu_us = min(previous.cpu_us, figures.cpu_us)
        return {variant: best[variant] for variant in chosen}
    finally:
        if len(cpus) >= 2:
            os.sched_setaffinity(0, set(cpus))
        for server in servers.values():
            server.process.send_signal(signal.SIGINT)  # a clean stop: profiles get written
        for server in servers.values():
            try:
                server.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.process.kill()
            server.log.unlink(missing_ok=True)


def report(framework: str, figures: dict[str, Figures]) -> list[str]:
    base = figures["no-auth"].cpu_us
    ours = figures["audmw"].cpu_us - base if "audmw" in figures else None
    lines = [
        f"\n{framework} ({server_of(framework)}): server CPU per request, added over no-auth",
        f"  {'variant':<24}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'CPU µs':>9}{'added µs':>10}{'x audmw':>9}",
    ]
    for variant, row in figures.items():
        added = row.cpu_us - base
        ratio = f"{added / ours:>8.1f}x" if ours and variant not in ("no-auth", "audmw") else ""
        lines.append(
            f"  {variant:<24}{row.requests_per_second:>8.0f}{row.p50_ms:>8.2f}{row.p99_ms:>8.2f}"
            f"{row.cpu_us:>9.1f}{added if variant != 'no-auth' else 0:>10.1f}{ratio}"
        )
        if variant in LIMITS:
            lines.append(f"      ({variant}: {LIMITS[variant][1]})")
    return lines


def machine() -> str:
    return (
        f"{len(_cpus()) or os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{datetime.now(timezone.utc):%Y-%m-%d}"
    )


def write_json(directory: Path, framework: str, figures: dict[str, Figures], command: str) -> Path:
    base = figures["no-auth"].cpu_us
    added = {
        variant: round(row.cpu_us - base, 1)
        for variant, row in figures.items()
        if variant != "no-auth"
    }
    notes = [
        f"{server_of(framework)}; server CPU time per request minus the no-auth app's "
        f"({base:.1f} µs), best of the rounds",
        *(f"{variant}: {LIMITS[variant][1]}" for variant in figures if variant in LIMITS),
    ]
    document = {
        "name": f"traffic-{framework}",
        "title": f"Realistic traffic, {framework}: added server CPU per request",
        "command": command,
        "machine": machine(),
        "kind": "bars",
        "unit": "µs per request",
        "bars": added,
        "also": {
            "unit": "requests/s",
            "bars": {v: round(r.requests_per_second) for v, r in figures.items()},
        },
        "notes": notes,
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"traffic-{framework}.json"
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", action="append", choices=FRAMEWORKS)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--per-client", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--json-dir", type=Path, default=None)
    parser.add_argument("--wsgi", choices=WSGI_SERVERS, default="waitress")
    parser.add_argument("--variant", action="append", help="only these (and no-auth)")
    parser.add_argument(
        "--profile-dir", type=Path, default=None, help="write each server's cProfile here"
    )
    args = parser.parse_args(argv)
    os.environ["BENCH_WSGI"] = args.wsgi  # read by the servers, and by the report
    command = "python -m bench.traffic " + " ".join(argv if argv is not None else sys.argv[1:])
    with LocalIssuer(audience=AUDIENCE) as issuer:
        print(
            f"{args.clients} clients x {args.per_client} requests, 5% refused, "
            f"{'/'.join(ALGS)}; {args.rounds} rounds, {args.connections} connections",
            flush=True,
        )
        for framework in args.framework or FRAMEWORKS:
            figures = run_framework(
                framework,
                issuer,
                clients=args.clients,
                per_client=args.per_client,
                rounds=args.rounds,
                connections=args.connections,
                variants=("no-auth", *args.variant) if args.variant else None,
                profile_dir=args.profile_dir,
            )
            print("\n".join(report(framework, figures)), flush=True)
            if args.json_dir is not None:
                write_json(args.json_dir, framework, figures, command.strip())


if __name__ == "__main__":
    main()
