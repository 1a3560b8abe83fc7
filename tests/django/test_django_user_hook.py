"""``AUDMW["USER"]``: a verified token becomes one of the app's own users."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django_support import AUDIENCE, audmw_settings, bearer

from audmw.testing import LocalIssuer

pytestmark = pytest.mark.django_db

HOOK = "audmw_django.user.get_or_create_user"


def test_login_required_and_drf_defaults_see_the_apps_user(
    issuer: LocalIssuer, effects: list[str]
) -> None:
    client = Client()
    token = bearer(issuer.mint(aud=AUDIENCE, sub="hana"))
    with override_settings(AUDMW=audmw_settings(issuer, USER=HOOK)):
        response = client.get("/members", **token)
        assert response.status_code == 200
        assert response.json() == {"user": "hana", "model": get_user_model().__name__}
        again = client.get("/members", **bearer(issuer.mint(aud=AUDIENCE, sub="hana")))
        assert again.status_code == 200
        drf = client.get("/api-drf/defaults", **token)
    assert drf.json() == {"user": "hana"}
    user = get_user_model()._default_manager.get(username="hana")
    assert not user.has_usable_password()
    assert get_user_model()._default_manager.filter(username="hana").count() == 1
    assert effects == ["members only", "members only", "drf defaults"]


def test_without_the_hook_login_required_accepts_the_token_user(
    issuer: LocalIssuer,
) -> None:
    response = Client().get("/members", **bearer(issuer.mint(aud=AUDIENCE, sub="ivy")))
    assert response.json() == {"user": "ivy", "model": "TokenUser"}
    assert not get_user_model()._default_manager.filter(username="ivy").exists()


def test_a_hook_that_cannot_be_imported_is_refused(issuer: LocalIssuer) -> None:
    from audmw import ConfigurationError
    from audmw_django.conf import build

    with pytest.raises(ConfigurationError, match="AUDMW\\['USER'\\]"):
        build(audmw_settings(issuer, USER="nowhere.to_be_found"))
    with pytest.raises(ConfigurationError, match="must be a function"):
        build(audmw_settings(issuer, USER=42))


def test_manage_py_check_names_a_bad_user_hook(issuer: LocalIssuer) -> None:
    from django.core.checks import run_checks

    with override_settings(AUDMW=audmw_settings(issuer, USER="nowhere.to_be_found")):
        found = [(m.id, m.obj) for m in run_checks(tags=["security"]) if m.id == "audmw.E008"]
    assert found == [("audmw.E008", "settings.AUDMW['USER']")]
