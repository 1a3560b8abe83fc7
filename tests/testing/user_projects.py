"""The README's examples of testing an app, and the apps they test, as a user writes them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
_BLOCK = re.compile(r"```python\n# (?P<name>[\w/]+\.py)\n(?P<body>.*?)```", re.DOTALL)


def readme_files(heading: str) -> dict[str, str]:
    """The files (``conftest.py``, ``test_api.py``) of the README's example under
    ``### <heading>`` in "Testing your app"."""
    text = README.read_text()
    section = text.split("\n## Testing your app\n", 1)[1].split("\n## ", 1)[0]
    for part in section.split("\n### ")[1:]:
        if part.startswith(heading + "\n"):
            files = {m["name"]: m["body"] for m in _BLOCK.finditer(part)}
            assert files, f"the README's {heading!r} example has no '# <file>.py' blocks"
            return files
    raise AssertionError(f"the README's 'Testing your app' has no '### {heading}'")


def run(pytester: pytest.Pytester, files: dict[str, str], *args: str) -> pytest.RunResult:
    """``pytest`` run in a new process in a project made of ``files``, with ``args``."""
    for name, body in files.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def count_tests(files: dict[str, str], name: str = "test_api.py") -> int:
    """How many tests ``name`` defines; at least one, or the example tests nothing."""
    count = len(re.findall(r"^def test_", files[name], re.MULTILINE))
    assert count > 0, f"{name} of the README's example defines no test"
    return count


FASTAPI_APP = """\
from typing import Annotated, Any

from fastapi import FastAPI
from starlette.middleware import Middleware

from audmw.fastapi import AccessToken, AudienceMiddleware, RequireScopes, public

app = FastAPI(middleware=[Middleware(AudienceMiddleware)])


@app.get("/health")
@public
async def health() -> dict[str, Any]:
    return {"ok": True}


@app.get("/api/me")
async def me(token: Annotated[AccessToken, RequireScopes()]) -> dict[str, Any]:
    return {"sub": token.subject}


@app.get("/api/messages")
async def messages(
    token: Annotated[AccessToken, RequireScopes("read:messages")],
) -> dict[str, Any]:
    return {"messages": [], "reader": token.subject}
"""

STARLETTE_APP = """\
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from audmw.access import require_access_token
from audmw.starlette import AudienceMiddleware, require_scopes


@require_scopes("read:messages")
async def messages(request: Request) -> JSONResponse:
    return JSONResponse({"messages": [], "reader": require_access_token(request).subject})


app = Starlette(
    routes=[Route("/api/messages", messages)], middleware=[Middleware(AudienceMiddleware)]
)
"""

DJANGO_PROJECT = {
    "pytest.ini": """\
[pytest]
DJANGO_SETTINGS_MODULE = settings
pythonpath = .
""",
    "settings.py": """\
SECRET_KEY = "not-a-secret-only-for-tests-0123456789-0123456789"
ROOT_URLCONF = "urls"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "audmw_django",
]
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "audmw_django.middleware.AudienceMiddleware",
]
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["audmw_django.rest_framework.AudienceAuthentication"],
    "UNAUTHENTICATED_USER": None,
}
AUDMW = {"ISSUER": "https://login.example.com/", "AUDIENCE": "https://api.example.com"}
USE_TZ = True
""",
    "urls.py": """\
from django.urls import path

from views import Reports

urlpatterns = [path("reports", Reports.as_view())]
""",
    "views.py": """\
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audmw_django import require_access_token
from audmw_django.rest_framework import HasScopes


class Reports(APIView):
    permission_classes = [HasScopes]
    required_scopes = ["read:reports"]

    def get(self, request: Request) -> Response:
        return Response({"reader": require_access_token(request).subject})
""",
}

FLASK_APP = """\
from collections.abc import Mapping
from typing import Any

from flask import Flask

from audmw_flask import Audmw, current_token, public


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(config or {})

    @app.get("/health")
    @public
    def health() -> dict[str, Any]:
        return {"ok": True}

    @app.get("/me")
    def me() -> dict[str, Any]:
        return {"sub": current_token.subject}

    Audmw(app)
    return app
"""
