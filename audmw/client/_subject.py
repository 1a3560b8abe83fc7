"""The incoming token of a verified request, held for an exchange and never shown."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from audmw.bearer import bearer_credentials, header_credentials
from audmw.errors import AuthError
from audmw.settings import AUTHORIZATION_HEADER
from audmw.token import AccessToken

ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 - a name


class SubjectToken:
    """A token to exchange (RFC 8693 ``subject_token``, an on-behalf-of ``assertion``).

    Its repr and str show only the fingerprint; ``value`` is read by the exchange alone.
    """

    __slots__ = ("_value", "digest", "fingerprint", "token_type")

    def __init__(self, value: str, *, token_type: str = ACCESS_TOKEN_TYPE) -> None:
        if not isinstance(value, str) or not value:
            raise ValueError("the subject token must be a non-empty string")
        self._value = value
        self.digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
        self.fingerprint = self.digest[:16]
        self.token_type = token_type

    @property
    def value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"SubjectToken(fingerprint={self.fingerprint!r})"

    __str__ = __repr__


def verified_subject(
    values: Sequence[str], token: AccessToken | None, *, header: str = AUTHORIZATION_HEADER
) -> SubjectToken:
    """The request's token, from every value of its token header, once audmw verified it.

    ``token`` is what the adapter's middleware stored for the request; the header's token
    must be the one verified (same fingerprint), or ``LookupError`` says there is none.
    """
    if token is None:
        raise LookupError(
            "this request has no verified access token: exchange only inside a protected view"
        )
    try:
        if header.lower() == AUTHORIZATION_HEADER.lower():
            raw = bearer_credentials(values)
        else:
            raw = header_credentials(values, header)
    except AuthError:
        raise LookupError("the request's token header holds no bearer token") from None
    subject = SubjectToken(raw)
    if subject.fingerprint != token.fingerprint:
        raise LookupError("the request's token is not the one audmw verified")
    return subject
