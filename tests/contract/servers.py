"""The contract apps as real server processes on 127.0.0.1, started once per session."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from contract import spec
from contract.ran import RanLog
from contract.rawhttp import RawClient, Response

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
STARTUP_TIMEOUT = 60.0


@dataclass(frozen=True)
class ServerSpec:
    name: str
    family: str  # the app: starlette, fastapi, django or flask
    http_server: str  # uvicorn or waitress
    cors_preflight: bool


def _specs() -> tuple[ServerSpec, ...]:
    base = (
        ("starlette", "starlette", "uvicorn"),
        ("fastapi", "fastapi", "uvicorn"),
        ("django-wsgi", "django", "waitress"),
        ("django-asgi", "django", "uvicorn"),
        ("flask", "flask", "waitress"),
    )
    return tuple(
        ServerSpec(name + ("+cors" if cors else ""), family, server, cors)
        for cors in (False, True)
        for name, family, server in base
    )


SERVERS = _specs()
BY_NAME = {server.name: server for server in SERVERS}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class StartFailed(Exception):
    """The server did not come up; the message says why (its log's tail)."""


class ServerProcess:
    """One app under its server, its output kept in a file, its views' runs in another."""

    def __init__(
        self,
        server: ServerSpec,
        issuer: str,
        directory: Path,
        environment: Mapping[str, str] | None = None,
        module: str = "contract.serve",
    ) -> None:
        self.spec = server
        self.issuer = issuer
        self.module = module  # run as ``python -m <module> <app> <server> --port P``
        self.port = free_port()
        self.environment = dict(environment or {})
        """More ``AUDMW_*`` variables; ``{port}`` in a value is the server's port."""
        self.log_path = directory / f"{server.name}.log"
        self.ran = RanLog(directory / f"{server.name}.ran")
        self.client = RawClient("127.0.0.1", self.port)
        self.process: subprocess.Popen[bytes] | None = None
        self._failure: str | None = None
        self._ready = False

    def launch(self) -> None:
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("AUDMW_") and key != "DJANGO_SETTINGS_MODULE"
        }
        environment.update(
            PYTHONUNBUFFERED="1",
            PYTHONPATH=os.pathsep.join(
                [str(TESTS), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
            AUDMW_ISSUER=self.issuer,
            AUDMW_AUDIENCE=spec.AUDIENCE,
            **spec.settings_environment(cors_preflight=self.spec.cors_preflight),
        )
        environment.update(
            {
                name: value.replace("{port}", str(self.port))
                for name, value in self.environment.items()
            }
        )
        environment[spec.RAN_LOG_VARIABLE] = str(self.ran.path)
        command = [sys.executable, "-m", self.module, self.spec.family, self.spec.http_server]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, "--port", str(self.port)],
                cwd=ROOT,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

    def ready(self) -> None:
        """Wait until the server answers ``GET /health`` (exempt) with 200, once."""
        if self._ready:
            return
        if self._failure is None:
            self._failure = self._wait()
            self._ready = self._failure is None
        if self._failure is not None:
            raise StartFailed(self._failure)

    def _wait(self) -> str | None:
        assert self.process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return (
                    f"{self.spec.name} exited with status {self.process.returncode} before "
                    f"serving:\n{self.log_tail()}"
                )
            try:
                response = self.client.request("GET", "/health")
            except OSError:
                self.client.close()
                time.sleep(0.05)
                continue
            if response.status == 200:
                return None
            return (
                f"{self.spec.name} answered GET /health with {response.status} "
                f"{response.body[:300]!r}:\n{self.log_tail()}"
            )
        return f"{self.spec.name} did not answer within {STARTUP_TIMEOUT} s:\n{self.log_tail()}"

    def send(self, method: str, target: str, headers: list[tuple[str, str]]) -> Response:
        return self.client.request(method, target, headers)

    def log_tail(self, size: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except OSError:
            return ""

    def stop(self) -> None:
        self.client.close()
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Fleet:
    """Every server of the suite, all launched together on first use (they start in parallel)."""

    def __init__(self, issuer: str, directory: Path) -> None:
        self.processes = {
            server.name: ServerProcess(server, issuer, directory) for server in SERVERS
        }
        self._launched = False

    def get(self, name: str) -> ServerProcess:
        if not self._launched:
            self._launched = True
            for process in self.processes.values():
                process.launch()
        process = self.processes[name]
        process.ready()
        return process

    def close(self) -> None:
        for process in self.processes.values():
            process.stop()
