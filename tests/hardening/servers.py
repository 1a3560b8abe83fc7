"""The example apps under their real servers on 127.0.0.1, and raw requests to them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ("starlette_app", "fastapi_app", "django_app", "django_wsgi", "flask_app")
# The Django example under waitress: a test harness, not one of the example commands.
_MODULES = {"django_wsgi": "tests.hardening.django_wsgi"}
STARTUP_TIMEOUT = 60.0


@dataclass(frozen=True)
class Answer:
    status: int
    head: str
    body: bytes

    @property
    def raw(self) -> bytes:
        return self.head.encode("latin-1") + self.body

    def header(self, name: str) -> str | None:
        for line in self.head.split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def send(port: int, data: bytes, timeout: float = 15.0) -> Answer:
    """Send ``data`` as it is on a new connection; the answer read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    text = head.decode("latin-1")
    status = int(text.split(" ", 2)[1]) if text.startswith("HTTP/") else 0
    return Answer(status, text, body)


def request(
    method: str,
    target: str,
    headers: list[tuple[bytes, bytes]],
    body: bytes | None = None,
) -> bytes:
    """An HTTP/1.1 request with exactly these header bytes; ``Connection: close`` added."""
    lines = [f"{method} {target} HTTP/1.1".encode(), b"Host: 127.0.0.1"]
    lines += [name + b": " + value for name, value in headers]
    if body is not None and not any(name.lower() == b"transfer-encoding" for name, _ in headers):
        lines.append(b"Content-Length: " + str(len(body)).encode())
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")


class ExampleServer:
    """``python -m example_apps.<name> --port P``, its output kept in a file."""

    def __init__(
        self, name: str, issuer: str, audience: str, log_path: Path, **settings: str
    ) -> None:
        self.name = name
        self.port = free_port()
        self.log_path = log_path
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("AUDMW_") and key != "DJANGO_SETTINGS_MODULE"
        }
        environment.update(PYTHONUNBUFFERED="1", AUDMW_ISSUER=issuer, AUDMW_AUDIENCE=audience)
        environment.update({f"AUDMW_{key.upper()}": value for key, value in settings.items()})
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    _MODULES.get(name, f"example_apps.{name}"),
                    "--port",
                    str(self.port),
                ],
                cwd=ROOT,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

    def wait(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log()[-3000:]}")
            try:
                if send(self.port, request("GET", "/public", [])).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not start:\n{self.log()[-3000:]}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
