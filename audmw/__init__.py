"""audmw: OAuth 2.0 bearer access tokens checked for this API's audience before any view runs."""

from audmw.answer import Answer, answer
from audmw.bearer import extract_bearer
from audmw.diagnostics import log_refusals
from audmw.errors import (
    AuthError,
    ConfigurationError,
    InsufficientAuthorizationDetails,
    InsufficientScope,
    InsufficientUserAuthentication,
    InvalidRequest,
    InvalidToken,
    KeysUnavailable,
    MissingToken,
    RequirementNotMet,
    WrongTokenKind,
)
from audmw.guard import Guard
from audmw.marks import (
    public,
    require_any_scope,
    require_app,
    require_authentication,
    require_authorization_details,
    require_scopes,
    require_user,
)
from audmw.requirements import DetailRequirement, Requirement
from audmw.rules import Rule
from audmw.settings import Settings
from audmw.token import AccessToken
from audmw.validator import TokenValidator

__all__ = [
    "AccessToken",
    "Answer",
    "AuthError",
    "ConfigurationError",
    "DetailRequirement",
    "Guard",
    "InsufficientAuthorizationDetails",
    "InsufficientScope",
    "InsufficientUserAuthentication",
    "InvalidRequest",
    "InvalidToken",
    "KeysUnavailable",
    "MissingToken",
    "Requirement",
    "RequirementNotMet",
    "Rule",
    "Settings",
    "TokenValidator",
    "WrongTokenKind",
    "answer",
    "extract_bearer",
    "log_refusals",
    "public",
    "require_any_scope",
    "require_app",
    "require_authentication",
    "require_authorization_details",
    "require_scopes",
    "require_user",
]
__version__ = "0.1.0"
