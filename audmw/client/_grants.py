"""Token requests for a target API, and the ``httpx.Auth`` flow that presents the tokens.

Two flows are written once, free of I/O: ``_token_flow`` (discovery if needed, then the
token request; it yields ``httpx.Request`` objects and is sent their answers) and
``_api_flow`` (the API request, and one retry with a fresh token after a 401
``invalid_token``; it yields the API request, or ``NEED_TOKEN`` when it needs a token).
The blocking and async drivers below only send, read and lock.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import urlencode, urlsplit

import httpx

from audmw.client._authentication import (
    ClientAuthentication,
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
)
from audmw.client._dpop import DPoPPresentation
from audmw.client._errors import (
    TokenEndpointUnavailable,
    TokenRequestError,
    cleaned,
    hint_for,
    provider_of,
)
from audmw.client._presentation import BearerPresentation, Presentation
from audmw.client._subject import ACCESS_TOKEN_TYPE, SubjectToken
from audmw.keys import (
    Fetched,
    FetchFailed,
    discovery_flow,
    endpoint_allowed,
    shared_tls_context,
)

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - a name
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
logger = logging.getLogger("audmw.client")
_MAX_BODY = 64 * 1024
_LOCK_STRIPES = 64
_INVALID_TOKEN = re.compile(r"""\berror\s*=\s*"?invalid_token\b""", re.IGNORECASE)
_CHALLENGE_ERROR = re.compile(r"""\berror\s*=\s*"?([A-Za-z0-9_]{1,64})""", re.IGNORECASE)


@dataclass(frozen=True)
class IssuedToken:
    """A token from the token endpoint. Its repr shows the fingerprint, never the token."""

    access_token: str = field(repr=False)
    token_type: str
    expires_at: float
    scope: str | None = None
    issued_token_type: str | None = None
    fingerprint: str = ""
    issued_at: float = 0.0

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple((self.scope or "").split())


class TokenCache:
    """Issued tokens by (server, client, grant, target, scopes[, subject digest]).

    Thread-safe and bounded; a token is handed out until ``margin`` seconds before it expires.
    Share one between several grant objects to share their tokens.
    """

    def __init__(self, max_entries: int = 1024) -> None:
        self._entries: OrderedDict[tuple[Any, ...], IssuedToken] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def get(self, key: tuple[Any, ...], now: float, margin: float) -> IssuedToken | None:
        with self._lock:
            token = self._entries.get(key)
        if token is None or now >= token.expires_at - margin:
            return None
        return token

    def put(self, key: tuple[Any, ...], token: IssuedToken) -> None:
        with self._lock:
            self._entries[key] = token
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def discard(self, key: tuple[Any, ...], token: IssuedToken) -> None:
        """Forget ``token`` (refused by an API) unless another already replaced it."""
        with self._lock:
            if self._entries.get(key) is token:
                del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)


class _NeedToken(NamedTuple):
    stale: IssuedToken | None  # the token the API refused, if any


_Target = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]


