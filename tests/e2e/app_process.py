"""An example app as a real server process on 127.0.0.1, with its stderr kept in a file."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from e2e.provider import API, free_port

ROOT = Path(__file__).resolve().parents[2]
APPS = ("starlette_app", "django_app", "flask_app")

# Short waits so that key refreshes and retries happen within the test run.
REFRESH_COOLDOWN = 0.5
RETRY_AFTER = 0.5
STARTUP_TIMEOUT = 60.0


class AppProcess:
    """One example app served by its real server on 127.0.0.1, its stderr kept in a file."""

    def __init__(
        self,
        name: str,
        issuer: str,
        log_path: Path,
        *,
        settings: Mapping[str, str] | None = None,
        ready_path: str = "/public",
        port: int | None = None,
    ) -> None:
        self.name = name
        self.issuer = issuer
        # AUDMW_<NAME> of the app besides the issuer and the short waits.
        self.settings = dict(settings) if settings is not None else {"AUDIENCE": API}
        self.ready_path = ready_path
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.client = httpx.Client(base_url=self.base_url, timeout=30)

    def start(self) -> AppProcess:
        if importlib.util.find_spec(f"example_apps.{self.name}") is None:
            pytest.fail(
                f"example_apps.{self.name} is missing: `python -m example_apps.{self.name} "
                "--port P` must serve the example API",
                pytrace=False,
            )
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUDMW_")}
        env.pop("DJANGO_SETTINGS_MODULE", None)  # the app picks its own settings
        env.update(
            PYTHONUNBUFFERED="1",
            AUDMW_ISSUER=self.issuer,
            AUDMW_JWKS_REFRESH_COOLDOWN=str(REFRESH_COOLDOWN),
            AUDMW_JWKS_RETRY_AFTER=str(RETRY_AFTER),
        )
        env.update({"AUDMW_" + name: value for name, value in self.settings.items()})
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"example_apps.{self.name}", "--port", str(self.port)],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self.process.poll() is not None:
                pytest.fail(
                    f"example_apps.{self.name} exited with code {self.process.returncode} "
                    f"before serving {self.ready_path}:\n{self.log()[-3000:]}",
                    pytrace=False,
                )
            try:
                if self.client.get(self.ready_path).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(
                    f"example_apps.{self.name} did not answer GET {self.ready_path} with 200 "
                    f"within {STARTUP_TIMEOUT} s:\n{self.log()[-3000:]}",
                    pytrace=False,
                )
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        """Stop the server (SIGTERM by default); its exit code, or None if it was not running."""
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def close(self) -> None:
        self.stop()
        self.client.close()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_mark(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_lines_since(self, mark: int, containing: str, timeout: float = 10.0) -> list[str]:
        """The log lines written after ``mark`` that contain ``containing`` (waits for one)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.log_path.open("rb") as log:
                log.seek(mark)
                text = log.read().decode(errors="replace")
            lines = [line for line in text.splitlines() if containing in line]
            if lines or time.monotonic() > deadline:
                return lines
            time.sleep(0.05)

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, headers=_bearer(token), **kwargs)

    def post(self, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        return self.client.post(path, headers=_bearer(token), **kwargs)


def _bearer(token: str | None) -> dict[str, str]:
    return {} if token is None else {"Authorization": f"Bearer {token}"}


def eventually(check: Callable[[], bool], timeout: float = 20.0, interval: float = 0.1) -> bool:
    """Poll ``check`` until it holds or ``timeout`` passes; whether it held."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True
