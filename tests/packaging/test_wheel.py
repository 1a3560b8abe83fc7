"""The wheel and sdist built from this checkout, and the wheel installed into a fresh virtualenv.

A new user meets audmw as ``pip install audmw``: these tests build the distributions with the
pinned ``build`` and ``hatchling`` of requirements-dev.lock (no build download), install the
wheel with the lock's versions into a virtualenv that sees neither the checkout nor the
development environment, and run the commands the README gives. pip takes the dependencies
from its cache or the configured indexes: on a machine that never installed them they are
downloaded once.
"""

from __future__ import annotations

import email.message
import email.parser
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements-dev.lock"
EXTRAS = {"starlette", "fastapi", "django", "drf", "flask", "otel", "redis", "speedups", "all"}
# Packages only the test suite uses: no extra may bring them into a user's environment.
TEST_ONLY = {
    "pytest",
    "pytest-django",
    "httpx2",
    "ruff",
    "mypy",
    "waitress",
    "uvicorn",
    "opentelemetry-sdk",
}


def _run(*command: str | Path, cwd: Path = ROOT, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{command} exited {result.returncode}:\n{result.stderr}"
    return result.stdout


@dataclass(frozen=True)
class Dist:
    wheel: Path
    sdist: Path
    version: str


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    """``python -m build``: the sdist, then the wheel built from that sdist."""
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, ROOT)
    wheel, sdist = sorted(out.glob("*.whl")), sorted(out.glob("*.tar.gz"))
    assert len(wheel) == len(sdist) == 1, list(out.iterdir())
    version = wheel[0].name.split("-")[1]
    return Dist(wheel[0], sdist[0], version)


def _metadata(text: str) -> email.message.Message:
    return email.parser.Parser().parsestr(text)


def _distribution_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match is not None, requirement
    return match.group(0).lower().replace("_", "-")


def test_the_wheel_carries_the_license_and_the_metadata_a_user_reads(dist: Dist) -> None:
    info = f"audmw-{dist.version}.dist-info"
    with zipfile.ZipFile(dist.wheel) as wheel:
        names = set(wheel.namelist())
        license_text = wheel.read(f"{info}/licenses/LICENSE").decode()
        metadata = _metadata(wheel.read(f"{info}/METADATA").decode())
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
    assert license_text == (ROOT / "LICENSE").read_text()
    assert license_text.startswith("MIT License\n\nCopyright (c) ")
    assert "the audmw authors" in license_text.splitlines()[2]
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert metadata["Version"] == dist.version

    classifiers = set(metadata.get_all("Classifier") or [])
    for minor in (10, 11, 12, 13):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert any(c.startswith("Development Status :: ") for c in classifiers)
    assert not any(c.startswith("License :: ") for c in classifiers)  # the expression says it
    urls = dict(url.split(", ", 1) for url in metadata.get_all("Project-URL") or [])
    assert {"Homepage", "Source", "Issues", "Documentation"} <= set(urls)
    assert all(url.startswith("https://") for url in urls.values())

    assert set(metadata.get_all("Provides-Extra") or []) == EXTRAS
    requires = metadata.get_all("Requires-Dist") or []
    drf = {_distribution_name(r) for r in requires if "extra == 'drf'" in r}
    assert drf == {"django", "djangorestframework"}
    # Flask runs async def views only with its async extra (asgiref).
    flask = [r for r in requires if "extra == 'flask'" in r]
    assert any(r.startswith("flask[async]") for r in flask), flask
    # OpenTelemetry: the API only; the SDK is the application's.
    otel = {_distribution_name(r) for r in requires if "extra == 'otel'" in r}
    assert otel == {"opentelemetry-api"}
    speedups = {_distribution_name(r) for r in requires if "extra == 'speedups'" in r}
    assert speedups == {"pybase64"}
    brought = {_distribution_name(requirement) for requirement in requires}
    assert not brought & TEST_ONLY, brought & TEST_ONLY

    assert "audmw = audmw.cli:main" in entry_points
    for module in (
        "starlette_app.py",
        "fastapi_app.py",
        "flask_app.py",
        "django_app/views.py",
        "caller.py",
    ):
        assert f"audmw/examples/{module}" in names
    assert "audmw/py.typed" in names
    assert "audmw/client/__init__.py" in names
    assert not any(name.startswith(("tests/", "example_apps/")) for name in names)


