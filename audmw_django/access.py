"""Typed access to the verified token of a Django or DRF request.

``request.access_token`` is unknown to django-stubs; these functions give an
``AccessToken`` to a type checker. They read what ``AudienceMiddleware`` or DRF's
``AudienceAuthentication`` left on the request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

from audmw import AccessToken
from audmw.access import NoAccessToken
from audmw.client import SubjectToken, verified_subject
from audmw_django.conf import current

if TYPE_CHECKING:
    from rest_framework.request import Request  # DRF is optional

__all__ = ["NoAccessToken", "access_token", "incoming_token", "require_access_token"]


def access_token(request: HttpRequest | Request) -> AccessToken | None:
    """The verified token of ``request`` (a Django ``HttpRequest`` or a DRF ``Request``), or
    None: a public view, an exempt path, or a request audmw did not check."""
    if not isinstance(request, HttpRequest):
        auth = request.auth  # DRF: what AudienceAuthentication returned
        if isinstance(auth, AccessToken):
            return auth
    # A DRF Request reads missing attributes from the HttpRequest it wraps.
    token = getattr(request, "access_token", None)
    return token if isinstance(token, AccessToken) else None


def require_access_token(request: HttpRequest | Request) -> AccessToken:
    """The verified token; raises ``NoAccessToken`` where there is none (a server error: a
    view that reads the token must not be public, and audmw must check its requests)."""
    token = access_token(request)
    if token is None:
        raise NoAccessToken(
            "audmw: this request has no verified access token: the view is public (@public, "
            "an exempt path or a public rule), or neither AudienceMiddleware nor DRF's "
            "AudienceAuthentication checked it"
        )
    return token


def incoming_token(request: HttpRequest | Request) -> SubjectToken:
    """The request's verified token, for ``TokenExchange``/``OnBehalfOf.for_subject``;
    ``LookupError`` where audmw verified none (a public view)."""
    header = current().guard.settings.token_header
    meta = request.META  # a DRF Request reads it from the HttpRequest it wraps
    value = meta.get("HTTP_" + header.upper().replace("-", "_"))
    values = [value] if isinstance(value, str) else []
    return verified_subject(values, access_token(request), header=header)
