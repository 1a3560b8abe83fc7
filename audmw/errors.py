"""Why a request was refused: an HTTP status, an RFC 6750 code, a safe text, a reason for logs.

The ``description`` goes to the client and stays generic; the ``reason`` (a stable code) and
the ``hint`` (the operator's fix) go to the log only. None of them ever holds the token.
"""

from __future__ import annotations

from typing import ClassVar


class ConfigurationError(ValueError):
    """The settings cannot protect an API; the message says what to change."""


class AuthError(Exception):
    """Base of every refusal; adapters turn it into a response with ``audmw.answer``."""

    status: ClassVar[int] = 401
    error: ClassVar[str | None] = None
    default_description: ClassVar[str] = "Authentication failed"

    def __init__(
        self, reason: str, description: str | None = None, *, hint: str | None = None
    ) -> None:
        self.reason = reason
        self.description = description or self.default_description
        self.hint = hint
        self.dpop = False
        """The request used the DPoP scheme: the error belongs on the DPoP challenge."""
        super().__init__(self.description)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reason={self.reason!r}, description={self.description!r})"


class MissingToken(AuthError):
    """No bearer credentials at all: a bare challenge, no error code (RFC 6750 §3.1)."""

    status = 401
    error = None
    default_description = "A bearer access token is required"


class InvalidRequest(AuthError):
    """Malformed or duplicated credentials (RFC 6750 §3.1 ``invalid_request``)."""

    status = 400
    error = "invalid_request"
    default_description = "The request carries malformed or duplicate credentials"


class InvalidToken(AuthError):
    """The token is not one this API accepts (RFC 6750 §3.1 ``invalid_token``)."""

    status = 401
    error = "invalid_token"
    default_description = "The access token is invalid"


class RequirementNotMet(AuthError):
    """A verified token that falls short of what the route asks for (scopes, authentication,
    authorization details, the kind of token): the base of the refusals below."""


class InsufficientScope(RequirementNotMet):
    """A valid token without the scopes the route needs (RFC 6750 §3.1)."""

    status = 403
    error = "insufficient_scope"
    default_description = "The access token lacks the scope this resource requires"

    def __init__(
        self, scope: tuple[str, ...], description: str | None = None, *, hint: str | None = None
    ) -> None:
        super().__init__("insufficient_scope", description, hint=hint)
        self.scope = scope


class InsufficientUserAuthentication(RequirementNotMet):
    """The user's authentication behind a valid token is too weak or too old (RFC 9470 §3).

    ``acr_values`` are the authentication context classes that would do (any one of them),
    ``max_age`` the greatest acceptable age in seconds of the authentication; both go into
    the challenge so that the client can ask the authorization server for a new token.
    """

    status = 401
    error = "insufficient_user_authentication"
    default_description = "The user authentication does not meet the requirements of this resource"

    def __init__(
        self,
        reason: str,
        *,
        acr_values: tuple[str, ...] = (),
        max_age: int | None = None,
        description: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(reason, description, hint=hint)
        self.acr_values = acr_values
        self.max_age = max_age


class InsufficientAuthorizationDetails(RequirementNotMet):
    """A valid token without an ``authorization_details`` entry (RFC 9396) the route needs.

    RFC 9396 defines no error code for a resource server. ``insufficient_scope`` would send
    a client after scopes that cannot help, so the refusal has its own code, shaped like
    RFC 6750's. ``types`` are the entry types the route needs, for the log and ``audmw
    check``; the answer does not list them.
    """

    status = 403
    error = "insufficient_authorization_details"
    default_description = "The access token lacks the authorization details this resource requires"

    def __init__(
        self, types: tuple[str, ...], description: str | None = None, *, hint: str | None = None
    ) -> None:
        super().__init__("insufficient_authorization_details", description, hint=hint)
        self.types = types


class WrongTokenKind(RequirementNotMet):
    """A token a client obtained for itself where a user's is needed, or the reverse
    (RFC 9700 §4.15). The token is valid, only not enough for this resource: RFC 6750's
    ``insufficient_scope`` ("requires higher privileges"), without a ``scope`` to ask for."""

    def __init__(self, needed: str, *, hint: str | None = None) -> None:
        description = (
            "This resource requires an access token issued for a user"
            if needed == "user"
            else "This resource requires an access token a client obtained for itself"
        )
        super().__init__(f"{needed}_token_required", description, hint=hint)
        self.needed = needed

    status = 403
    error = "insufficient_scope"
    default_description = "The access token is not of the kind this resource requires"


class KeysUnavailable(AuthError):
    """The issuer's keys cannot be fetched and nothing cached can verify: 503, not 401."""

    status = 503
    error = None
    default_description = "Token verification is temporarily unavailable"

    def __init__(
        self, reason: str = "keys_unavailable", *, retry_after: int = 5, hint: str | None = None
    ) -> None:
        super().__init__(reason, hint=hint)
        self.retry_after = max(1, retry_after)


class StoreUnavailable(KeysUnavailable):
    """A shared store a check depends on (DPoP replay) cannot answer: 503, never an accept."""

    default_description = "Request verification is temporarily unavailable"


class InvalidDPoPProof(AuthError):
    """The DPoP proof is missing, malformed or does not fit the request (RFC 9449 §7.1)."""

    status = 401
    error = "invalid_dpop_proof"
    default_description = "The DPoP proof is invalid"

    def __init__(
        self, reason: str, description: str | None = None, *, hint: str | None = None
    ) -> None:
        super().__init__(reason, description, hint=hint)
        self.dpop = True


class UseDPoPNonce(AuthError):
    """The proof must carry the server's current nonce, sent in ``DPoP-Nonce`` (RFC 9449 §9)."""

    status = 401
    error = "use_dpop_nonce"
    default_description = "Resource server requires nonce in DPoP proof"

    def __init__(self, reason: str, nonce: str, *, hint: str | None = None) -> None:
        super().__init__(reason, hint=hint)
        self.nonce = nonce
        self.dpop = True
