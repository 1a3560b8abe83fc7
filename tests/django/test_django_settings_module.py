"""The README's Django setup, as a real settings module: ``manage.py check`` passes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SETTINGS = """
SECRET_KEY = "audmw-tests-only-" + "x" * 40
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "testserver"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "rest_framework",
    "audmw_django",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "audmw_django.middleware.AudienceMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "user_urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
AUDMW = {"ISSUER": "https://issuer.example.com/", "AUDIENCE": "https://api.example.com"}
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["audmw_django.rest_framework.AudienceAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["audmw_django.rest_framework.HasScopes"],
}
"""

URLS = """
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView


class Reports(APIView):
    required_scopes = {"GET": ["read:reports"]}

    def get(self, request):
        return Response({"sub": request.auth.subject})


urlpatterns = [path("reports", Reports.as_view())]
"""


def test_the_readme_settings_pass_manage_py_check(tmp_path: Path) -> None:
    # DRF reads DEFAULT_AUTHENTICATION_CLASSES while importing rest_framework.views: the
    # class it names must import without needing that module first.
    (tmp_path / "user_settings.py").write_text(SETTINGS)
    (tmp_path / "user_urls.py").write_text(URLS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUDMW_", "DJANGO_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), *sys.path])
    result = subprocess.run(
        [sys.executable, "-m", "django", "check", "--settings=user_settings"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=120,
    )
    output = result.stdout.decode() + result.stderr.decode()
    assert result.returncode == 0, output
    assert "System check identified no issues" in output


CLIENT = """
import django
django.setup()
from django.test import Client
print(Client().get("/reports").status_code)
"""


def test_refusal_reasons_reach_stderr_under_djangos_default_logging(tmp_path: Path) -> None:
    (tmp_path / "user_settings.py").write_text(SETTINGS)
    (tmp_path / "user_urls.py").write_text(URLS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUDMW_", "DJANGO_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), *sys.path])
    env["DJANGO_SETTINGS_MODULE"] = "user_settings"
    result = subprocess.run(
        [sys.executable, "-c", CLIENT], cwd=tmp_path, env=env, capture_output=True, timeout=120
    )
    assert result.stdout.decode().strip() == "401", result.stderr.decode()
    assert "INFO audmw: audmw refused request: reason=no_token status=401" in result.stderr.decode()
