"""Django is configured here, when this folder is collected; the rest of the suite is untouched.

One ``LocalIssuer`` serves the whole folder; each test gets ``AUDMW`` pointing at it through
``override_settings`` (which also proves that a changed ``AUDMW`` takes effect).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import django
import pytest
from django.conf import settings
from django.test import override_settings
from django_support import MIDDLEWARE, audmw_settings

from audmw.testing import LocalIssuer

if not settings.configured:
    settings.configure(
        SECRET_KEY="audmw-tests-only-" + "x" * 40,
        ALLOWED_HOSTS=["testserver", "127.0.0.1", "localhost"],
        INSTALLED_APPS=[
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "rest_framework",
            "audmw_django",
        ],
        MIDDLEWARE=MIDDLEWARE,
        ROOT_URLCONF="audmw_testproject.urls",
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        USE_TZ=True,
        REST_FRAMEWORK={"UNAUTHENTICATED_USER": None},
    )
    django.setup()


@pytest.fixture(scope="session")
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer() as local:
        yield local


@pytest.fixture(autouse=True)
def audmw(issuer: LocalIssuer) -> Iterator[dict[str, Any]]:
    from audmw_testproject.views import EFFECTS

    issuer.set_mode("ok")
    EFFECTS.clear()
    value = audmw_settings(issuer)
    with override_settings(AUDMW=value):
        yield value


@pytest.fixture
def effects() -> list[str]:
    from audmw_testproject.views import EFFECTS

    return EFFECTS
