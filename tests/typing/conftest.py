"""The typed accessors at run time; Django's in a project of its own, run by pytest in a new
process, so that this suite's Django configuration stays untouched."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture
def django_pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A ``pytester`` whose subprocesses see none of this suite's settings."""
    for name in list(os.environ):
        if name.startswith("AUDMW_") or name == "DJANGO_SETTINGS_MODULE":
            monkeypatch.delenv(name)
    return pytester