def test_the_sdist_carries_the_license_and_what_the_tests_need(dist: Dist) -> None:
    top = f"audmw-{dist.version}"
    with tarfile.open(dist.sdist) as sdist:
        names = set(sdist.getnames())
        license_file = sdist.extractfile(f"{top}/LICENSE")
        pkg_info = sdist.extractfile(f"{top}/PKG-INFO")
        assert license_file is not None
        assert pkg_info is not None
        license_text = license_file.read().decode()
        metadata = _metadata(pkg_info.read().decode())
    assert license_text == (ROOT / "LICENSE").read_text()
    assert metadata["License-Expression"] == "MIT"
    for path in ("pyproject.toml", "README.md", "requirements-dev.lock", "run"):
        assert f"{top}/{path}" in names
    assert f"{top}/example_apps/starlette_app.py" in names
    assert f"{top}/tests/packaging/test_wheel.py" in names
    assert not any("node_modules" in name or "__pycache__" in name for name in names)


@dataclass
class Venv:
    path: Path
    env: dict[str, str]

    def run(self, program: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.path / "bin" / program), *args],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def pip_install(self, *requirements: str, cwd: Path) -> None:
        result = self.run(
            "python", "-m", "pip", "install", "-q", "-c", str(LOCK), *requirements, cwd=cwd
        )
        assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A fresh virtualenv: no system site-packages, nothing of the checkout on its path."""
    path = tmp_path_factory.mktemp("venv")
    _run(sys.executable, "-m", "venv", path)  # venv takes the base interpreter, not this env
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}
        and not name.startswith("AUDMW_")
    }
    env |= {
        "PATH": f"{path / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        "VIRTUAL_ENV": str(path),
        "NO_COLOR": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    return Venv(path, env)


def test_the_installed_wheel_works_on_its_own(dist: Dist, venv: Venv, tmp_path: Path) -> None:
    # The core alone, as `pip install audmw` gives it.
    venv.pip_install(str(dist.wheel), cwd=tmp_path)
    isolated = venv.run(
        "python", "-c", "import sys, audmw; print(audmw.__file__); print(sys.path)", cwd=tmp_path
    )
    assert str(venv.path) in isolated.stdout.splitlines()[0], isolated.stdout
    assert str(ROOT) not in isolated.stdout
    for command in (["audmw"], ["python", "-m", "audmw"]):
        version = venv.run(*command, "--version", cwd=tmp_path)
        assert (version.returncode, version.stdout) == (0, f"audmw {dist.version}\n"), version

    core = venv.run("audmw", "demo", cwd=tmp_path)
    assert core.returncode == 0, core.stdout + core.stderr
    assert core.stdout.startswith("audmw.Guard trusting http://127.0.0.1:")
    assert "all requests answered as expected" in core.stdout
    assert 'pip install "audmw[starlette]" uvicorn' in core.stderr

    # With a framework extra and its server: the example app served for real.
    venv.pip_install(f"{dist.wheel}[starlette]", "uvicorn", cwd=tmp_path)
    checked = venv.run("python", "-m", "pip", "check", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout
    served = venv.run("audmw", "demo", "--framework", "starlette", cwd=tmp_path)
    assert served.returncode == 0, served.stdout + served.stderr
    assert "starlette example app on http://127.0.0.1:" in served.stdout
    assert "all requests answered as expected" in served.stdout
    assert "✗" not in served.stdout
    for reason in ("no_token", "aud_mismatch", "expired", "insufficient_scope"):
        assert f"reason={reason}" in served.stdout
    assert "Traceback" not in served.stderr
