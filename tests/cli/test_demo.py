"""``audmw demo`` hands everything after ``demo`` to ``audmw.demo.main``."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

from tests.cli.conftest import Run


def test_arguments_are_forwarded_unchanged(monkeypatch: pytest.MonkeyPatch, run_cli: Run) -> None:
    received: list[list[str]] = []
    fake = types.ModuleType("audmw.demo")

    def main(argv: list[str]) -> int:
        received.append(argv)
        return 3

    fake.main = main  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "audmw.demo", fake)
    argv = ["--framework", "flask", "--issuer", "oidc-provider", "--help"]
    assert run_cli(["demo", *argv]).code == 3
    assert received == [argv]


def test_demo_help_is_the_demo_s_own() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "audmw", "demo", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "--framework" in result.stdout
    assert "--issuer" in result.stdout


def test_demo_is_listed_in_the_main_help_of_the_console_script() -> None:
    script = Path(sys.executable).parent / "audmw"
    result = subprocess.run(
        [str(script), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    for command in ("inspect", "check", "mint", "serve-issuer", "demo"):
        assert command in result.stdout
