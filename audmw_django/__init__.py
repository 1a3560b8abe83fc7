"""Django integration of audmw: ``AudienceMiddleware``, view decorators and DRF classes.

::

    INSTALLED_APPS += ["audmw_django"]                      # system checks
    MIDDLEWARE += ["audmw_django.middleware.AudienceMiddleware"]
    AUDMW = {"ISSUER": "https://issuer.example/", "AUDIENCE": "https://api.example.com"}
"""

from audmw import AccessToken
from audmw_django.decorators import public, require_any_scope, require_scopes

__all__ = ["AccessToken", "public", "require_any_scope", "require_scopes"]
