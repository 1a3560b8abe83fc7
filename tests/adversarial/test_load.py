"""A short run of ``bench.load``: each example app under its real server, keys rotating.

The full run (``python -m bench.load``: 10,000 requests at concurrency 64 per app) is in the
README; this one checks the same things on fewer requests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.load import APPS, KINDS, run


@pytest.mark.parametrize("app", APPS)
def test_every_decision_as_expected_under_load(app: str, tmp_path: Path) -> None:
    report = run(app, requests=400, concurrency=16, rotate_every=100, log_dir=tmp_path)
    assert report.ok, "\n".join(report.lines())
    assert report.rotations >= 2
    assert sum(report.decisions.values()) == report.requests
    assert set(report.decisions) == {kind.name for kind in KINDS}
    # Memory stays bounded: the run adds little to what the warmed-up server holds.
    assert report.rss_after_kib < report.rss_before_kib * 1.5, "\n".join(report.lines())
