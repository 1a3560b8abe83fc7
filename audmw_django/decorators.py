"""View decorators. They only mark the view; ``AudienceMiddleware`` enforces the marks.

They work on function views, on class-based views (the class, or one HTTP method's handler),
on DRF views and viewset actions, in any order with Django's own decorators.
"""

from audmw.marks import (
    public,
    require_any_scope,
    require_app,
    require_authentication,
    require_authorization_details,
    require_scopes,
    require_user,
)

__all__ = [
    "public",
    "require_any_scope",
    "require_app",
    "require_authentication",
    "require_authorization_details",
    "require_scopes",
    "require_user",
]
