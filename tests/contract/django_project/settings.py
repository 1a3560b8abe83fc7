"""Settings of the contract's Django project; ``AUDMW`` comes from the ``AUDMW_*`` environment.

Written out as a Django project writes ``AUDMW``: Python lists and booleans, not strings.
"""

from __future__ import annotations

import json
import os
import secrets
from typing import Any

SECRET_KEY = secrets.token_urlsafe(50)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "contract.django_project.urls"
INSTALLED_APPS = ["rest_framework", "audmw_django"]
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "audmw_django.middleware.AudienceMiddleware",
]
DATABASES: dict[str, Any] = {}
USE_TZ = True
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["audmw_django.rest_framework.AudienceAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}


def _audmw() -> dict[str, Any]:
    environ = os.environ
    value: dict[str, Any] = {
        "ISSUER": environ.get("AUDMW_ISSUER", ""),
        "AUDIENCE": environ.get("AUDMW_AUDIENCE", ""),
    }
    if "AUDMW_EXEMPT_PATHS" in environ:
        value["EXEMPT_PATHS"] = environ["AUDMW_EXEMPT_PATHS"].split()
    if "AUDMW_RULES" in environ:
        value["RULES"] = json.loads(environ["AUDMW_RULES"])
    if "AUDMW_CLIENT_IDS" in environ:
        value["CLIENT_IDS"] = environ["AUDMW_CLIENT_IDS"].split(",")
    if "AUDMW_CORS_PREFLIGHT" in environ:
        value["CORS_PREFLIGHT"] = environ["AUDMW_CORS_PREFLIGHT"] == "true"
    # Sender-constrained tokens: strings, as a project may write them too.
    for key in _PASSED_AS_WRITTEN:
        if "AUDMW_" + key in environ:
            value[key] = environ["AUDMW_" + key]
    return value


_PASSED_AS_WRITTEN = (
    "DPOP",
    "DPOP_NONCE",
    "DPOP_NONCE_SECRET",
    "DPOP_NONCE_LIFETIME",
    "REPLAY_STORE",
    "TRUSTED_PROXIES",
    "ORIGINS",
)


AUDMW = _audmw()

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["stderr"], "level": "ERROR"}},
}
