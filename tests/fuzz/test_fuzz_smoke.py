"""A short coverage-guided run of each fuzz target (the long run is in the README)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SMOKE_RUNS = 5000

pytest.importorskip(
    "atheris",
    reason="atheris has no build for this platform or Python (its wheels: Linux x86-64, "
    "CPython 3.11 to 3.13), so requirements-dev.lock leaves it out and the targets cannot run",
)


def fuzz(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.fuzz.targets", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.parametrize("target", ["validate", "claims", "bearer"])
def test_a_short_fuzz_run_finds_no_crash(target: str) -> None:
    run = fuzz(target, f"-runs={SMOKE_RUNS}", "-seed=1")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    done = re.search(r"Done (\d+) runs", output)
    assert done is not None, output[-3000:]
    assert int(done.group(1)) >= SMOKE_RUNS


def test_a_crash_is_reported(tmp_path: Path) -> None:
    crashing = tmp_path / "input"
    crashing.write_bytes(b"Bearer crash")
    run = fuzz("selftest", str(crashing))
    assert run.returncode != 0
    assert "the planted crash" in run.stdout + run.stderr
