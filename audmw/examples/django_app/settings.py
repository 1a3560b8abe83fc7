"""Configured only by the environment: ``AUDMW_ISSUER``, ``AUDMW_AUDIENCE``, ``AUDMW_*``."""

import secrets

from audmw import Settings

SECRET_KEY = secrets.token_urlsafe(50)  # no sessions or signed data outlive the process
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "audmw.examples.django_app.urls"
INSTALLED_APPS = ["audmw_django"]
# Only async-capable middleware: requests stay on the event loop from server to view.
MIDDLEWARE = ["audmw_django.middleware.AudienceMiddleware"]
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True

AUDMW = Settings.from_env()

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"line": {"format": "%(levelname)s %(name)s %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "line"}},
    "loggers": {
        "audmw": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        # Refusals are already explained on the audmw logger, one line each.
        "django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
    },
}
