"""``audmw.log_refusals()``: the one line that makes refusal reasons visible."""

from __future__ import annotations

import io
import logging

import pytest

from audmw import Guard, Settings, log_refusals
from audmw.errors import MissingToken
from audmw.request import IncomingRequest


def bare(monkeypatch: pytest.MonkeyPatch) -> logging.Logger:
    """The audmw logger as a fresh process has it: no handler, no level, none above it
    (pytest's own handler on the root logger comes in each test's call, so this runs there)."""
    logger = logging.getLogger("audmw")
    monkeypatch.setattr(logger, "handlers", [])
    monkeypatch.setattr(logger, "level", logging.NOTSET)
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    return logger


def test_refusals_reach_the_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    bare(monkeypatch)
    stream = io.StringIO()
    assert log_refusals(stream) is True
    guard = Guard(Settings(issuer="https://issuer.example.com/", audience="https://api.example"))
    with pytest.raises(MissingToken):
        guard.authorize(IncomingRequest("GET", "/"))
    assert "INFO audmw: audmw refused request: reason=no_token status=401" in stream.getvalue()
    assert log_refusals(io.StringIO()) is False  # once is enough


def test_the_applications_own_configuration_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    logger = bare(monkeypatch)
    logging.getLogger().addHandler(logging.NullHandler())
    assert log_refusals(io.StringIO()) is False
    assert logger.handlers == []
