"""audmw: OAuth 2.0 bearer access tokens checked for this API's audience before any view runs."""

from audmw.answer import Answer, answer
from audmw.bearer import extract_bearer
from audmw.diagnostics import log_refusals
from audmw.errors import (
    AuthError,
    ConfigurationError,
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    KeysUnavailable,
    MissingToken,
)
from audmw.guard import Guard
from audmw.marks import public, require_any_scope, require_scopes
from audmw.requirements import Requirement
from audmw.rules import Rule
from audmw.settings import Settings
from audmw.token import AccessToken
from audmw.validator import TokenValidator

__all__ = [
    "AccessToken",
    "Answer",
    "AuthError",
    "ConfigurationError",
    "Guard",
    "InsufficientScope",
    "InvalidRequest",
    "InvalidToken",
    "KeysUnavailable",
    "MissingToken",
    "Requirement",
    "Rule",
    "Settings",
    "TokenValidator",
    "answer",
    "extract_bearer",
    "log_refusals",
    "public",
    "require_any_scope",
    "require_scopes",
]
__version__ = "0.1.0"
