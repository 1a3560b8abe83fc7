"""Users' apps of each framework type-check under ``mypy --strict``; misuses are reported.

One mypy run, with the project's mypy and stubs, checks every file of this folder that is
not a test module.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
USER_CODE = sorted(path.name for path in HERE.glob("typed_*.py"))
MISUSES = "misused_tokens.py"
_ERROR = re.compile(r"^(?P<file>[^:\s]+):(?P<line>\d+): error: .*\[(?P<code>[a-z-]+)\]$")
_EXPECTED = re.compile(r"# expected: (?P<code>[a-z-]+)$")

Reported = dict[str, set[tuple[int, str]]]


@pytest.fixture(scope="module")
def reported() -> Reported:
    """The errors mypy reports, by file name: (line, error code)."""
    files = [str((HERE / name).relative_to(ROOT)) for name in [*USER_CODE, MISUSES]]
    completed = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-pretty", "--no-error-summary", *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors: Reported = {}
    for line in completed.stdout.splitlines():
        match = _ERROR.match(line)
        if match:
            found = errors.setdefault(Path(match["file"]).name, set())
            found.add((int(match["line"]), match["code"]))
        else:
            assert ": note: " in line, f"mypy said: {line}"
    assert completed.returncode == (1 if errors else 0), completed.stderr
    return errors


def test_the_user_code_is_there() -> None:
    assert {"typed_starlette_app.py", "typed_fastapi_app.py"} <= set(USER_CODE)
    assert {"typed_django_app.py", "typed_flask_app.py", "typed_app_tests.py"} <= set(USER_CODE)


@pytest.mark.parametrize("name", USER_CODE)
def test_user_code_type_checks(reported: Reported, name: str) -> None:
    assert reported.get(name, set()) == set()


def test_each_misuse_is_reported(reported: Reported) -> None:
    lines = (HERE / MISUSES).read_text().splitlines()
    expected = {
        (number, match["code"])
        for number, line in enumerate(lines, start=1)
        if (match := _EXPECTED.search(line))
    }
    assert len(expected) == 6
    assert reported.get(MISUSES, set()) == expected
