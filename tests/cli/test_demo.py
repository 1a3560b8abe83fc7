"""``audmw demo`` hands everything after ``demo`` to ``audmw.demo.main``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_arguments_are_forwarded_unchanged() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "audmw", "demo", "--framework", "core", "--issuer", "local"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("audmw.Guard trusting http://127.0.0.1:")
    assert "all requests answered as expected" in result.stdout


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
    for command in ("inspect", "check", "mint", "serve-issuer", "serve-example", "demo"):
        assert command in result.stdout
