"""Google Identity-Aware Proxy: its signed JWT comes in ``x-goog-iap-jwt-assertion``."""

from __future__ import annotations

from typing import Any

from audmw.errors import ConfigurationError
from audmw.providers import Provider, required_option


def preset(
    *,
    project_number: str | None = None,
    backend_service_id: str | None = None,
    project_id: str | None = None,
) -> dict[str, Any]:
    """Identity-Aware Proxy signed headers: the raw JWT in ``x-goog-iap-jwt-assertion``, ES256.

    The token is read from that header only (``token_header``), never from ``Authorization``.
    The audience is ``/projects/{project_number}/global/backendServices/{backend_service_id}``
    (load balancer) or ``/projects/{project_number}/apps/{project_id}`` (App Engine).
    """
    number = required_option(project_number, "google-iap", "project_number", "123456789012")
    if not number.isdigit():
        raise ConfigurationError(f"audmw: google-iap project_number {number!r} is not a number")
    if bool(backend_service_id) == bool(project_id):
        raise ConfigurationError(
            "audmw: google-iap needs exactly one of backend_service_id= (load balancer) or "
            "project_id= (App Engine)"
        )
    audience = (
        f"/projects/{number}/global/backendServices/{backend_service_id}"
        if backend_service_id
        else f"/projects/{number}/apps/{project_id}"
    )
    return {
        "issuer": "https://cloud.google.com/iap",
        "jwks_uri": "https://www.gstatic.com/iap/verify/public_key-jwk",
        "audience": audience,
        "algorithms": ("ES256",),
        "token_header": "x-goog-iap-jwt-assertion",
    }


PROVIDER = Provider(name="google-iap", preset=preset)
