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
from typing import Any, NamedTuple

from audmw import diagnostics
from audmw.answer import Answer, answer
from audmw.bearer import (
    bearer_credentials,
    check_b64token,
    check_compact,
    header_credentials,
    is_well_formed,
)
from audmw.errors import AuthError, InsufficientScope
from audmw.requirements import ANY_VALID_TOKEN, Requirement
from audmw.rules import compile_path_pattern
from audmw.settings import AUTHORIZATION_HEADER, Settings
from audmw.token import AccessToken
from audmw.validator import TokenValidator

_PATH_MEMO_SIZE = 1024
_MISSING: Any = object()


class PendingToken(NamedTuple):
    """A token ``Guard.lookup`` did not find among verified ones: ``verify`` checks it."""

    token: str
    raw: bytes
    digest: bytes  # empty when the validator must see the token itself


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
        self._by_path: dict[tuple[str, str], Requirement | None] = {}
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
        # The exact forms of a header value the cache is looked up with before any parsing.
        self._prefixes: tuple[str, ...] = (
            ("Bearer ", "bearer ") if header == AUTHORIZATION_HEADER else ("",)
        )
        self._prefix_bytes = tuple(prefix.encode("ascii") for prefix in self._prefixes)
        self._prefix_length = len(self._prefixes[0])
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
        if public:
            return None
        if not self._exempt and not self.settings.rules:
            return marked or ANY_VALID_TOKEN
        found: Requirement | None = self._by_path.get((method, path), _MISSING)
        if found is _MISSING:
            found = self._path_requirement(method, path)
            if len(self._by_path) >= _PATH_MEMO_SIZE:
                self._by_path.clear()  # paths are the client's to make up: start over
            self._by_path[(method, path)] = found
        if found is None:
            return None
        if found is ANY_VALID_TOKEN:
            return marked or ANY_VALID_TOKEN
        return found if marked is None else marked & found

    def _path_requirement(self, method: str, path: str) -> Requirement | None:
        """What exempt paths and rules say of a method and path: None for public."""
        if any(pattern.fullmatch(path) for pattern in self._exempt):
            return None
        needed = ANY_VALID_TOKEN
        for rule in self.settings.rules:
            if rule.matches(method, path):
                if rule.public:
                    return None
                needed = needed & rule.requirement
        return needed

    def authorize(
        self,
        authorization: Sequence[str] | Sequence[bytes],
        requirement: Requirement = ANY_VALID_TOKEN,
        *,
        token_in_query: bool = False,
    ) -> AccessToken:
        """The verified token of a request, ``authorization`` being the token header's values."""
        found = self.lookup(authorization, token_in_query=token_in_query)
        if isinstance(found, PendingToken):
            found = self.verify(found)
        return found if requirement is ANY_VALID_TOKEN else self.check_scopes(found, requirement)

    async def authorize_async(
        self,
        authorization: Sequence[str] | Sequence[bytes],
        requirement: Requirement = ANY_VALID_TOKEN,
        *,
        token_in_query: bool = False,
    ) -> AccessToken:
        found = self.lookup(authorization, token_in_query=token_in_query)
        if isinstance(found, PendingToken):  # no await on a cache hit
            found = await self.verify_async(found)
        return found if requirement is ANY_VALID_TOKEN else self.check_scopes(found, requirement)

    def lookup(
        self, authorization: Sequence[str] | Sequence[bytes], *, token_in_query: bool = False
    ) -> AccessToken | PendingToken:
        """``authorize`` up to the signature: the token from the verified-token cache, or the
        ``PendingToken`` that ``verify``/``verify_async`` check in full.

        Refusals of the header itself (none, two, malformed) are raised here. ASGI adapters
        pass the header values as bytes, as the server gave them.
        """
        validator = self.validator
        exact: tuple[bytes, bytes] | None = None
        if self._hits_first and len(authorization) == 1 and not token_in_query:
            # The usual request, "Bearer <token>" and nothing else around it: a hit needs only
            # the digest. A token found by its digest was a compact JWS, so only a miss needs
            # the checks of the header and of the token's characters.
            exact = self._exact_key(authorization[0])
            if exact is not None:
                found = validator._cached(exact[1])
                if found is not None:
                    return found
                raw, digest = exact
                if is_well_formed(raw, compact=self._raw_header is not None):
                    # Exactly the scheme and a clean token: what the header checks would find.
                    return PendingToken(raw.decode("ascii"), raw, digest)
        values = [
            value.decode("latin-1") if isinstance(value, bytes) else value
            for value in authorization
        ]
        raw_header = self._raw_header
        try:
            if raw_header is None:
                token = bearer_credentials(values, token_in_query=token_in_query)
            else:
                token = header_credentials(values, raw_header, token_in_query=token_in_query)
            if not self._hits_first:
                self._check_characters(token)
                return PendingToken(token, b"", b"")
            if exact is None or len(token) != len(exact[0]):
                # Spaces around the token: the stripped token may still be a known one.
                exact = validator._key(token)
                if exact is not None:
                    found = validator._cached(exact[1])
                    if found is not None:
                        return found
            self._check_characters(token)
        except AuthError as error:
            diagnostics.log_refusal(error)
            raise
        raw, digest = exact or validator._prepare(token)
        return PendingToken(token, raw, digest)

    def verify(self, pending: PendingToken) -> AccessToken:
        """The full checks of a token ``lookup`` did not find (sync: may fetch keys)."""
        if not pending.digest:
            return self.validator.validate(pending.token)
        return self.validator._verify(pending.raw, pending.digest)

    async def verify_async(self, pending: PendingToken) -> AccessToken:
        if not pending.digest:
            return await self.validator.validate_async(pending.token)
        return await self.validator._verify_async(pending.raw, pending.digest)

    def answer(self, error: AuthError) -> Answer:
        return answer(error, self.settings.realm)

    def _exact_key(self, value: str | bytes) -> tuple[bytes, bytes] | None:
        """Bytes and cache key of the token in a header value that is exactly the scheme and
        the token (or just the token, for a custom header); None for anything else."""
        if isinstance(value, str):
            if not value.startswith(self._prefixes):
                return None
        elif not value.startswith(self._prefix_bytes):
            return None
        token = value[self._prefix_length :]
        return self.validator._key(token) if token else None

    def _check_characters(self, token: str) -> None:
        if self._raw_header is None:
            check_b64token(token)
        else:
            check_compact(token, self._raw_header)

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
