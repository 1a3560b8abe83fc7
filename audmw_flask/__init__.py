"""Flask integration: ``Audmw(app)`` checks bearer access tokens before any view runs."""

from audmw.marks import (
    public,
    require_any_scope,
    require_app,
    require_authentication,
    require_authorization_details,
    require_scopes,
    require_user,
)
from audmw_flask.extension import (
    Audmw,
    AudmwState,
    InvalidCredentials,
    Refusal,
    ScopeRequired,
    TokenRequired,
    VerificationUnavailable,
    current_token,
    get_current_token,
    incoming_token,
    protect,
)

__all__ = [
    "Audmw",
    "AudmwState",
    "InvalidCredentials",
    "Refusal",
    "ScopeRequired",
    "TokenRequired",
    "VerificationUnavailable",
    "current_token",
    "get_current_token",
    "incoming_token",
    "protect",
    "public",
    "require_any_scope",
    "require_app",
    "require_authentication",
    "require_authorization_details",
    "require_scopes",
    "require_user",
]
