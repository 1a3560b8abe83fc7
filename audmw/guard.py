"""``Guard``: the whole decision for one request, shared by every framework adapter.

An adapter builds an ``IncomingRequest``, lists the ``View`` the framework will call (or
None), and asks ``requirement`` what the request needs. If a token is needed it calls
``authorize`` (or ``authorize_async``); a refusal comes back as an ``AuthError`` that
``answer`` turns into status, headers and body. Adapters that want no coroutine on a cache
hit call ``lookup`` and, on a miss, ``verify_async`` themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

from audmw import diagnostics
from audmw.answer import Answer, answer, challenge
from audmw.bearer import (
    authorization_credentials,
    check_b64token,
    check_compact,
    header_credentials,
    is_well_formed,
)
from audmw.decision import View, decide
from audmw.dpop import ProofChecker, Replay
from audmw.errors import (
    AuthError,
    InvalidDPoPProof,
    InvalidRequest,
    InvalidToken,
    RequirementNotMet,
)
from audmw.forwarded import RequestURLs
from audmw.keys import IssuerKeys, prefetch, prefetch_async
from audmw.metadata import ResourceMetadata
from audmw.mtls import CertificateBinding
from audmw.observe import Observer, observer_for
from audmw.request import IncomingRequest
from audmw.requirements import ANY_VALID_TOKEN, Requirement
from audmw.rules import PathRules, has_control_characters
from audmw.settings import AUTHORIZATION_HEADER, HMAC_ALGORITHMS, Settings
from audmw.store import SharedStore, store_for
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
        store: SharedStore | None = None,
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
        self.validator: Verifier = validator or _verifier_for(settings)
        self.cache = self.validator.cache
        self.paths = PathRules(settings.rules, settings.exempt_paths)
        self._path_rules = bool(settings.rules or settings.exempt_paths)
        self.metadata: ResourceMetadata | None = (
            ResourceMetadata(settings) if settings.resource is not None else None
        )
        """The RFC 9728 metadata of ``settings.resource``; None when no resource is set."""
        self._metadata_url = self.metadata.url if self.metadata is not None else None
        self._preflight = settings.cors_preflight
        header = settings.token_header
        # DPoP is a scheme of the Authorization header; a raw token header has no scheme.
        self.dpop_mode = settings.dpop if header == AUTHORIZATION_HEADER else "off"
        self._dpop_on = self.dpop_mode != "off"
        self.urls = RequestURLs(settings)
        self.proofs: ProofChecker | None = (
            ProofChecker(settings, self.urls) if self._dpop_on else None
        )
        self.certificates = CertificateBinding(self.urls)
        self.store: SharedStore | None = store
        """Where proofs' ``jti``s are remembered (``replay_store``), made on first use."""
        self.wants_url = self._dpop_on or bool(settings.trusted_proxies)
        """Whether a check needs the request's absolute URL (scheme, host), its ``DPoP``
        header and peer address; adapters leave them out of the ``IncomingRequest``
        otherwise."""
        self.proxy_headers: frozenset[str] = self.urls.headers
        """The lower-case names of the headers a trusted proxy sets, for
        ``IncomingRequest.proxy`` (none without ``trusted_proxies``)."""
        self.proxy_headers_bytes = frozenset(name.encode("latin-1") for name in self.proxy_headers)
        self._schemes = (
            ("bearer",)
            if not self._dpop_on
            else ("dpop",)
            if self.dpop_mode == "required"
            else ("bearer", "dpop")
        )
        self._dpop_algs = self.proofs.algorithms if self.proofs is not None else None
        self.issues_nonces = self.proofs is not None and self.proofs.nonces
        """Whether accepted requests may need a ``DPoP-Nonce`` header (``fresh_nonce``)."""
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
            ("",)
            if header != AUTHORIZATION_HEADER
            else ()
            if self.dpop_mode == "required"
            else ("Bearer ", "bearer ")
        )
        self._dpop_prefixes: tuple[str, ...] = ("DPoP ", "dpop ") if self._dpop_on else ()
        self._dpop_prefix_bytes = tuple(prefix.encode("ascii") for prefix in self._dpop_prefixes)
        self._prefix_bytes = tuple(prefix.encode("ascii") for prefix in self._prefixes)
        self._prefix_length = len(self._prefixes[0]) if self._prefixes else 0
        self._max_bytes = self.validator.max_token_bytes
        self._digest = self.cache.key
        self._cached: Callable[[bytes], AccessToken | None] = self.cache.get
        self.observer: Observer | None = observer_for(
            settings, self.cache, getattr(self.validator, "keys", {}).values()
        )
        """Where decisions are reported (``audmw.observe``); None when nothing receives them:
        adapters then call nothing of it."""
        if self.observer is not None:
            self._cached = self.observer.looking_up(self._cached)

    # -- start-up --------------------------------------------------------------------------

    def prefetch_keys(self) -> bool:
        """Fetch the issuers' discovery documents and keys now (``prefetch_keys``: adapters
        call it at start-up): True when every key set is loaded. Never raises; an issuer
        that cannot be reached is logged, and requests then fetch as they would have."""
        return prefetch(self._key_sets())

    async def prefetch_keys_async(self) -> bool:
        """``prefetch_keys`` without blocking the event loop (an ASGI lifespan start-up)."""
        return await prefetch_async(self._key_sets())

    def _key_sets(self) -> list[IssuerKeys]:
        if all(alg in HMAC_ALGORITHMS for alg in self.settings.algorithms):
            return []  # no token is verified with an issuer's keys
        keys: dict[str, IssuerKeys] = getattr(self.validator, "keys", {})
        return list(keys.values())

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
            diagnostics.log_refusal(error, request=request)
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
        try:
            found = self.lookup(request)
            if isinstance(found, PendingToken):
                found = self.verify(found, request)
            replay = self.confirm(request, found)
            if replay is not None:
                self.record(replay, found, request)
            if requirement is not ANY_VALID_TOKEN:
                self.check_scopes(found, requirement, request)
        except AuthError as error:
            self.mark_scheme(error, request)
            raise
        return found

    async def authorize_async(
        self, request: IncomingRequest, requirement: Requirement = ANY_VALID_TOKEN
    ) -> AccessToken:
        try:
            found = self.lookup(request)
            if isinstance(found, PendingToken):  # no await on a cache hit
                found = await self.verify_async(found, request)
            replay = self.confirm(request, found)
            if replay is not None:
                await self.record_async(replay, found, request)
            if requirement is not ANY_VALID_TOKEN:
                self.check_scopes(found, requirement, request)
        except AuthError as error:
            self.mark_scheme(error, request)
            raise
        return found

    # -- is it presented by its holder (DPoP, certificate binding) ------------------------------

    def uses_dpop(self, request: IncomingRequest) -> bool:
        """Whether the request's single ``Authorization`` value uses the DPoP scheme."""
        if not self._dpop_on or len(request.credentials) != 1:
            return False
        value = request.credentials[0]
        head = value[:5].lower()
        return head == b"dpop " if isinstance(head, bytes) else head == "dpop "

    def fresh_nonce(self, request: IncomingRequest) -> str | None:
        """For an accepted DPoP request whose proof used the previous nonce: the current one,
        which adapters send in a ``DPoP-Nonce`` header so that the client's next proof needs
        no retry. None otherwise (and always unless ``dpop_nonce`` is on)."""
        if self.proofs is None or not self.proofs.nonces or not self.uses_dpop(request):
            return None
        return self.proofs.fresh_nonce(request)

    def mark_scheme(self, error: AuthError, request: IncomingRequest) -> None:
        """Put ``error`` on the DPoP challenge when the request used that scheme."""
        if not error.dpop and self.uses_dpop(request):
            error.dpop = True

    def confirm(self, request: IncomingRequest, token: AccessToken) -> Replay | None:
        """Check that ``token`` is presented by its holder, as far as no store is needed.

        A token bound to a certificate (``cnf["x5t#S256"]``) needs that client certificate; a
        DPoP request needs a valid proof by the key of ``cnf.jkt``, and a DPoP-bound token
        needs the DPoP scheme (RFC 9449 §7.2). Returns the proof's ``Replay`` entry, which
        ``record``/``record_async`` must add to the store, or None when no proof was checked.
        """
        cnf = token.claims.get("cnf")
        if cnf is None and not self._dpop_on:
            return None
        dpop = self.uses_dpop(request)
        if cnf is None and not dpop:
            return None
        try:
            return self._confirm(request, token, cnf, dpop)
        except AuthError as error:
            error.dpop = error.dpop or dpop
            diagnostics.log_refusal(error, token.fingerprint, request=request)
            raise

    def _confirm(
        self, request: IncomingRequest, token: AccessToken, cnf: object, dpop: bool
    ) -> Replay | None:
        if cnf is not None and not isinstance(cnf, Mapping):
            raise InvalidToken("cnf_invalid", hint="the token's cnf claim is not an object")
        # Other confirmation members (kid, jwk, ...) are tolerated (RFC 7800 §3.1).
        x5t = cnf.get("x5t#S256") if cnf is not None else None
        if x5t is not None:
            self.certificates.check(request, x5t)
        jkt = cnf.get("jkt") if cnf is not None else None
        if not dpop:
            if jkt is not None:
                raise InvalidToken(
                    "dpop_bound_token_as_bearer",
                    hint="the token is DPoP-bound (cnf.jkt) but came as Bearer without its "
                    "proof" + ("" if self._dpop_on else "; dpop is off, so it cannot be accepted"),
                )
            return None
        if not isinstance(jkt, str) or not jkt:
            raise InvalidToken(
                "dpop_token_unbound",
                hint="Authorization: DPoP with a token that is not DPoP-bound (no cnf.jkt); "
                "send it as Bearer, or ask the issuer for a DPoP-bound token",
            )
        assert self.proofs is not None  # uses_dpop is False when DPoP is off
        value = request.credentials[0]
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        raw = text[5:].strip(" ").encode("ascii")  # lookup checked its characters
        return self.proofs.check(request, raw, jkt)

    def _store(self) -> SharedStore:
        if self.store is None:
            self.store = store_for(self.settings)
        return self.store

    def record(
        self, replay: Replay, token: AccessToken, request: IncomingRequest | None = None
    ) -> None:
        """Remember a proof; refuse it when it was seen before (a replay) or the store fails.
        ``request``: the request the proof came with, for the refusal's log line."""
        try:
            fresh = self._store().add(replay.key, b"1", replay.ttl)
            if not fresh:
                raise _replayed()
        except AuthError as error:
            error.dpop = True
            diagnostics.log_refusal(error, token.fingerprint, request=request)
            raise

    async def record_async(
        self, replay: Replay, token: AccessToken, request: IncomingRequest | None = None
    ) -> None:
        try:
            fresh = await self._store().add_async(replay.key, b"1", replay.ttl)
            if not fresh:
                raise _replayed()
        except AuthError as error:
            error.dpop = True
            diagnostics.log_refusal(error, token.fingerprint, request=request)
            raise

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
            # the digest. A token found by its digest passed every check (a compact JWS, or an
            # introspected b64token), so only a miss needs the checks of the header and of the
            # token's characters.
            value = credentials[0]
            raw: bytes | None = None
            if isinstance(value, bytes):
                if value.startswith(self._prefix_bytes):
                    raw = value[self._prefix_length :]
                elif self._dpop_prefix_bytes and value.startswith(self._dpop_prefix_bytes):
                    raw = value[5:]
            elif value.startswith(self._prefixes):
                token = value[self._prefix_length :]
                raw = token.encode("ascii") if token.isascii() else None
            elif self._dpop_prefixes and value.startswith(self._dpop_prefixes):
                token = value[5:]
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
                token = authorization_credentials(
                    values, self._schemes, elsewhere=elsewhere, dpop=self.dpop_mode
                )
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
            diagnostics.log_refusal(error, request=request)
            raise
        if request.route_of is None:
            return pending_token(token, self._max_bytes)
        reset = diagnostics.refusals_of(request)
        try:
            return pending_token(token, self._max_bytes)
        finally:
            diagnostics.refusals_done(reset)

    def verify(self, pending: PendingToken, request: IncomingRequest | None = None) -> AccessToken:
        """The full checks of a token ``lookup`` did not find (sync: may fetch keys).
        ``request``: the request it came with, for the refusals' log lines."""
        if request is None or request.route_of is None:
            return self.validator.verify(pending)
        reset = diagnostics.refusals_of(request)
        try:
            return self.validator.verify(pending)
        finally:
            diagnostics.refusals_done(reset)

    async def verify_async(
        self, pending: PendingToken, request: IncomingRequest | None = None
    ) -> AccessToken:
        if request is None or request.route_of is None:
            return await self.validator.verify_async(pending)
        reset = diagnostics.refusals_of(request)
        try:
            return await self.validator.verify_async(pending)
        finally:
            diagnostics.refusals_done(reset)

    @staticmethod
    def check_scopes(
        token: AccessToken, requirement: Requirement, request: IncomingRequest | None = None
    ) -> AccessToken:
        """``token`` when it satisfies ``requirement``, else a logged ``RequirementNotMet``
        (``InsufficientScope``, ``InsufficientUserAuthentication``, ...).

        For a token verified earlier in the same request (by a middleware) that a later
        layer (a FastAPI dependency, a DRF permission) checks against its own requirement.
        ``request``: the request, for the refusal's log line.
        """
        if requirement:
            try:
                requirement.check(token)
            except RequirementNotMet as error:
                diagnostics.log_refusal(
                    error, token.fingerprint, issuer=token.issuer, request=request
                )
                raise
        return token

    # -- the answer ----------------------------------------------------------------------------

    def answer(self, error: AuthError) -> Answer:
        """Status, headers and JSON body of a refusal (RFC 6750, RFC 9449 and friends)."""
        return answer(
            error,
            self.settings.realm,
            self._metadata_url,
            dpop_algs=self._dpop_algs,
            bearer=self.dpop_mode != "required",
        )

    def challenge(self, error: AuthError) -> str | None:
        """The ``WWW-Authenticate`` value of ``answer(error)``, for a framework that sends
        its own 401 with a challenge the library supplies (DRF's ``authenticate_header``)."""
        return challenge(
            error,
            self.settings.realm,
            self._metadata_url,
            dpop_algs=self._dpop_algs,
            bearer=self.dpop_mode != "required",
        )

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


def _verifier_for(settings: Settings) -> Verifier:
    """The JWT validator, or the introspection client in front of it when settings ask."""
    if settings.introspection == "off":
        return TokenValidator(settings)
    from audmw.introspection import IntrospectionVerifier

    return IntrospectionVerifier(settings)


def _replayed() -> InvalidDPoPProof:
    return InvalidDPoPProof(
        "dpop_replayed",
        hint="this proof (its jti) was used before; a client makes a new proof for every "
        "request, so the proof was captured and replayed",
    )
