"""``Guard``: the whole decision for one request, shared by every framework adapter.

An adapter resolves the view, asks ``requirement`` what it needs, and if a token is needed
calls ``authorize`` (or ``authorize_async``) with every value of the request's token header
(``Authorization``, or the header ``Settings.token_header`` names: ``token_header``,
``token_header_bytes`` and ``token_environ_key`` spell it for each framework); a refusal
comes back as an ``AuthError`` that ``answer`` turns into the response.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from audmw import diagnostics
from audmw.answer import Answer, answer
from audmw.bearer import (
    bearer_credentials,
    check_b64token,
    check_compact,
    extract_bearer,
    extract_header_token,
    header_credentials,
)
from audmw.errors import AuthError, InsufficientScope
from audmw.requirements import ANY_VALID_TOKEN, Requirement
from audmw.rules import compile_path_pattern
from audmw.settings import AUTHORIZATION_HEADER, Settings
from audmw.token import AccessToken
from audmw.validator import TokenValidator


class Guard:
    """Deny by default: every request needs a valid token unless its view or path is public."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        validator: TokenValidator | None = None,
        **options: Any,
    ) -> None:
        if validator is not None:
            settings = validator.settings
        elif settings is None:
            settings = Settings.from_env(**options) if options else Settings.from_env()
        elif options:
            raise TypeError("pass either a Settings or keyword options, not both")
        self.settings = settings
        self.validator = validator or TokenValidator(settings)
        self._exempt: tuple[re.Pattern[str], ...] = tuple(
            compile_path_pattern(path) for path in settings.exempt_paths
        )
        header = settings.token_header
        self.token_header: str = header
        """The lower-case name of the header that carries the token (ASGI, ``getlist``)."""
        self.token_header_bytes: bytes = header.encode("latin-1")
        """The same name as ASGI ``scope["headers"]`` spell it."""
        self.token_environ_key: str = "HTTP_" + header.upper().replace("-", "_")
        """Its key in a WSGI environ and in Django's ``request.META``."""
        # None: Authorization with the Bearer scheme; else the raw token of this header.
        self._raw_header: str | None = None if header == AUTHORIZATION_HEADER else header
        # Cache hits first, unless a subclass of the validator wants to see every token.
        kind = type(self.validator)
        self._hits_first = (
            kind.validate is TokenValidator.validate
            and kind.validate_async is TokenValidator.validate_async
        )

    def requirement(
        self,
        method: str,
        path: str,
        marked: Requirement | None = None,
        *,
        public: bool = False,
    ) -> Requirement | None:
        """What a request needs: ``None`` for a public one, else the scopes to check.

        ``marked`` and ``public`` come from the view the framework resolved (``None`` and
        ``False`` when nothing resolved: an unknown URL still needs a valid token).
        """
        if public or any(pattern.fullmatch(path) for pattern in self._exempt):
            return None
        needed = marked or ANY_VALID_TOKEN
        for rule in self.settings.rules:
            if rule.matches(method, path):
                if rule.public:
                    return None
                needed = needed & rule.requirement
        return needed

    def authorize(
        self,
        authorization: Sequence[str],
        requirement: Requirement = ANY_VALID_TOKEN,
        *,
        token_in_query: bool = False,
    ) -> AccessToken:
        """The verified token of a request, ``authorization`` being the token header's values."""
        if not self._hits_first:
            token = self._bearer(authorization, token_in_query)
            return self.check_scopes(self.validator.validate(token), requirement)
        found = self._cached_or_prepared(authorization, token_in_query)
        if isinstance(found, tuple):
            found = self.validator._verify(*found)
        return found if requirement is ANY_VALID_TOKEN else self.check_scopes(found, requirement)

    async def authorize_async(
        self,
        authorization: Sequence[str],
        requirement: Requirement = ANY_VALID_TOKEN,
        *,
        token_in_query: bool = False,
    ) -> AccessToken:
        if not self._hits_first:
            token = self._bearer(authorization, token_in_query)
            return self.check_scopes(await self.validator.validate_async(token), requirement)
        found = self._cached_or_prepared(authorization, token_in_query)
        if isinstance(found, tuple):  # no await on a cache hit
            found = await self.validator._verify_async(*found)
        return found if requirement is ANY_VALID_TOKEN else self.check_scopes(found, requirement)

    def answer(self, error: AuthError) -> Answer:
        return answer(error, self.settings.realm)

    def _bearer(self, authorization: Sequence[str], token_in_query: bool) -> str:
        try:
            if self._raw_header is None:
                return extract_bearer(authorization, token_in_query=token_in_query)
            return extract_header_token(
                authorization, self._raw_header, token_in_query=token_in_query
            )
        except AuthError as error:
            diagnostics.log_refusal(error)
            raise

    def _cached_or_prepared(
        self, authorization: Sequence[str], token_in_query: bool
    ) -> AccessToken | tuple[bytes, bytes]:
        """The request's token from the verified-token cache, or its bytes and digest.

        A token found by its digest was a compact JWS, so only a miss needs the check of its
        characters; a malformed header still gets its 400 before any validation.
        """
        raw_header = self._raw_header
        try:
            if raw_header is None:
                token = bearer_credentials(authorization, token_in_query=token_in_query)
            else:
                token = header_credentials(authorization, raw_header, token_in_query=token_in_query)
        except AuthError as error:
            diagnostics.log_refusal(error)
            raise
        validator = self.validator
        prepared = validator._key(token)
        if prepared is not None:
            found = validator._cached(prepared[1])
            if found is not None:
                return found
        try:
            if raw_header is None:
                check_b64token(token)
            else:
                check_compact(token, raw_header)
        except AuthError as error:
            diagnostics.log_refusal(error)
            raise
        return prepared or validator._prepare(token)

    @staticmethod
    def check_scopes(token: AccessToken, requirement: Requirement) -> AccessToken:
        """``token`` when it satisfies ``requirement``, else a logged ``InsufficientScope``.

        For a token verified earlier in the same request (by a middleware) that a later
        layer (a FastAPI dependency, a DRF permission) checks against its own requirement.
        """
        if requirement:
            try:
                requirement.check(token)
            except InsufficientScope as error:
                diagnostics.log_refusal(error, token.fingerprint)
                raise
        return token
