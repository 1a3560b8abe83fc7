"""``Guard``: the whole decision for one request, shared by every framework adapter.

An adapter builds an ``IncomingRequest``, lists the ``View`` the framework will call (or
None), and asks ``requirement`` what the request needs. If a token is needed it calls
``authorize`` (or ``authorize_async``); a refusal comes back as an ``AuthError`` that
``answer`` turns into status, headers and body. Adapters that want no coroutine on a cache
hit call ``lookup`` and, on a miss, ``verify_async`` themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any

from audmw import diagnostics
from audmw.answer import Answer, answer, challenge
from audmw.bearer import (
    bearer_credentials,
    check_b64token,
    check_compact,
    header_credentials,
    is_well_formed,
)
from audmw.decision import View, decide
from audmw.errors import AuthError, InvalidRequest, RequirementNotMet
from audmw.metadata import ResourceMetadata
from audmw.request import IncomingRequest
from audmw.requirements import ANY_VALID_TOKEN, Requirement
from audmw.rules import PathRules, has_control_characters
from audmw.settings import AUTHORIZATION_HEADER, Settings
from audmw.token import AccessToken
from audmw.validator import TokenValidator
from audmw.verifier import PendingToken, Verifier, pending_token

__all__ = ["Guard", "PendingToken"]


class Guard:
    """Deny by default: every request needs a valid token unless its view or path is public."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        validator: Verifier | None = None,
        **options: Any,
    ) -> None:
        if validator is not None:
            if settings is None:
                settings = getattr(validator, "settings", None)
            if not isinstance(settings, Settings):
                raise TypeError("pass the Settings the validator was built with")
        elif settings is None:
            settings = Settings.from_env(**options) if options else Settings.from_env()
        elif options:
            raise TypeError("pass either a Settings or keyword options, not both")
        self.settings = settings
        self.validator: Verifier = validator or TokenValidator(settings)
        self.cache = self.validator.cache
        self.paths = PathRules(settings.rules, settings.exempt_paths)
        self._path_rules = bool(settings.rules or settings.exempt_paths)
        self.metadata: ResourceMetadata | None = (
            ResourceMetadata(settings) if settings.resource is not None else None
        )
        """The RFC 9728 metadata of ``settings.resource``; None when no resource is set."""
        self._metadata_url = self.metadata.url if self.metadata is not None else None
        self._preflight = settings.cors_preflight
        self.wants_url = False
        """Whether a check needs the request's absolute URL (scheme and host); adapters
        leave them out of the ``IncomingRequest`` otherwise."""
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
        self._max_bytes = self.validator.max_token_bytes
        self._digest = self.cache.key
        self._cached = self.cache.get

    # -- which requirement -------------------------------------------------------------------

    def requirement(self, request: IncomingRequest, view: View | None = None) -> Requirement | None:
        """What ``request`` needs: None for a public one, else the requirement to check.

        ``view`` is what the framework will call (None when no view answers: unknown URL,
        wrong method, an answer the framework gives on its own). A path with control
        characters is refused here (400), whatever it leads to.
        """
        path = request.path
        if not path.isprintable() and has_control_characters(path):
            error = InvalidRequest(
                "path_control_characters",
                hint="the decoded path holds control characters; routers and rules may read "
                "it differently",
            )
            diagnostics.log_refusal(error)
            raise error
        preflight = self._preflight and request.preflight
        if self._path_rules:
            opened, needed = self.paths.evaluate(request.method, path)
            return decide(view, opened, needed, preflight)
        if view is not None and not preflight:
            return view.alone  # the same decision, made once per view
        return decide(view, False, None, preflight)

    # -- is the token good enough --------------------------------------------------------------

    def authorize(
        self, request: IncomingRequest, requirement: Requirement = ANY_VALID_TOKEN
    ) -> AccessToken:
        """The verified token of ``request``, meeting ``requirement``, or an ``AuthError``."""
        found = self.lookup(request)
        if isinstance(found, PendingToken):
            found = self.validator.verify(found)
        return found if requirement is ANY_VALID_TOKEN else self.check_scopes(found, requirement)

    async def authorize_async(
        self, request: IncomingRequest, requirement: Requirement = ANY_VALID_TOKEN
    ) -> AccessToken:
        found = self.lookup(request)
        if isinstance(found, PendingToken):  # no await on a cache hit
            found = await self.validator.verify_async(found)
        return found if requirement is ANY_VALID_TOKEN else self.check_scopes(found, requirement)

    def lookup(self, request: IncomingRequest) -> AccessToken | PendingToken:
        """``authorize`` up to the signature: the token from the verified-token cache, or the
        ``PendingToken`` that ``verify``/``verify_async`` check in full.

        Refusals of the credentials themselves (none, two, malformed, sent two ways) are
        raised here. ASGI adapters pass the header values as bytes, as the server gave them.
        """
        credentials = request.credentials
        elsewhere = "query" if request.token_in_query else "body" if request.token_in_body else None
        exact: PendingToken | None = None
        if len(credentials) == 1 and elsewhere is None:
            # The usual request, "Bearer <token>" and nothing else around it: a hit needs only
            # the digest. A token found by its digest was a compact JWS, so only a miss needs
            # the checks of the header and of the token's characters.
            value = credentials[0]
            raw: bytes | None = None
            if isinstance(value, bytes):
                if value.startswith(self._prefix_bytes):
                    raw = value[self._prefix_length :]
            elif value.startswith(self._prefixes):
                token = value[self._prefix_length :]
                raw = token.encode("ascii") if token.isascii() else None
            if raw and len(raw) <= self._max_bytes:
                key = self._digest(raw)
                found = self._cached(key)
                if found is not None:
                    return found
                exact = PendingToken(raw, key)
                if is_well_formed(raw, compact=self._raw_header is not None):
                    return exact  # exactly the scheme and a clean token
        values = [
            value.decode("latin-1") if isinstance(value, bytes) else value for value in credentials
        ]
        try:
            if self._raw_header is None:
                token = bearer_credentials(values, elsewhere=elsewhere)
            else:
                token = header_credentials(values, self._raw_header, elsewhere=elsewhere)
            if exact is None or len(token) != len(exact.raw):
                # Spaces around the token: the stripped token may still be a known one.
                stripped = self._pending(token)
                if stripped is not None:
                    found = self._cached(stripped.key)
                    if found is not None:
                        return found
            if self._raw_header is None:
                check_b64token(token)
            else:
                check_compact(token, self._raw_header)
        except AuthError as error:
            diagnostics.log_refusal(error)
            raise
        return pending_token(token, self._max_bytes)

    def verify(self, pending: PendingToken) -> AccessToken:
        """The full checks of a token ``lookup`` did not find (sync: may fetch keys)."""
        return self.validator.verify(pending)

    async def verify_async(self, pending: PendingToken) -> AccessToken:
        return await self.validator.verify_async(pending)

    @staticmethod
    def check_scopes(token: AccessToken, requirement: Requirement) -> AccessToken:
        """``token`` when it satisfies ``requirement``, else a logged ``RequirementNotMet``
        (``InsufficientScope``, ``InsufficientUserAuthentication``, ...).

        For a token verified earlier in the same request (by a middleware) that a later
        layer (a FastAPI dependency, a DRF permission) checks against its own requirement.
        """
        if requirement:
            try:
                requirement.check(token)
            except RequirementNotMet as error:
                diagnostics.log_refusal(error, token.fingerprint)
                raise
        return token

    # -- the answer ----------------------------------------------------------------------------

    def answer(self, error: AuthError) -> Answer:
        """Status, headers and JSON body of a refusal (RFC 6750 and friends)."""
        return answer(error, self.settings.realm, self._metadata_url)

    def challenge(self, error: AuthError) -> str | None:
        """The ``WWW-Authenticate`` value of ``answer(error)``, for a framework that sends
        its own 401 with a challenge the library supplies (DRF's ``authenticate_header``)."""
        return challenge(error, self.settings.realm, self._metadata_url)

    def metadata_answer(
        self,
        method: str,
        path: str,
        requirements: Callable[[], Iterable[Requirement | None]],
        routes_version: Hashable = None,
    ) -> Answer | None:
        """The metadata document when the request asks for it (GET or HEAD of a well-known
        path of the resource; OPTIONS: its CORS preflight), else None: the request goes on
        to the token check.

        The document is served before any token check and never reads the token.
        ``requirements`` lists the requirements the app's routes carry: ``scopes_supported``
        defaults to their scopes. It is read when the document is first asked for, and again
        only when ``routes_version`` (something that changes when routes are added) differs
        from the last one, so that clients cannot make the app walk its routes at will.
        """
        metadata = self.metadata
        if metadata is None or not metadata.serves(method, path):
            return None
        return metadata.answer_for(method, requirements, routes_version)

    # -- helpers -------------------------------------------------------------------------------

    def _pending(self, token: str | bytes) -> PendingToken | None:
        """A ``PendingToken``, or None when ``pending_token`` would refuse the token."""
        if not token or len(token) > self._max_bytes:
            return None
        if isinstance(token, str):
            if not token.isascii():
                return None
            raw = token.encode("ascii")
        else:
            raw = bytes(token)
        return PendingToken(raw, self.cache.key(raw))
