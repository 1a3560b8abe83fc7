"""``manage.py check`` reports each misconfiguration of AUDMW with an id and a hint."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings
from django_support import MIDDLEWARE

from audmw import Settings
from audmw.settings import DECLARED
from audmw_django import conf
from audmw_django.conf import DJANGO_OPTIONS


def audmw_ids(**overrides: Any) -> list[str]:
    with override_settings(**overrides):
        return [m.id for m in run_checks(tags=["security"]) if (m.id or "").startswith("audmw.")]


def problems(value: Any) -> list[tuple[str, str, str]]:
    with override_settings(AUDMW=value):
        return [
            (m.id or "", m.msg, m.hint or "")
            for m in run_checks(tags=["security"])
            if (m.id or "").startswith("audmw.")
        ]


GOOD = {"ISSUER": "https://issuer.example.com/", "AUDIENCE": "https://api.example.com"}


def test_a_good_configuration_passes() -> None:
    assert problems(GOOD) == []
    assert problems({**GOOD, "TOKEN_USER": True, "EXEMPT_PATHS": ["/health"]}) == []
    assert problems(Settings(issuer=GOOD["ISSUER"], audience=GOOD["AUDIENCE"])) == []


def test_missing_setting() -> None:
    from django.conf import settings

    with override_settings():
        del settings.AUDMW
        found = [m for m in run_checks(tags=["security"]) if (m.id or "").startswith("audmw.")]
    assert [m.id for m in found] == ["audmw.E001"]
    assert "AUDIENCE" in (found[0].hint or "")


@pytest.mark.parametrize(
    ("value", "expected_id", "words"),
    [
        ("https://issuer.example.com", "audmw.E002", "must be a dict"),
        ({**GOOD, "AUDIENCES": "x"}, "audmw.E003", "unknown key 'AUDIENCES'"),
        ({"AUDIENCE": "https://api.example.com"}, "audmw.E004", "no issuer configured"),
        ({**GOOD, "ISSUER": "http://issuer.example.com"}, "audmw.E004", "uses http://"),
        ({"ISSUER": "https://issuer.example.com"}, "audmw.E005", "no audience configured"),
        ({**GOOD, "ALGORITHMS": ["none"]}, "audmw.E006", "'none'"),
        ({**GOOD, "ALGORITHMS": ["HS256"]}, "audmw.E006", 'needs AUDMW["HMAC_SECRET"]'),
        ({**GOOD, "LEEWAY": -1}, "audmw.E006", "leeway"),
        ({**GOOD, "EXEMPT_PATHS": ["health"]}, "audmw.E006", "must start with '/'"),
        ({**GOOD, "RULES": [{"scopes": ["a"]}]}, "audmw.E006", "needs at least a 'path'"),
        ({**GOOD, "JWKS_URI": "http://keys.example.com/jwks"}, "audmw.E006", "http://"),
        ({**GOOD, "HMAC_SECRET": "x" * 40}, "audmw.E006", "no HS256"),
        ({**GOOD, "TOKEN_USER": "yes"}, "audmw.E008", "TOKEN_USER"),
    ],
)
def test_each_misconfiguration_has_an_id_and_a_hint(
    value: Any, expected_id: str, words: str
) -> None:
    found = problems(value)
    assert [f[0] for f in found] == [expected_id]
    assert words in found[0][1]
    assert found[0][2]


def test_a_provider_preset_is_judged_as_a_whole() -> None:
    found = problems({"PROVIDER": "auth0", "AUDIENCE": "https://api.example.com"})
    assert [f[0] for f in found] == ["audmw.E007"]
    assert found[0][2]


def test_several_problems_are_reported_together() -> None:
    ids = [f[0] for f in problems({"ISSUER": "ftp://x", "LEEWAY": "soon", "TYPO": 1})]
    assert sorted(ids) == ["audmw.E003", "audmw.E004", "audmw.E005", "audmw.E006"]


def test_csrf_before_the_middleware_is_warned() -> None:
    swapped = [m for m in MIDDLEWARE if "csrf" not in m]
    swapped.insert(1, "django.middleware.csrf.CsrfViewMiddleware")
    assert audmw_ids(MIDDLEWARE=swapped) == ["audmw.W001"]
    assert audmw_ids(MIDDLEWARE=MIDDLEWARE) == []


def test_manage_py_check_fails_on_errors() -> None:
    with (
        override_settings(AUDMW={"ISSUER": "https://issuer.example.com"}),
        pytest.raises(SystemCheckError, match=r"audmw\.E005"),
    ):
        call_command("check", tags=["security"])


def test_a_complete_provider_preset_passes_the_checks() -> None:
    preset = {"PROVIDER": "auth0", "DOMAIN": "tenant.eu.auth0.com", "AUDIENCE": "https://api"}
    assert problems(preset) == []


def test_marks_that_cannot_take_effect_stop_the_check() -> None:
    from audmw_testproject import lost_marks

    with override_settings(ROOT_URLCONF="audmw_testproject.lost_marks", AUDMW=GOOD):
        found = [
            (m.id, m.msg) for m in run_checks(tags=["urls"]) if (m.id or "").startswith("audmw.")
        ]
    ids = sorted(check_id for check_id, _ in found)
    assert ids == ["audmw.E010", "audmw.E010", "audmw.E011", "audmw.E012"], found
    messages = " ".join(message for _, message in found)
    assert "under_api_view" in messages
    assert "hidden_by_a_decorator" in messages
    assert "Reports.export" in messages
    assert "never_routed" in messages
    for fine in ("above_api_view", "kept_by_wraps"):
        assert fine not in messages
    with (
        override_settings(ROOT_URLCONF="audmw_testproject.lost_marks", AUDMW=GOOD),
        pytest.raises(SystemCheckError, match=r"audmw\.E010"),
    ):
        call_command("check")
    assert lost_marks.urlpatterns  # the module stays imported for the registry


def test_the_test_project_has_no_lost_marks() -> None:
    with override_settings(AUDMW=GOOD):
        assert [m for m in run_checks(tags=["urls"]) if (m.id or "").startswith("audmw.")] == []


@pytest.mark.parametrize(
    ("key", "meant"),
    [("AUDIENCES", "AUDIENCE"), ("EXEMPT_PATH", "EXEMPT_PATHS"), ("TOKEN_USERS", "TOKEN_USER")],
)
def test_an_unknown_key_is_answered_with_the_key_probably_meant(key: str, meant: str) -> None:
    found = problems({**GOOD, key: "x"})
    assert [f[0] for f in found] == ["audmw.E003"]
    assert f"unknown key {key!r} in settings.AUDMW (did you mean {meant!r}?)" in found[0][1]
    assert "TOKEN_USER" in found[0][2]
    assert "CORS_PREFLIGHT" in found[0][2]


def test_the_known_keys_are_the_declared_settings_and_the_django_options() -> None:
    hint = problems({**GOOD, "TYPO": 1})[0][2]
    listed = set(hint.removeprefix("Known keys: ").removesuffix(".").split(", "))
    assert listed == {s.key for s in DECLARED} | {"PROVIDER", "STATE_DIR"} | set(DJANGO_OPTIONS)


def test_the_middleware_refuses_a_misspelt_key_with_the_key_probably_meant() -> None:
    with override_settings(AUDMW={**GOOD, "TOKEN_USERS": True}):
        conf.reset()
        try:
            with pytest.raises(ImproperlyConfigured, match="did you mean 'TOKEN_USER'"):
                conf.current()
        finally:
            conf.reset()


def test_messages_speak_of_the_audmw_dict() -> None:
    found = problems({"ISSUER": "https://issuer.example.com/"})
    (message,) = [msg for check_id, msg, _ in found if check_id == "audmw.E005"]
    assert 'Set AUDMW["AUDIENCE"] to' in message
    assert "audience=" not in message
    assert "AUDMW_AUDIENCE" not in message
    entra = problems(
        {"ISSUER": "https://login.microsoftonline.com/{tenantid}/v2.0", "AUDIENCE": "x"}
    )
    assert any('set AUDMW["JWKS_URI"]' in msg for _, msg, _ in entra), entra