def _strings(value: str | Iterable[str] | None, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = (value,) if isinstance(value, str) else tuple(value)
    for item in items:
        if not isinstance(item, str) or not item or any(ch.isspace() for ch in item):
            raise ValueError(f"{name} must be strings without spaces, got {item!r}")
    return items


def _scopes(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(value.split())
    return _strings(value, "scope")


def _resource(value: str | Iterable[str] | None) -> tuple[str, ...]:
    resources = _strings(value, "resource")
    for resource in resources:
        parts = urlsplit(resource)
        if not parts.scheme or not parts.netloc or parts.fragment or "#" in resource:
            raise ValueError(
                f"resource {resource!r} must be an absolute URI without a fragment (RFC 8707)"
            )
    return resources


def _client_authentication(
    client_id: str,
    client_secret: str | None,
    private_key: Any,
    auth_method: str | None,
    assertion_audience: str,
    kid: str | None,
    clock: Callable[[], float],
) -> ClientAuthentication:
    if (client_secret is None) == (private_key is None):
        raise ValueError("give exactly one of client_secret= and private_key=")
    if private_key is not None:
        if auth_method not in (None, "private_key_jwt"):
            raise ValueError(f"private_key= is for private_key_jwt, not {auth_method}")
        return PrivateKeyJwt(
            client_id, private_key, kid=kid, assertion_audience=assertion_audience, clock=clock
        )
    assert client_secret is not None
    if auth_method in (None, "client_secret_basic"):
        return ClientSecretBasic(client_id, client_secret)
    if auth_method == "client_secret_post":
        return ClientSecretPost(client_id, client_secret)
    raise ValueError(
        f"auth_method {auth_method!r}: choose client_secret_basic, client_secret_post or "
        "private_key_jwt"
    )


class _Grant:
    """What every grant shares: the server, the client, the target, the cache and the drivers."""

    grant_type = ""

    def __init__(
        self,
        *,
        issuer: str | None = None,
        token_url: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        private_key: Any = None,
        auth_method: str | None = None,
        client_auth: ClientAuthentication | None = None,
        assertion_audience: str = "issuer",
        kid: str | None = None,
        audience: str | Iterable[str] | None = None,
        resource: str | Iterable[str] | None = None,
        scope: str | Iterable[str] | None = None,
        expiry_margin: float = 30.0,
        default_lifetime: float = 60.0,
        timeout: float = 10.0,
        cache: TokenCache | None = None,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        presentation: Presentation | None = None,
        dpop: bool | Any = False,
    ) -> None:
        if issuer is None and token_url is None:
            raise ValueError("give issuer= (discovery finds the token endpoint) or token_url=")
        for name, url in (("issuer", issuer), ("token_url", token_url)):
            if url is not None and not _secure(url):
                raise ValueError(
                    f"{name} must be an https URL (plain http only on this machine: localhost, "
                    f"127.0.0.1, ::1), got {url!r}"
                )
        if client_auth is None:
            if client_id is None:
                raise ValueError("give client_id=")
            client_auth = _client_authentication(
                client_id, client_secret, private_key, auth_method, assertion_audience, kid, clock
            )
        if isinstance(client_auth, PrivateKeyJwt):
            client_auth.audience_for(issuer, token_url or "")  # fails now, not at first use
        if expiry_margin < 0:
            raise ValueError("expiry_margin must not be negative")
        self.issuer = issuer
        self.token_url = token_url
        self.client_auth = client_auth
        self.client_id = client_auth.client_id
        self.audience = _strings(audience, "audience")
        self.resource = _resource(resource)
        self.scope = _scopes(scope)
        self.expiry_margin = expiry_margin
        self.default_lifetime = default_lifetime
        self.timeout = timeout
        self.cache = cache if cache is not None else TokenCache()
        if dpop is not False and dpop is not None:
            if presentation is not None:
                raise ValueError("give dpop= or presentation=, not both")
            if isinstance(dpop, DPoPPresentation):
                presentation = dpop
            else:
                presentation = DPoPPresentation(None if dpop is True else dpop, clock=clock)
        self.presentation: Presentation = presentation or BearerPresentation()
        self.requests = 0  # token requests sent
        self._clock = clock
        self._transport = transport
        self._async_transport = async_transport
        self._discovered: str | None = None
        self._thread_locks = [threading.Lock() for _ in range(_LOCK_STRIPES)]
        self._loop_locks: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, list[asyncio.Lock]
        ] = weakref.WeakKeyDictionary()

    def __repr__(self) -> str:
        server = self.issuer or self.token_url
        return (
            f"{type(self).__name__}(server={server!r}, client_id={self.client_id!r}, "
            f"auth_method={self.client_auth.method!r}, audience={list(self.audience)!r}, "
            f"resource={list(self.resource)!r}, scope={' '.join(self.scope)!r})"
        )

    # -- what is asked, and under which key it is cached -------------------------------------

    def _target_form(self) -> dict[str, list[str]]:
        form: dict[str, list[str]] = {}
        if self.audience:
            form["audience"] = list(self.audience)
        if self.resource:
            form["resource"] = list(self.resource)
        if self.scope:
            form["scope"] = [" ".join(self.scope)]
        return form

    def _grant_form(self, subject: SubjectToken | None) -> dict[str, list[str]]:
        raise NotImplementedError

    def _key(self, subject: SubjectToken | None) -> tuple[Any, ...]:
        return (
            self.issuer or self.token_url,
            self.client_id,
            self.grant_type,
            tuple(sorted(self.audience)),
            tuple(sorted(self.resource)),
            tuple(sorted(self.scope)),
            subject.digest if subject is not None else None,
            # A bearer token and tokens bound to different keys never share an entry.
            getattr(self.presentation, "binding", type(self.presentation).__name__),
        )

    def _secrets(self, subject: SubjectToken | None) -> list[str]:
        hidden = list(self.client_auth.secrets())
        if subject is not None:
            hidden.append(subject.value)
        return hidden

    # -- the token flow, written once ------------------------------------------------------

    def _endpoint_flow(self) -> Generator[httpx.Request, Fetched, str]:
        if self.token_url is not None:
            return self.token_url
        if self._discovered is not None:
            return self._discovered
        assert self.issuer is not None
        try:
            metadata, url = yield from discovery_flow(self.issuer)
        except FetchFailed as exc:
            raise TokenEndpointUnavailable(str(exc), token_url=self.issuer) from None
        endpoint = metadata.get("token_endpoint")
        if not isinstance(endpoint, str) or not endpoint_allowed(endpoint, self.issuer):
            raise TokenEndpointUnavailable(
                f"discovery document {url} names no https token_endpoint", token_url=self.issuer
            )
        self._discovered = endpoint
        return endpoint

    def _token_request(self, endpoint: str, subject: SubjectToken | None) -> httpx.Request:
        # Built afresh for a retry too: a client assertion and a proof are used once.
        form = {"grant_type": [self.grant_type], **self._grant_form(subject)}
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        self.client_auth.apply(form, headers, issuer=self.issuer, endpoint=endpoint)
        request = httpx.Request(
            "POST", endpoint, headers=headers, content=urlencode(form, doseq=True)
        )
        self.presentation.prepare_token_request(request)
        self.requests += 1
        return request

    def _answered(
        self, request: httpx.Request, status: int, headers: Mapping[str, str], error: str | None
    ) -> bool:
        answered = getattr(self.presentation, "answered", None)
        return bool(answered(request, status, headers, error)) if answered is not None else False

    def _token_flow(
        self, subject: SubjectToken | None
    ) -> Generator[httpx.Request, Fetched, IssuedToken]:
        endpoint = yield from self._endpoint_flow()
        request = self._token_request(endpoint, subject)
        response = yield request
        if self._answered(request, response.status, response.headers, _oauth_error(response)):
            # use_dpop_nonce (RFC 9449 §8): once more with the server's nonce, never again.
            logger.info("audmw: %s asks for a DPoP nonce; one retry with it", endpoint)
            request = self._token_request(endpoint, subject)
            response = yield request
            self._answered(request, response.status, response.headers, None)
        issued = self._issued(response, endpoint, subject)
        logger.debug(
            "audmw: token %s from %s for client %s, %s, expires in %d s",
            issued.fingerprint,
            endpoint,
            self.client_id,
            self._target_text(),
            issued.expires_at - issued.issued_at,
        )
        return issued

    def _target_text(self) -> str:
        asked = [f"audience={value}" for value in self.audience]
        asked += [f"resource={value}" for value in self.resource]
        if self.scope:
            asked.append("scope=" + " ".join(self.scope))
        return ", ".join(asked) or "no target"

    def _issued(
        self, response: Fetched, endpoint: str, subject: SubjectToken | None
    ) -> IssuedToken:
        try:
            document = json.loads(response.body)
        except (ValueError, RecursionError):
            document = None
        if response.status != 200:
            if isinstance(document, dict) and isinstance(document.get("error"), str):
                self._refused(document, response.status, endpoint, subject)
            raise TokenEndpointUnavailable(
                f"HTTP {response.status} without an OAuth error",
                token_url=endpoint,
                status=response.status,
            )
        if not isinstance(document, dict):
            raise TokenEndpointUnavailable("the answer is not a JSON object", token_url=endpoint)
        token, token_type = document.get("access_token"), document.get("token_type")
        if not isinstance(token, str) or not token or not isinstance(token_type, str):
            raise TokenEndpointUnavailable(
                "the answer has no access_token and token_type", token_url=endpoint
            )
        if token_type.lower() not in self.presentation.token_types:
            unbound = " (the server did not bind it to the DPoP key: does it offer DPoP?)"
            raise TokenEndpointUnavailable(
                f"token_type {cleaned(token_type, ())} is not supported here"
                + (unbound if "dpop" in self.presentation.token_types else ""),
                token_url=endpoint,
            )
        lifetime = document.get("expires_in", self.default_lifetime)
        if isinstance(lifetime, str) and lifetime.isdigit():
            lifetime = int(lifetime)  # some servers send a string
        if isinstance(lifetime, bool) or not isinstance(lifetime, (int, float)) or lifetime <= 0:
            raise TokenEndpointUnavailable(
                "expires_in is not a positive number", token_url=endpoint
            )
        scope, issued_type = document.get("scope"), document.get("issued_token_type")
        now = self._clock()
        return IssuedToken(
            token,
            token_type,
            now + float(lifetime),
            scope if isinstance(scope, str) else None,
            issued_type if isinstance(issued_type, str) else None,
            hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()[:16],
            now,
        )

    def _refused(
        self,
        document: Mapping[str, Any],
        status: int,
        endpoint: str,
        subject: SubjectToken | None,
    ) -> None:
        hidden = self._secrets(subject)
        error = cleaned(document["error"], hidden)
        description = cleaned(document.get("error_description"), hidden)
        hint = hint_for(
            error,
            description,
            provider_of(self.issuer or endpoint),
            grant=self.grant_type,
            auth_method=self.client_auth.method,
        )
        raise TokenRequestError(error, description, status=status, token_url=endpoint, hint=hint)

    def _cached(self, key: tuple[Any, ...], stale: IssuedToken | None) -> IssuedToken | None:
        now = self._clock()
        token = self.cache.get(key, now, 0.0)
        if token is None or token is stale:
            return None
        # A token living less than twice the margin is still used for the first half of it.
        margin = min(self.expiry_margin, (token.expires_at - token.issued_at) / 2)
        return token if now < token.expires_at - margin else None

    # -- blocking driver -----------------------------------------------------------------

    def _obtain(self, subject: SubjectToken | None, stale: IssuedToken | None) -> IssuedToken:
        key = self._key(subject)
        token = self._cached(key, stale)
        if token is not None:
            return token
        with self._thread_locks[hash(key) % _LOCK_STRIPES]:
            if stale is not None:
                self.cache.discard(key, stale)
            token = self._cached(key, stale)  # fetched meanwhile by the holder of the lock
            if token is not None:
                return token
            flow = self._token_flow(subject)
            try:
                with httpx.Client(
                    timeout=self.timeout, transport=self._transport, verify=shared_tls_context()
                ) as client:
                    request = next(flow)
                    while True:
                        request = flow.send(self._send(client, request))
            except StopIteration as done:
                token = _issued_token(done.value)
            except httpx.HTTPError as exc:
                raise self._unreachable(exc) from None
            self.cache.put(key, token)
            return token

    def _send(self, client: httpx.Client, request: httpx.Request) -> Fetched:
        with client.stream(
            request.method, request.url, headers=request.headers, content=request.content
        ) as response:
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > _MAX_BODY:
                    raise httpx.DecodingError(f"answer larger than {_MAX_BODY} bytes")
            return Fetched(
                str(request.url), response.status_code, "", bytes(body), response.headers
            )

    # -- async driver --------------------------------------------------------------------

    async def _obtain_async(
        self, subject: SubjectToken | None, stale: IssuedToken | None
    ) -> IssuedToken:
        key = self._key(subject)
        token = self._cached(key, stale)
        if token is not None:
            return token
        loop = asyncio.get_running_loop()
        locks = self._loop_locks.get(loop)
        if locks is None:
            locks = self._loop_locks.setdefault(
                loop, [asyncio.Lock() for _ in range(_LOCK_STRIPES)]
            )
        async with locks[hash(key) % _LOCK_STRIPES]:
            if stale is not None:
                self.cache.discard(key, stale)
            token = self._cached(key, stale)
            if token is not None:
                return token
            flow = self._token_flow(subject)
            try:
                async with httpx.AsyncClient(
                    timeout=self.timeout,
                    transport=self._async_transport,
                    verify=shared_tls_context(),
                ) as client:
                    request = next(flow)
                    while True:
                        request = flow.send(await self._send_async(client, request))
            except StopIteration as done:
                token = _issued_token(done.value)
            except httpx.HTTPError as exc:
                raise self._unreachable(exc) from None
            self.cache.put(key, token)
            return token

    async def _send_async(self, client: httpx.AsyncClient, request: httpx.Request) -> Fetched:
        async with client.stream(
            request.method, request.url, headers=request.headers, content=request.content
        ) as response:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > _MAX_BODY:
                    raise httpx.DecodingError(f"answer larger than {_MAX_BODY} bytes")
            return Fetched(
                str(request.url), response.status_code, "", bytes(body), response.headers
            )

    def _unreachable(self, exc: httpx.HTTPError) -> TokenEndpointUnavailable:
        where = self.token_url or self._discovered or self.issuer or ""
        return TokenEndpointUnavailable(f"{type(exc).__name__}: {exc}", token_url=where)

    # -- the API request flow, written once ------------------------------------------------

    def _api_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request | _NeedToken, httpx.Response | IssuedToken, None]:
        token = yield _NeedToken(None)
        assert isinstance(token, IssuedToken)
        self.presentation.present(request, token)
        response = yield request
        assert isinstance(response, httpx.Response)
        if self._answered(request, response.status_code, response.headers, _challenge(response)):
            # use_dpop_nonce (RFC 9449 §9): once more with the API's nonce, never again.
            logger.info(
                "audmw: %s%s asks for a DPoP nonce; one retry with it",
                request.url.host,
                request.url.path,
            )
            self.presentation.present(request, token)
            response = yield request
            assert isinstance(response, httpx.Response)
            self._answered(request, response.status_code, response.headers, None)
        if not _invalid_token(response):
            return
        # The API says the token is no good (revoked, keys rotated...): one fresh token, one
        # retry; a second refusal is the caller's answer, never a loop.
        logger.info(
            "audmw: %s%s refused token %s (invalid_token); one retry with a fresh one",
            request.url.host,
            request.url.path,
            token.fingerprint,
        )
        fresh = yield _NeedToken(token)
        assert isinstance(fresh, IssuedToken)
        if fresh.access_token == token.access_token:
            return
        self.presentation.present(request, fresh)
        response = yield request
        assert isinstance(response, httpx.Response)
        self._answered(request, response.status_code, response.headers, None)

    def _sync_flow(
        self, request: httpx.Request, subject: SubjectToken | None
    ) -> Generator[httpx.Request, httpx.Response, None]:
        request.read()  # so that the retry can send the body again
        flow = self._api_flow(request)
        answer: httpx.Response | IssuedToken | None = None
        while True:
            try:
                step = flow.send(answer) if answer is not None else next(flow)
            except StopIteration:
                return
            if isinstance(step, _NeedToken):
                answer = self._obtain(subject, step.stale)
            else:
                answer = yield step

    async def _async_flow(
        self, request: httpx.Request, subject: SubjectToken | None
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await request.aread()
        flow = self._api_flow(request)
        answer: httpx.Response | IssuedToken | None = None
        while True:
            try:
                step = flow.send(answer) if answer is not None else next(flow)
            except StopIteration:
                return
            if isinstance(step, _NeedToken):
                answer = await self._obtain_async(subject, step.stale)
            else:
                answer = yield step


def _secure(url: str) -> bool:
    """https, or http to this machine only: a client secret never crosses a network in clear."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return bool(parts.hostname)
    return parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1", "::1")


def _invalid_token(response: httpx.Response) -> bool:
    if response.status_code != 401:
        return False
    return any(
        value.strip().lower().startswith(("bearer", "dpop")) and _INVALID_TOKEN.search(value)
        for value in response.headers.get_list("www-authenticate")
    )


def _challenge(response: httpx.Response) -> str | None:
    """The ``error`` of the answer's challenges; ``use_dpop_nonce`` first when it is one."""
    if response.status_code != 401:
        return None
    errors = [
        match.group(1).lower()
        for value in response.headers.get_list("www-authenticate")
        for match in _CHALLENGE_ERROR.finditer(value)
    ]
    if "use_dpop_nonce" in errors:
        return "use_dpop_nonce"
    return errors[0] if errors else None


def _oauth_error(response: Fetched) -> str | None:
    """The ``error`` of a token endpoint's refusal (RFC 6749 §5.2), if it is one."""
    if response.status == 200:
        return None
    try:
        document = json.loads(response.body)
    except (ValueError, RecursionError):
        return None
    error = document.get("error") if isinstance(document, dict) else None
    return error if isinstance(error, str) else None


class ClientCredentials(_Grant, httpx.Auth):
    """``httpx.Auth`` sending a client-credentials token requested for the target API.

    One object serves ``httpx.Client`` and ``httpx.AsyncClient`` alike; tokens are cached per
    (server, client, target, scopes) and requested once however many requests wait for one.
    ``dpop=True`` (or a private key) asks for DPoP-bound tokens and sends them with proofs.
    """

    grant_type = "client_credentials"

    def _grant_form(self, subject: SubjectToken | None) -> dict[str, list[str]]:
        return self._target_form()

    def token(self) -> IssuedToken:
        """The current token (cached, or requested now)."""
        return self._obtain(None, None)

    async def token_async(self) -> IssuedToken:
        return await self._obtain_async(None, None)

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        return self._sync_flow(request, None)

    def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        return self._async_flow(request, None)


class _Exchanging(_Grant):
    """A grant that trades a subject token for one aimed at the target API."""

    def for_subject(self, subject: SubjectToken | str) -> httpx.Auth:
        """``httpx.Auth`` sending the token obtained for ``subject`` (never ``subject`` itself)."""
        return _SubjectAuth(self, _subject(subject))

    def token(self, subject: SubjectToken | str) -> IssuedToken:
        return self._obtain(_subject(subject), None)

    async def token_async(self, subject: SubjectToken | str) -> IssuedToken:
        return await self._obtain_async(_subject(subject), None)

    def _issued(
        self, response: Fetched, endpoint: str, subject: SubjectToken | None
    ) -> IssuedToken:
        issued = super()._issued(response, endpoint, subject)
        if subject is not None and issued.access_token == subject.value:
            # Passing the incoming token on is what the exchange exists to prevent.
            raise TokenEndpointUnavailable(
                "the server answered with the incoming token itself; it is not sent on",
                token_url=endpoint,
            )
        return issued


class TokenExchange(_Exchanging):
    """RFC 8693 token exchange: the request's verified token for one aimed at a downstream
    API (``audience=``, ``resource=``, ``scope=``), cached per subject token (by digest)."""

    grant_type = TOKEN_EXCHANGE

    def __init__(
        self,
        *,
        requested_token_type: str = ACCESS_TOKEN_TYPE,
        actor_token: SubjectToken | str | None = None,
        actor_token_type: str = ACCESS_TOKEN_TYPE,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.requested_token_type = requested_token_type
        self._actor = _subject(actor_token) if actor_token is not None else None
        self.actor_token_type = actor_token_type

    def _grant_form(self, subject: SubjectToken | None) -> dict[str, list[str]]:
        assert subject is not None
        form = {
            "subject_token": [subject.value],
            "subject_token_type": [subject.token_type],
            "requested_token_type": [self.requested_token_type],
            **self._target_form(),
        }
        if self._actor is not None:
            form["actor_token"] = [self._actor.value]
            form["actor_token_type"] = [self.actor_token_type]
        return form

    def _key(self, subject: SubjectToken | None) -> tuple[Any, ...]:
        actor = self._actor.digest if self._actor is not None else None
        return (*super()._key(subject), self.requested_token_type, actor)

    def _secrets(self, subject: SubjectToken | None) -> list[str]:
        actor = [self._actor.value] if self._actor is not None else []
        return [*super()._secrets(subject), *actor]


class OnBehalfOf(_Exchanging):
    """Microsoft Entra on-behalf-of: the user's token (``assertion``) for one to call a
    downstream API as that user; ``scope=api://<app>/<permission>`` or ``.../.default``."""

    grant_type = JWT_BEARER

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if not self.scope:
            raise ValueError("on-behalf-of needs scope=, e.g. api://<downstream app>/.default")

    def _grant_form(self, subject: SubjectToken | None) -> dict[str, list[str]]:
        assert subject is not None
        return {
            "assertion": [subject.value],
            "requested_token_use": ["on_behalf_of"],
            **self._target_form(),
        }


class _SubjectAuth(httpx.Auth):
    """The ``httpx.Auth`` of one subject token, sharing its grant's cache and locks."""

    def __init__(self, grant: _Grant, subject: SubjectToken) -> None:
        self._grant = grant
        self._subject = subject

    def __repr__(self) -> str:
        return f"{self._grant!r}.for_subject({self._subject!r})"

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        return self._grant._sync_flow(request, self._subject)

    def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        return self._grant._async_flow(request, self._subject)


def _subject(value: SubjectToken | str) -> SubjectToken:
    return value if isinstance(value, SubjectToken) else SubjectToken(value)


def _issued_token(value: object) -> IssuedToken:
    assert isinstance(value, IssuedToken)
    return value
