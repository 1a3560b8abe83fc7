"""A user's Django project reads the verified token through the typed accessors: the token
in a plain view and a DRF view (behind the middleware or DRF's authentication alone), None
on a public view, where ``require_access_token`` raises ``NoAccessToken``."""

from __future__ import annotations

import pytest
from user_projects import run

DJANGO_PROJECT = {
    "pytest.ini": """\
[pytest]
DJANGO_SETTINGS_MODULE = settings
pythonpath = .
""",
    "settings.py": """\
SECRET_KEY = "not-a-secret-only-for-tests-0123456789-0123456789"
ROOT_URLCONF = "urls"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"]
MIDDLEWARE = ["audmw_django.middleware.AudienceMiddleware"]
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["audmw_django.rest_framework.AudienceAuthentication"],
    "UNAUTHENTICATED_USER": None,
}
""",
    "urls.py": """\
from django.http import HttpRequest, JsonResponse
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audmw_django import NoAccessToken, access_token, public, require_access_token


def me(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"sub": require_access_token(request).subject})


@public
def open_info(request: HttpRequest) -> JsonResponse:
    try:
        require_access_token(request)
    except NoAccessToken:
        return JsonResponse({"token": access_token(request) is not None, "raised": True})
    return JsonResponse({"raised": False})


class Reports(APIView):
    def get(self, request: Request) -> Response:
        token = access_token(request)
        return Response({"sub": token.subject if token else None})


urlpatterns = [path("me", me), path("open", open_info), path("reports", Reports.as_view())]
""",
    "conftest.py": """\
import pytest


@pytest.fixture(autouse=True)
def audmw_settings(settings, audmw_session_issuer):
    settings.AUDMW = audmw_session_issuer.django_settings()
""",
    "test_accessors.py": """\
def test_plain_view(client, audmw_session_issuer):
    response = client.get("/me", headers=audmw_session_issuer.bearer(sub="alice"))
    assert response.json() == {"sub": "alice"}


def test_public_view(client, audmw_session_issuer):
    response = client.get("/open", headers=audmw_session_issuer.bearer(sub="alice"))
    assert response.json() == {"token": False, "raised": True}


def test_drf_view_behind_the_middleware(client, audmw_session_issuer):
    response = client.get("/reports", headers=audmw_session_issuer.bearer(sub="alice"))
    assert response.json() == {"sub": "alice"}


def test_drf_view_without_the_middleware(client, settings, audmw_session_issuer):
    settings.MIDDLEWARE = []
    response = client.get("/reports", headers=audmw_session_issuer.bearer(sub="bob"))
    assert response.json() == {"sub": "bob"}
    assert client.get("/reports").json() == {"sub": None}
""",
}


def test_django_and_drf_give_the_verified_token(user_pytester: pytest.Pytester) -> None:
    result = run(user_pytester, DJANGO_PROJECT)
    result.assert_outcomes(passed=4)
