"""Fixtures for the command-line tests: the CLI run in-process with captured streams."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import pytest

from audmw.cli import main
from audmw.cli.console import Console
from audmw.testing import LocalIssuer


class FakeTerminal(io.StringIO):
    """A captured stream that says it is a terminal (for the colour and prompt rules)."""

    def isatty(self) -> bool:
        return True


@dataclass
class Result:
    code: int
    out: str
    err: str


Run = Callable[..., Result]


@pytest.fixture
def run_cli() -> Run:
    """``run_cli(argv, stdin="", env={}, now=None, tty=False)`` -> exit code, stdout, stderr."""

    def run(
        argv: list[str],
        stdin: str = "",
        env: Mapping[str, str] | None = None,
        now: float | None = None,
        tty: bool = False,
    ) -> Result:
        stdout = FakeTerminal() if tty else io.StringIO()
        stderr = io.StringIO()
        console = Console(
            stdin=io.StringIO(stdin),
            stdout=stdout,
            stderr=stderr,
            environ=dict(env or {}),
            clock=(lambda: now) if now is not None else None,
        )
        code = main(argv, console=console)
        return Result(code, stdout.getvalue(), stderr.getvalue())

    return run


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    """One real issuer over HTTP for a module's tests (each check builds a fresh validator)."""
    with LocalIssuer() as local:
        yield local
