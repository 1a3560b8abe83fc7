"""What the Django tests share (a module of its own: every test folder has a ``conftest``)."""

from __future__ import annotations

from typing import Any

from audmw.testing import LocalIssuer

AUDIENCE = "https://api.example.com"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "audmw_django.middleware.AudienceMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]


def audmw_settings(issuer: LocalIssuer, **extra: Any) -> dict[str, Any]:
    return {
        "ISSUER": issuer.issuer,
        "AUDIENCE": AUDIENCE,
        "EXEMPT_PATHS": ["/health", "/admin/**", "/drf/**", "/session"],
        "RULES": [
            {"methods": ["GET"], "path": "/thirdparty/**", "scopes": ["reports"]},
            {"path": "/thirdparty/status", "public": True},
        ],
        **extra,
    }


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}
