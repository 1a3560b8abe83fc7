"""With no decision hook and no OpenTelemetry SDK, nothing of ``audmw.observe`` runs.

Each case runs in a fresh process: OpenTelemetry's providers are global and, once set by
another test, stay set. The requests go through a real Flask app and a real ``LocalIssuer``;
a profiler records every Python function called while they are served.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, sys

    if sys.argv[1] == "absent":
        class Absent:  # as if the otel extra were not installed
            def find_spec(self, name, path=None, target=None):
                if name == "opentelemetry" or name.startswith("opentelemetry."):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                return None
        sys.meta_path.insert(0, Absent())

    from flask import Flask
    from audmw import require_scopes
    from audmw.observe import OTEL_AVAILABLE
    from audmw.testing import LocalIssuer
    from audmw_flask import Audmw

    decisions = []
    with LocalIssuer() as issuer:
        app = Flask(__name__)
        app.config.update(AUDMW_ISSUER=issuer.issuer, AUDMW_AUDIENCE="https://api.example.com")
        if sys.argv[2] == "hook":
            app.config["AUDMW_DECISION_HOOK"] = decisions.append

        @app.get("/items")
        @require_scopes("read:items")
        def items():
            return {}

        Audmw(app)
        state = app.extensions["audmw"]
        client = app.test_client()
        good = {"Authorization": "Bearer " + issuer.mint(scopes=["read:items"], aud="https://api.example.com")}
        poor = {"Authorization": "Bearer " + issuer.mint(scopes=["other"], aud="https://api.example.com")}
        called = set()

        def profile(frame, event, arg):
            if event in ("call", "c_call"):
                called.add(frame.f_code.co_filename)

        sys.setprofile(profile)
        statuses = [client.get("/items", headers=h).status_code for h in (good, good, poor, {})]
        sys.setprofile(None)

    print(json.dumps({
        "statuses": statuses,
        "otel_available": OTEL_AVAILABLE,
        "otel_imported": any(name.startswith("opentelemetry") for name in sys.modules),
        "observer": state.guard.observer is not None,
        "observe_called": sorted(f for f in called if f.endswith("observe.py")),
        "decisions": [d.reason for d in decisions],
    }))
    """
)


def run(otel: str, hook: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, otel, hook],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.mark.parametrize("otel", ["absent", "unconfigured"])
def test_nothing_is_observed_without_a_hook_or_a_configured_sdk(otel: str) -> None:
    result = run(otel, "none")
    assert result["statuses"] == [200, 200, 403, 401]
    assert result["observer"] is False
    assert result["observe_called"] == []
    assert result["otel_available"] is (otel == "unconfigured")
    if otel == "absent":
        assert result["otel_imported"] is False


def test_the_hook_alone_works_without_the_extra() -> None:
    result = run("absent", "hook")
    assert result["statuses"] == [200, 200, 403, 401]
    assert result["observer"] is True
    assert result["otel_imported"] is False
    assert result["decisions"] == ["ok", "ok", "insufficient_scope", "no_token"]
