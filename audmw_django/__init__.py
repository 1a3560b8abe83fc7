"""Django integration of audmw: ``AudienceMiddleware``, view decorators and DRF classes.

::

    INSTALLED_APPS += ["audmw_django"]                      # system checks
    MIDDLEWARE += ["audmw_django.middleware.AudienceMiddleware"]
    AUDMW = {"ISSUER": "https://issuer.example/", "AUDIENCE": "https://api.example.com"}

In a view, ``require_access_token(request)`` is the verified ``AccessToken``, typed.
"""

from audmw import AccessToken
from audmw_django.access import NoAccessToken, access_token, incoming_token, require_access_token
from audmw_django.decorators import (
    public,
    require_any_scope,
    require_app,
    require_authentication,
    require_authorization_details,
    require_scopes,
    require_user,
)

__all__ = [
    "AccessToken",
    "NoAccessToken",
    "access_token",
    "incoming_token",
    "public",
    "require_access_token",
    "require_any_scope",
    "require_app",
    "require_authentication",
    "require_authorization_details",
    "require_scopes",
    "require_user",
]
