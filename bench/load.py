"""Load: each example app under its real server, driven from this process, keys rotating.

    .venv/bin/python -m bench.load [--requests 10000] [--concurrency 64]
        [--apps starlette_app,fastapi_app,django_app,flask_app] [--rotate-every 2000]

Each app runs as ``python -m example_apps.<app> --port P`` (its own server: uvicorn, or the
Flask example's WSGI server) against a ``LocalIssuer`` in this process. This process sends
the requests over keep-alive connections, ``--concurrency`` at a time: a fixed mix of valid
tokens (several routes and scopes), expired, wrong-audience, missing-scope and garbage tokens,
no token, and the public route. Every ``--rotate-every`` requests the issuer gets a new
current RS256 key (the old ones stay published) and new tokens are signed with it, so the app
must fetch keys while it is under load.

Every answer is checked against the decision its kind must get (status and RFC 6750 error
code); the run fails on any other answer and on any 5xx. The server's resident memory (RSS)
is read from ``/proc`` after a warm-up and after the run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import httpx

from audmw.testing import LocalIssuer

AUDIENCE = "https://api.example.com"
APPS = ("starlette_app", "fastapi_app", "django_app", "flask_app")
ROOT = Path(__file__).resolve().parents[1]
TOKENS_PER_KIND = 10  # distinct tokens per kind and key: cache hits and misses both happen
# Short enough that a new kid is fetched at once; rotations wait twice as long between them.
REFRESH_COOLDOWN = 0.1
_ERROR = re.compile(r'error="([^"]+)"')


class Kind(NamedTuple):
    name: str
    method: str
    path: str
    statuses: frozenset[int]  # what the decision must be
    error: str | None  # the RFC 6750 code of the challenge; None: none, or the bare one


KINDS = (
    Kind("valid-me", "GET", "/api/me", frozenset({200}), None),
    Kind("valid-read", "GET", "/api/messages", frozenset({200}), None),
    Kind("valid-write", "POST", "/api/messages", frozenset({200, 201}), None),
    Kind("valid-admin", "GET", "/api/admin", frozenset({200}), None),
    Kind("expired", "GET", "/api/me", frozenset({401}), "invalid_token"),
    Kind("wrong-audience", "GET", "/api/messages", frozenset({401}), "invalid_token"),
    Kind("missing-scope", "GET", "/api/admin", frozenset({403}), "insufficient_scope"),
    Kind("garbage", "GET", "/api/me", frozenset({401}), "invalid_token"),
    Kind("no-token", "GET", "/api/messages", frozenset({401}), None),
    Kind("public", "GET", "/public", frozenset({200}), None),
)


def mint_pool(issuer: LocalIssuer) -> dict[str, list[str | None]]:
    """Tokens of each kind, signed with the issuer's current RS256 key."""
    mint = issuer.mint
    read, write, admin = ["read:messages"], ["write:messages"], ["read:messages", "admin"]
    makers = {
        "valid-me": lambda: mint(scopes=read, aud=AUDIENCE),
        "valid-read": lambda: mint(scopes=read, aud=AUDIENCE),
        "valid-write": lambda: mint(scopes=write, aud=AUDIENCE),
        "valid-admin": lambda: mint(scopes=admin, aud=AUDIENCE),
        "expired": lambda: mint(scopes=read, aud=AUDIENCE, expires_in=-120),
        "wrong-audience": lambda: mint(scopes=read, aud="https://other.example.com"),
        "missing-scope": lambda: mint(scopes=read, aud=AUDIENCE),
        "garbage": lambda: "not.a.jwt",
        "no-token": lambda: None,
        "public": lambda: "garbage",  # a public route never reads it
    }
    return {kind.name: [makers[kind.name]() for _ in range(TOKENS_PER_KIND)] for kind in KINDS}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def rss_kib(pid: int) -> int:
    """Resident memory of a process, in KiB (Linux ``/proc``); 0 where unknown."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"VmRSS:\s+(\d+)", status)
    return int(found.group(1)) if found else 0


class AppServer:
    """``python -m example_apps.<app> --port P``, configured by the ``AUDMW_*`` environment."""

    def __init__(self, app: str, issuer: str, log_path: Path) -> None:
        self.app = app
        self.port = free_port()
        self.log_path = log_path
        environment = {k: v for k, v in os.environ.items() if not k.startswith("AUDMW_")}
        environment.pop("DJANGO_SETTINGS_MODULE", None)
        environment.update(
            PYTHONUNBUFFERED="1",
            AUDMW_ISSUER=issuer,
            AUDMW_AUDIENCE=AUDIENCE,
            AUDMW_JWKS_REFRESH_COOLDOWN=str(REFRESH_COOLDOWN),
        )
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"example_apps.{app}", "--port", str(self.port)],
                cwd=ROOT,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.base_url, timeout=5) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.app} exited:\n{self.log_tail()}")
                try:
                    if client.get("/public").status_code == 200:
                        return
                except httpx.TransportError:
                    time.sleep(0.05)
        raise RuntimeError(f"{self.app} did not serve /public within {timeout} s")

    def log_tail(self, size: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-size:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Report:
    app: str
    requests: int = 0
    seconds: float = 0.0
    decisions: Counter[str] = field(default_factory=Counter)
    server_errors: int = 0
    wrong: list[str] = field(default_factory=list)
    wrong_count: int = 0
    rotations: int = 0
    rss_before_kib: int = 0
    rss_after_kib: int = 0
    tracebacks: int = 0
    reconnects: int = 0

    @property
    def ok(self) -> bool:
        return not self.wrong_count and not self.server_errors and not self.tracebacks

    def lines(self) -> list[str]:
        rate = self.requests / self.seconds if self.seconds else 0.0
        kinds = ", ".join(f"{name} {count}" for name, count in sorted(self.decisions.items()))
        return [
            f"{self.app}: {self.requests} requests in {self.seconds:.1f} s ({rate:.0f}/s), "
            f"{self.rotations} key rotations, {self.reconnects} idle connections reopened; "
            "as expected: "
            f"{self.requests - self.wrong_count}, other: {self.wrong_count}, 5xx: "
            f"{self.server_errors}, tracebacks in the server log: {self.tracebacks}",
            f"  RSS {self.rss_before_kib / 1024:.1f} MiB after warm-up, "
            f"{self.rss_after_kib / 1024:.1f} MiB after the run",
            f"  decisions: {kinds}",
            *(f"  unexpected: {line}" for line in self.wrong[:10]),
        ]


async def _drive(
    report: Report,
    base_url: str,
    issuer: LocalIssuer,
    requests: int,
    concurrency: int,
    rotate_every: int,
) -> None:
    pool = mint_pool(issuer)
    counter = itertools.count()
    sent_since_rotation = 0
    rotating: asyncio.Task[None] | None = None
    last_swap = time.monotonic()

    async def rotate() -> None:
        nonlocal pool, last_swap
        new_pool = await asyncio.to_thread(lambda: (issuer.rotate("RS256"), mint_pool(issuer))[1])
        # Leave the app's refetch cooldown behind, so the new kid is fetched at once.
        await asyncio.sleep(max(0.0, last_swap + 2 * REFRESH_COOLDOWN - time.monotonic()))
        pool, last_swap = new_pool, time.monotonic()
        report.rotations += 1

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal sent_since_rotation, rotating
        while (index := next(counter)) < requests:
            sent_since_rotation += 1
            if rotate_every and sent_since_rotation >= rotate_every and rotating is None:
                sent_since_rotation = 0
                rotating = asyncio.create_task(rotate())
                rotating.add_done_callback(lambda _: _clear())
            kind = KINDS[index % len(KINDS)]
            token = pool[kind.name][(index // len(KINDS)) % TOKENS_PER_KIND]
            headers = {} if token is None else {"Authorization": f"Bearer {token}"}
            try:
                try:
                    response = await client.request(kind.method, kind.path, headers=headers)
                except (httpx.ReadError, httpx.RemoteProtocolError):
                    # The server closed a kept-alive connection that sat idle past its
                    # keep-alive timeout: no request reached it. Once more, on a new one.
                    report.reconnects += 1
                    response = await client.request(kind.method, kind.path, headers=headers)
            except httpx.HTTPError as error:
                report.wrong_count += 1
                report.wrong.append(f"{kind.name}: no answer ({type(error).__name__})")
                continue
            _judge(report, kind, response.status_code, response.headers.get("www-authenticate"))

    def _clear() -> None:
        nonlocal rotating
        rotating = None

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        report.seconds = time.perf_counter() - started
        if rotating is not None:
            await rotating
    report.requests = requests


def _judge(report: Report, kind: Kind, status: int, challenge: str | None) -> None:
    if status >= 500:
        report.server_errors += 1
    found = _ERROR.search(challenge or "")
    error = found.group(1) if found else None
    if status in kind.statuses and error == kind.error:
        report.decisions[kind.name] += 1
        return
    report.wrong_count += 1
    if len(report.wrong) < 50:
        report.wrong.append(f"{kind.name}: {status} {error or ''}".rstrip())


def run(
    app: str,
    *,
    requests: int = 10_000,
    concurrency: int = 64,
    rotate_every: int = 2_000,
    log_dir: Path | None = None,
) -> Report:
    """One app under load; the ``Report`` says what was decided and what the server used."""
    report = Report(app)
    with tempfile.TemporaryDirectory() as scratch, LocalIssuer() as issuer:
        log_path = (log_dir or Path(scratch)) / f"load-{app}.log"
        server = AppServer(app, issuer.issuer, log_path)
        try:
            server.wait_ready()
            warm = len(KINDS) * 4
            asyncio.run(_drive(report, server.base_url, issuer, warm, 8, 0))
            report.decisions.clear()
            report.rss_before_kib = rss_kib(server.process.pid)
            asyncio.run(
                _drive(report, server.base_url, issuer, requests, concurrency, rotate_every)
            )
            report.rss_after_kib = rss_kib(server.process.pid)
        finally:
            server.stop()
            report.tracebacks = server.log_tail(10**9).count("Traceback")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rotate-every", type=int, default=2_000)
    parser.add_argument("--apps", default=",".join(APPS))
    args = parser.parse_args(argv)
    failed = False
    for app in args.apps.split(","):
        report = run(
            app,
            requests=args.requests,
            concurrency=args.concurrency,
            rotate_every=args.rotate_every,
        )
        print("\n".join(report.lines()), flush=True)
        failed |= not report.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
