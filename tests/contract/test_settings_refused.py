"""Rules that parse but mean nothing are refused when settings are built, in every source.

Each source is the way one kind of app writes its settings: keyword arguments, the
``AUDMW_RULES`` environment variable (JSON), Django's ``AUDMW`` (here through
``Settings.from_mapping`` and, in a process of its own, ``manage.py check``) and Flask's
``app.config`` (through the extension's ``init_app``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from audmw import ConfigurationError, Settings
from audmw_flask import Audmw
from contract import spec
from contract.servers import ROOT, TESTS

ISSUER = "https://issuer.example/"  # never fetched: settings are only built


@dataclass(frozen=True)
class BadRule:
    name: str
    rule: dict[str, Any]
    words: tuple[str, ...]  # what the message must name, in any case


BAD_RULES = (
    BadRule(
        "method-for-methods",
        {"method": ["GET"], "path": "/reports/**", "scopes": ["reports:read"]},
        ("did you mean", "methods"),
    ),
    BadRule(
        "scope-for-scopes",
        {"methods": ["GET"], "path": "/reports/**", "scope": ["reports:read"]},
        ("did you mean", "scopes"),
    ),
    BadRule("public-as-text", {"path": "/status", "public": "false"}, ("public",)),
    BadRule("scopes-as-number", {"path": "/reports/**", "scopes": 5}, ("scopes",)),
    BadRule(
        "methods-as-numbers",
        {"methods": [1], "path": "/reports/**", "scopes": ["reports:read"]},
        ("method",),
    ),
    BadRule("path-as-number", {"path": 5, "scopes": ["reports:read"]}, ("path",)),
    BadRule(
        "public-with-scopes",
        {"path": "/reports/**", "public": True, "scopes": ["reports:read"]},
        ("public", "scopes"),
    ),
    # The old CORS recipe: cors_preflight replaces it.
    BadRule(
        "public-options",
        {"methods": ["OPTIONS"], "path": "/**", "public": True},
        ("cors_preflight",),
    ),
    BadRule(
        "public-get-and-options",
        {"methods": ["GET", "OPTIONS"], "path": "/status", "public": True},
        ("cors_preflight",),
    ),
)

Source = Callable[..., object]


def keyword(rules: list[Any], **options: Any) -> object:
    return Settings(issuer=ISSUER, audience=spec.AUDIENCE, rules=rules, **options)


def environment(rules: list[Any], **options: Any) -> object:
    variables = {
        "AUDMW_ISSUER": ISSUER,
        "AUDMW_AUDIENCE": spec.AUDIENCE,
        "AUDMW_RULES": json.dumps(rules),
        **{f"AUDMW_{name.upper()}": json.dumps(value) for name, value in options.items()},
    }
    return Settings.from_env(variables)


def django_mapping(rules: list[Any], **options: Any) -> object:
    """What the Django adapter builds from ``settings.AUDMW``."""
    audmw = {"ISSUER": ISSUER, "AUDIENCE": spec.AUDIENCE, "RULES": rules}
    return Settings.from_mapping({**audmw, **{name.upper(): v for name, v in options.items()}})


def flask_config(rules: list[Any], **options: Any) -> object:
    app = Flask("contract_settings")
    app.config.update(
        AUDMW_ISSUER=ISSUER,
        AUDMW_AUDIENCE=spec.AUDIENCE,
        AUDMW_RULES=rules,
        **{f"AUDMW_{name.upper()}": value for name, value in options.items()},
    )
    return Audmw().init_app(app)


SOURCES: dict[str, Source] = {
    "keyword": keyword,
    "environment": environment,
    "django-mapping": django_mapping,
    "flask-config": flask_config,
}


@pytest.mark.parametrize("source", SOURCES.values(), ids=SOURCES.keys())
def test_the_suite_settings_are_accepted(source: Source) -> None:
    """The control: the same sources accept the rules the servers run with."""
    source(list(spec.RULES))
    source(list(spec.RULES), cors_preflight=True)


@pytest.mark.parametrize("bad", BAD_RULES, ids=[bad.name for bad in BAD_RULES])
@pytest.mark.parametrize("source", SOURCES.values(), ids=SOURCES.keys())
def test_rule_refused(source: Source, bad: BadRule) -> None:
    with pytest.raises(ConfigurationError) as refused:
        source([*spec.RULES, bad.rule])
    message = str(refused.value).lower()
    missing = [word for word in bad.words if word not in message]
    assert not missing, f"the message does not name {missing}: {refused.value}"


CHECK_VARIANTS: dict[str, dict[str, Any]] = {
    "suite": {},
    "cors-preflight": {"CORS_PREFLIGHT": True},
    **{bad.name: {"RULES": [*spec.RULES, bad.rule]} for bad in BAD_RULES},
}


@pytest.fixture(scope="module")
def django_checks() -> dict[str, dict[str, Any]]:
    """``manage.py check`` of the contract project for every variant, in one process."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AUDMW_") and key != "DJANGO_SETTINGS_MODULE"
    }
    environment.update(
        PYTHONPATH=os.pathsep.join([str(TESTS), str(ROOT)]),
        AUDMW_ISSUER=ISSUER,
        AUDMW_AUDIENCE=spec.AUDIENCE,
        **spec.settings_environment(cors_preflight=False),
    )
    done = subprocess.run(
        [sys.executable, "-m", "contract.django_project.run_checks"],
        input=json.dumps(CHECK_VARIANTS),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results: dict[str, dict[str, Any]] = json.loads(done.stdout)
    return results


@pytest.mark.parametrize("variant", ["suite", "cors-preflight"])
def test_django_check_accepts_the_suite_settings(
    django_checks: dict[str, dict[str, Any]], variant: str
) -> None:
    result = django_checks[variant]
    assert not result["refused"], result["output"]


@pytest.mark.parametrize("bad", BAD_RULES, ids=[bad.name for bad in BAD_RULES])
def test_django_check_refuses(django_checks: dict[str, dict[str, Any]], bad: BadRule) -> None:
    result = django_checks[bad.name]
    assert result["refused"], f"manage.py check passed:\n{result['output']}"
    message = result["output"].lower()
    missing = [word for word in bad.words if word not in message]
    assert not missing, f"manage.py check does not name {missing}:\n{result['output']}"
