"""``IntrospectionVerifier``: opaque tokens checked at the issuer's endpoint (RFC 7662).

A second ``Verifier`` beside the JWT ``TokenValidator``, behind the same interface: the
answer of the endpoint is checked with the very claim rules a JWT's claims pass (times with
the leeway, audience, required claims, scopes), after ``active``, ``iss`` and ``token_type``.
``Guard`` then honours ``cnf`` (DPoP, certificate binding) as for a JWT.

Answers are kept by the token's digest, never the token: an active one until ``exp`` but
at most ``introspection_cache_ttl`` (the revocation window), an inactive one for
``introspection_negative_ttl``. They live in the verified-token cache of the process and in
a ``SharedStore`` (memory, or Redis shared by every worker and host). However many requests
carry the same unknown token at once, one introspection request is in flight for it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import threading
import time
from collections.abc import Callable, Generator, Mapping, MutableMapping
from typing import Any, cast
from urllib.parse import urlencode

import httpx
from jwt.algorithms import get_default_algorithms

from audmw import diagnostics, jws
from audmw.cache import VerifiedTokens
from audmw.client import ClientAuthentication, ClientSecretBasic, ClientSecretPost, PrivateKeyJwt
from audmw.errors import (
    AuthError,
    ConfigurationError,
    IntrospectionUnavailable,
    InvalidToken,
    StoreUnavailable,
)
from audmw.keys import Fetched, FetchFailed, IssuerKeys, discovery_flow, endpoint_allowed
from audmw.observe import Introspection, Telemetry, note_cached, telemetry
from audmw.settings import HMAC_ALGORITHMS, IssuerIntrospection, Settings
from audmw.store import MemoryStore, RedisStore, SharedStore
from audmw.token import AccessToken
from audmw.validator import TokenValidator
from audmw.verifier import PendingToken
from audmw.watchdog import Watchdog

__all__ = [
    "IntrospectionEndpoint",
    "IntrospectionVerifier",
    "client_authentication",
    "introspected",
]

_RETRY_AFTER = 5
_ATTEMPTS = 2  # one retry after a failed connection or a 5xx
_STORE_PREFIX = b"introspection:"
_INACTIVE = b'{"active":false}'
_MAX_ANSWER_BYTES = 64 * 1024
_MEMORY_ENTRIES = 100_000
_JWT_ANSWER = "application/token-introspection+jwt"
_JWT_ANSWER_TYPES = frozenset({"token-introspection+jwt", _JWT_ANSWER})
_SIGNING_ALGORITHMS = get_default_algorithms()


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")  # two "active" or two "aud": never pick one
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_STRICT_JSON = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
# What the introspection flow asks its driver for: an HTTP request, or a key refresh.
_Step = httpx.Request | tuple[IssuerKeys, int]


class _Until:
    """A "key set" whose one key stays published until ``deadline``: ``VerifiedTokens`` drops
    an entry whose key is gone, so an introspected token leaves the cache at its deadline."""

    def __init__(self, deadline: float, clock: Callable[[], float]) -> None:
        self._deadline = deadline
        self._clock = clock

    @property
    def active(self) -> tuple[None, ...]:
        return (None,) if self._clock() < self._deadline else ()


def is_jwt(raw: bytes) -> bool:
    """Whether a token has the shape of a compact JWS or JWE (the JWT validator's business)."""
    return raw.count(b".") in (2, 4)


def client_authentication(target: IssuerIntrospection) -> ClientAuthentication:
    """How the API authenticates at ``target``'s endpoint, from its settings."""
    client_id = target.client_id
    assert client_id is not None  # Settings guarantees it
    where = f" for {target.issuer}"
    if target.client_auth == "private_key_jwt":
        if target.client_key is None:
            raise ConfigurationError(
                "audmw: introspection_client_auth private_key_jwt needs "
                f"introspection_client_key (a PEM private key, or its file){where}"
            )
        try:
            return PrivateKeyJwt(
                client_id, target.client_key, kid=target.client_key_id, alg=target.client_key_alg
            )
        except ValueError as error:
            raise ConfigurationError(f"audmw: introspection_client_key: {error}") from None
    if target.client_secret is None:
        raise ConfigurationError(
            f"audmw: introspection_client_secret is not set{where}: give it, set "
            "introspection_client_auth to private_key_jwt with introspection_client_key, or "
            "pass IntrospectionVerifier(settings, client_auth=...)"
        )
    if target.client_auth == "client_secret_post":
        return ClientSecretPost(client_id, target.client_secret)
    return ClientSecretBasic(client_id, target.client_secret)


class IntrospectionEndpoint:
    """One issuer's introspection endpoint, and how the API authenticates there."""

    def __init__(self, target: IssuerIntrospection, client_auth: ClientAuthentication) -> None:
        self.issuer = target.issuer
        self.endpoint: str | None = target.endpoint
        """The endpoint's URL: from the settings, else from the discovery document once read."""
        self.client_auth = client_auth
        self.token_prefix = target.token_prefix
        self.requests = 0
        """Introspection requests sent here (each attempt counts)."""

    def __repr__(self) -> str:
        return f"IntrospectionEndpoint({self.issuer!r}, endpoint={self.endpoint!r})"


class IntrospectionVerifier:
    """Checks opaque tokens (``introspection="opaque"``) or all tokens (``"all"``) at the
    introspection endpoint of the issuer they belong to; JWTs go to ``TokenValidator``
    otherwise.

    An opaque token goes to the one issuer that introspects, or to the one whose
    ``token_prefix`` it starts with; a JWT (``"all"``) to the issuer its ``iss`` names when
    that issuer introspects, else to the JWT validator. No token is ever sent elsewhere.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        client_auth: ClientAuthentication | Mapping[str, ClientAuthentication] | None = None,
        store: SharedStore | None = None,
        jwt_validator: TokenValidator | None = None,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if settings.introspection == "off":
            raise ValueError("settings.introspection is off")
        self.settings = settings
        self.jwt_validator = jwt_validator or TokenValidator(settings, clock=clock)
        self.cache: VerifiedTokens = self.jwt_validator.cache
        self.keys = self.jwt_validator.keys
        """The issuers' key sources (JWTs, signed answers), as ``TokenValidator.keys``."""
        self.max_token_bytes = settings.max_token_bytes
        targets = settings.introspection_targets
        given: Mapping[str, ClientAuthentication]
        if isinstance(client_auth, ClientAuthentication):
            if len(targets) != 1:
                raise ValueError("several issuers introspect: pass client_auth by issuer")
            given = {targets[0].issuer: client_auth}
        else:
            given = client_auth or {}
            strangers = set(given) - {target.issuer for target in targets}
            if strangers:
                raise ValueError(f"client_auth names issuers that do not introspect: {strangers}")
        self.endpoints: dict[str, IntrospectionEndpoint] = {
            target.issuer: IntrospectionEndpoint(
                target, given.get(target.issuer) or client_authentication(target)
            )
            for target in targets
        }
        """The introspected issuers' endpoints, by issuer."""
        self._by_prefix = tuple(
            ((target.token_prefix or "").encode("ascii"), self.endpoints[target.issuer])
            for target in targets
        )
        if store is None:
            url = settings.introspection_cache
            store = (
                MemoryStore(_MEMORY_ENTRIES)
                if url == "memory"
                else RedisStore(url, prefix="audmw:", timeout=settings.introspection_timeout)
            )
        self.store = store
        self.opaque_only = settings.introspection == "opaque"
        self._transport = transport
        self._async_transport = async_transport
        self._clock = clock
        self._timeout = settings.introspection_timeout
        self.telemetry: Telemetry | None = telemetry()
        """Where introspection requests are traced and measured, when OpenTelemetry is on."""
        self._lock = threading.Lock()
        self._in_flight: dict[bytes, concurrent.futures.Future[tuple[bytes, bool]]] = {}
        self._in_flight_async: dict[tuple[int, bytes], asyncio.Task[tuple[bytes, bool]]] = {}

    @property
    def first(self) -> IntrospectionEndpoint:
        """The first introspected issuer's endpoint (the only one, usually)."""
        return next(iter(self.endpoints.values()))

    @property
    def issuer(self) -> str:
        """The first introspected issuer."""
        return self.first.issuer

    @property
    def endpoint(self) -> str | None:
        """The first introspected issuer's endpoint, once known."""
        return self.first.endpoint

    @property
    def client_auth(self) -> ClientAuthentication:
        return self.first.client_auth

    @property
    def requests(self) -> int:
        """Introspection requests sent (each attempt counts), to every issuer."""
        return sum(endpoint.requests for endpoint in self.endpoints.values())

    def endpoint_for(self, raw: bytes) -> IntrospectionEndpoint | None:
        """Where ``raw`` is introspected; None when the JWT validator checks it instead.

        Raises the refusal of an opaque token that belongs to no introspected issuer: it is
        sent nowhere."""
        if raw.count(b".") == 2:  # a JWS: its iss says where it may go
            if self.opaque_only:
                return None
            try:
                iss = jws.parse(raw)[1].get("iss")
            except AuthError:
                return None  # malformed: the JWT validator says why
            return self.endpoints.get(iss) if isinstance(iss, str) else None
        if self.opaque_only and is_jwt(raw):
            return None  # a JWE: the JWT validator's business
        for prefix, endpoint in self._by_prefix:
            if raw.startswith(prefix):
                return endpoint
        raise InvalidToken(
            "opaque_issuer_unknown",
            hint="this opaque token starts with no token_prefix of introspection_issuers, so "
            "no issuer is known to have issued it; it was not sent anywhere",
        )

    # -- the Verifier interface -------------------------------------------------------------

    def verify(self, pending: PendingToken) -> AccessToken:
        target = self._target(pending)
        if target is None:
            return self.jwt_validator.verify(pending)
        try:
            entry, stored = self._answer(pending, target)
            if stored:
                note_cached()
            return self._accepted(pending, entry, target)
        except AuthError as error:
            diagnostics.log_refusal(error, pending.fingerprint)
            raise

    async def verify_async(self, pending: PendingToken) -> AccessToken:
        target = self._target(pending)
        if target is None:
            return await self.jwt_validator.verify_async(pending)
        try:
            entry, stored = await self._answer_async(pending, target)
            if stored:
                note_cached()
            return self._accepted(pending, entry, target)
        except AuthError as error:
            diagnostics.log_refusal(error, pending.fingerprint)
            raise

    def _target(self, pending: PendingToken) -> IntrospectionEndpoint | None:
        try:
            return self.endpoint_for(pending.raw)
        except AuthError as error:
            diagnostics.log_refusal(error, pending.fingerprint)
            raise

    # -- one request in flight per token ------------------------------------------------------

    def _answer(self, pending: PendingToken, target: IntrospectionEndpoint) -> tuple[bytes, bool]:
        """The cache entry of the token, and whether the introspection cache held it."""
        key = pending.key
        with self._lock:
            future = self._in_flight.get(key)
            leader = future is None
            if future is None:
                future = self._in_flight[key] = concurrent.futures.Future()
        if not leader:
            # The leader's request is bounded by the timeout and the retries.
            try:
                return future.result(timeout=self._timeout * (_ATTEMPTS + 1) + 5)
            except concurrent.futures.TimeoutError:
                raise _unreachable(target.endpoint or target.issuer, TimeoutError()) from None
        try:
            stored = self.store.get(_STORE_PREFIX + key)
            if stored is not None:
                answer = stored, True
            else:
                answer = self._remembered(pending, self._fetch(pending, target)), False
            future.set_result(answer)
            return answer
        except BaseException as error:
            future.set_exception(error)
            raise
        finally:
            with self._lock:
                self._in_flight.pop(key, None)

    async def _answer_async(
        self, pending: PendingToken, target: IntrospectionEndpoint
    ) -> tuple[bytes, bool]:
        loop = asyncio.get_running_loop()
        flight = (id(loop), pending.key)
        task = self._in_flight_async.get(flight)
        if task is None:
            # A task of its own: a request that goes away (client disconnect) cancels only
            # its wait, never the lookup the other requests wait for.
            task = loop.create_task(self._lookup_async(pending, target))
            self._in_flight_async[flight] = task
            task.add_done_callback(lambda done: self._landed(flight, done))
        return await asyncio.shield(task)

    def _landed(self, flight: tuple[int, bytes], task: asyncio.Task[tuple[bytes, bool]]) -> None:
        self._in_flight_async.pop(flight, None)
        if not task.cancelled():
            task.exception()  # retrieved: no warning when every waiter went away

    async def _lookup_async(
        self, pending: PendingToken, target: IntrospectionEndpoint
    ) -> tuple[bytes, bool]:
        stored = await self.store.get_async(_STORE_PREFIX + pending.key)
        if stored is not None:
            return stored, True
        fetched = await self._fetch_async(pending, target)
        return await self._remembered_async(pending, fetched), False

    # -- the checks ---------------------------------------------------------------------------

    def _accepted(
        self, pending: PendingToken, entry: bytes, target: IntrospectionEndpoint
    ) -> AccessToken:
        # An entry is "<deadline> <answer>": the deadline travels with the answer, so that a
        # worker reading it from the shared store never keeps it past the window it began.
        deadline_text, _, answer = entry.partition(b" ")
        try:
            deadline = float(deadline_text)
            token = introspected(self, answer, pending.key, target.issuer)
        except (ValueError, TypeError, RecursionError):  # not an entry this code wrote
            raise IntrospectionUnavailable(
                "introspection_cache_malformed",
                retry_after=_RETRY_AFTER,
                hint="an introspection cache entry cannot be read; is another program writing "
                "to the same store and prefix?",
            ) from None
        if self.cache.size:
            deadline = min(token.expires_at, deadline)
            self.cache.remember(pending.key, token, None, _Until(deadline, self._clock))
        return token

    def _entry(self, answer: bytes) -> tuple[bytes, float]:
        """The cache entry of a fresh answer and how long the store keeps it: never past
        ``exp``, at most the revocation window; an inactive answer briefly."""
        now = self._clock()
        exp = None
        if answer != _INACTIVE:
            exp = json.loads(answer).get("exp")
        if type(exp) not in (int, float):
            ttl = self.settings.introspection_negative_ttl
        else:
            assert exp is not None
            ttl = max(0.0, min(float(exp) - now, self.settings.introspection_cache_ttl))
        return b"%.3f " % (now + ttl) + answer, ttl

    def _remembered(self, pending: PendingToken, answer: bytes) -> bytes:
        entry, ttl = self._entry(answer)
        if ttl > 0:
            # The answer is known whether or not it could be kept: a full or unreachable
            # store only costs the next request a lookup (a full memory store must not turn
            # a flood of made-up tokens into 503s for everyone).
            with contextlib.suppress(StoreUnavailable):
                self.store.add(_STORE_PREFIX + pending.key, entry, ttl)
        return entry

    async def _remembered_async(self, pending: PendingToken, answer: bytes) -> bytes:
        entry, ttl = self._entry(answer)
        if ttl > 0:
            with contextlib.suppress(StoreUnavailable):
                await self.store.add_async(_STORE_PREFIX + pending.key, entry, ttl)
        return entry

    # -- the request --------------------------------------------------------------------------

    def _request(self, raw: bytes, target: IntrospectionEndpoint, endpoint: str) -> httpx.Request:
        form: MutableMapping[str, list[str]] = {
            "token": [raw.decode("ascii")],
            "token_type_hint": ["access_token"],
        }
        headers = {
            # RFC 9701: a signed answer when the server offers one for this client.
            "Accept": f"{_JWT_ANSWER}, application/json;q=0.9",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        target.client_auth.apply(form, headers, issuer=target.issuer, endpoint=endpoint)
        body = urlencode([(name, value) for name, values in form.items() for value in values])
        return httpx.Request("POST", endpoint, headers=headers, content=body.encode("ascii"))

    @staticmethod
    def _discovered(target: IntrospectionEndpoint, metadata: Mapping[str, Any]) -> str:
        endpoint = metadata.get("introspection_endpoint")
        if not isinstance(endpoint, str) or not endpoint_allowed(endpoint, target.issuer):
            raise IntrospectionUnavailable(
                "introspection_endpoint_unknown",
                retry_after=_RETRY_AFTER,
                hint=f"the discovery document of {target.issuer} names no usable "
                "introspection_endpoint; set introspection_endpoint",
            )
        target.endpoint = endpoint
        return endpoint

    def _flow(
        self, raw: bytes, target: IntrospectionEndpoint
    ) -> Generator[_Step, httpx.Response | Exception | None, bytes]:
        """The introspection of ``raw``, written once for both drivers: it yields the HTTP
        requests it needs (and is sent each response, read, or the transport's exception)
        and the issuer keys to refresh (sent None once they are); returns the answer."""
        endpoint = target.endpoint
        if endpoint is None:
            discovery = discovery_flow(target.issuer)
            try:
                request = next(discovery)
                while True:
                    response = yield request
                    if not isinstance(response, httpx.Response):
                        raise _unreachable(target.issuer, response or TimeoutError())
                    request = discovery.send(_fetched(response))
            except StopIteration as done:
                endpoint = self._discovered(target, done.value[0])
            except FetchFailed as error:
                raise _unreachable(target.issuer, error) from None
        for attempt in range(_ATTEMPTS):
            last = attempt + 1 == _ATTEMPTS
            target.requests += 1
            response = yield self._request(raw, target, endpoint)
            if not isinstance(response, httpx.Response):
                if last:
                    raise _unreachable(endpoint, response or TimeoutError())
                continue
            status = response.status_code
            if status >= 500 and not last:
                continue
            if status == 200 and _is_jwt_answer(response):
                signed = self._signed(target, endpoint, response.content, None)
                if isinstance(signed, tuple):
                    yield signed  # the driver refreshes the issuer's keys
                    signed = self._signed(target, endpoint, response.content, signed[0])
                return _parsed(endpoint, 200, cast(bytes, signed))
            return _parsed(endpoint, status, response.content)
        raise AssertionError("unreachable")  # pragma: no cover

    def _fetch(self, pending: PendingToken, target: IntrospectionEndpoint) -> bytes:
        watch = None if self.telemetry is None else self.telemetry.introspecting(target.issuer)
        try:
            answer = self._drive(self._flow(pending.raw, target), watch)
        except BaseException as error:
            if watch is not None:
                watch.done("failure", error)
            raise
        if watch is not None:
            watch.done(_result(answer))
        return answer

    def _drive(
        self,
        flow: Generator[_Step, httpx.Response | Exception | None, bytes],
        watch: Introspection | None,
    ) -> bytes:
        # Each exchange within the limit, connect to last byte: the watchdog shuts the
        # sockets down when an endpoint sends its headers a byte at a time.
        watchdog = Watchdog()
        with httpx.Client(transport=self._transport, timeout=self._timeout) as client:
            try:
                step = next(flow)
                while True:
                    sent: httpx.Response | Exception | None = None
                    if isinstance(step, tuple):
                        step[0].refresh(step[1])
                    else:
                        step.extensions["trace"] = watchdog.trace
                        try:
                            with contextlib.ExitStack() as spans:
                                answered = None
                                if watch is not None:
                                    answered = spans.enter_context(watch.request(step))
                                with watchdog.limit(self._timeout):
                                    sent = self._received(step, client.send(step, stream=True))
                                if answered is not None:
                                    answered(sent.status_code)
                        except (httpx.HTTPError, TimeoutError) as error:
                            sent = error
                    step = flow.send(sent)
            except StopIteration as done:
                answer: bytes = done.value
                return answer

    async def _fetch_async(self, pending: PendingToken, target: IntrospectionEndpoint) -> bytes:
        watch = None if self.telemetry is None else self.telemetry.introspecting(target.issuer)
        try:
            answer = await self._drive_async(self._flow(pending.raw, target), watch)
        except BaseException as error:
            if watch is not None:
                watch.done("failure", error)
            raise
        if watch is not None:
            watch.done(_result(answer))
        return answer

    async def _drive_async(
        self,
        flow: Generator[_Step, httpx.Response | Exception | None, bytes],
        watch: Introspection | None,
    ) -> bytes:
        async with httpx.AsyncClient(
            transport=self._async_transport, timeout=self._timeout
        ) as client:
            try:
                step = next(flow)
                while True:
                    sent: httpx.Response | Exception | None = None
                    if isinstance(step, tuple):
                        await step[0].refresh_async(step[1])
                    else:
                        try:
                            with contextlib.ExitStack() as spans:
                                answered = None
                                if watch is not None:
                                    answered = spans.enter_context(watch.request(step))
                                # The whole exchange within the limit, headers sent a byte at
                                # a time included.
                                sent = await asyncio.wait_for(
                                    self._exchange_async(client, step), self._timeout
                                )
                                if answered is not None:
                                    answered(sent.status_code)
                        except (httpx.HTTPError, TimeoutError, asyncio.TimeoutError) as error:
                            sent = error
                    step = flow.send(sent)
            except StopIteration as done:
                answer: bytes = done.value
                return answer

    def _received(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        """The response read within the time limit and the size cap: an endpoint sending
        its answer a byte at a time, or without end, cannot hold the request."""
        deadline = time.monotonic() + self._timeout
        body = bytearray()
        try:
            for chunk in response.iter_bytes():
                body += chunk
                _check_progress(request, body, deadline)
        finally:
            response.close()
        return _decoded(request, response, body)

    async def _exchange_async(
        self, client: httpx.AsyncClient, request: httpx.Request
    ) -> httpx.Response:
        return await self._received_async(request, await client.send(request, stream=True))

    async def _received_async(
        self, request: httpx.Request, response: httpx.Response
    ) -> httpx.Response:
        deadline = time.monotonic() + self._timeout
        body = bytearray()
        try:
            async for chunk in response.aiter_bytes():
                body += chunk
                _check_progress(request, body, deadline)
        finally:
            await response.aclose()
        return _decoded(request, response, body)

    def _signed(
        self,
        target: IntrospectionEndpoint,
        endpoint: str,
        body: bytes,
        refreshed: IssuerKeys | None,
    ) -> bytes | tuple[IssuerKeys, int]:
        """The JSON answer inside a signed one (RFC 9701), verified with the issuer's keys;
        or the keys (and their generation) to refresh first."""

        def refused(why: str) -> IntrospectionUnavailable:
            return IntrospectionUnavailable(
                "introspection_signature_invalid",
                retry_after=_RETRY_AFTER,
                hint=f"the signed answer of {endpoint} {why}",
            )

        try:
            header, claims, signing_input, signature = jws.parse(body.strip())
        except AuthError:
            raise refused("is not a compact JWS") from None
        typ, alg, kid = header.get("typ"), header.get("alg"), header.get("kid")
        if not isinstance(typ, str) or typ.lower() not in _JWT_ANSWER_TYPES:
            raise refused(f"has typ {diagnostics.shown(typ)}, not token-introspection+jwt")
        if (
            not isinstance(alg, str)
            or alg not in self.settings.algorithms
            or alg in HMAC_ALGORITHMS
            or alg not in _SIGNING_ALGORITHMS
        ):
            raise refused(f"uses alg {diagnostics.shown(alg)}, not an allowed one")
        if kid is not None and not isinstance(kid, str):
            raise refused("has a kid that is not a string")
        keys = self.jwt_validator.keys[target.issuer]
        candidates, kid_known = keys.candidates(kid, alg)
        if keys is not refreshed and keys.should_refresh(self._clock(), kid_known):
            return keys, keys.generation
        algorithm = _SIGNING_ALGORITHMS[alg]
        if not any(algorithm.verify(signing_input, key.key, signature) for key in candidates):
            raise refused("does not verify with the issuer's keys")
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if claims.get("iss") != target.issuer or target.client_auth.client_id not in audiences:
            raise refused("is not from the issuer to this API (iss, aud)")
        answer = claims.get("token_introspection")
        if not isinstance(answer, dict):
            raise refused("holds no token_introspection object")
        return json.dumps(answer).encode()


def _decoded(request: httpx.Request, response: httpx.Response, body: bytearray) -> httpx.Response:
    """The response with the body as read (already decoded: no Content-Encoding left)."""
    headers = [
        (name, value)
        for name, value in response.headers.multi_items()
        if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")
    ]
    return httpx.Response(
        response.status_code, headers=headers, content=bytes(body), request=request
    )


def _check_progress(request: httpx.Request, body: bytearray, deadline: float) -> None:
    if len(body) > _MAX_ANSWER_BYTES:
        raise IntrospectionUnavailable(
            "introspection_malformed",
            retry_after=_RETRY_AFTER,
            hint=f"the introspection endpoint {request.url} sent more than "
            f"{_MAX_ANSWER_BYTES // 1024} KiB",
        )
    if time.monotonic() > deadline:
        raise TimeoutError("the answer took longer than introspection_timeout")


def _result(answer: bytes) -> str:
    return "inactive" if answer == _INACTIVE else "active"


def _is_jwt_answer(response: httpx.Response) -> bool:
    kind: str = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind == _JWT_ANSWER


def introspected(
    verifier: IntrospectionVerifier, answer: bytes, digest: bytes, issuer: str | None = None
) -> AccessToken:
    """The ``AccessToken`` an introspection answer of ``issuer`` (by default the first
    introspected one) describes, or the refusal saying why not.

    ``answer`` is the JSON object as the endpoint sent it (``_parsed`` made sure it is one
    with an ``active`` member).
    """
    if issuer is None:
        issuer = verifier.issuer
    claims: dict[str, Any] = json.loads(answer)
    if claims.get("active") is not True:
        raise InvalidToken(
            "token_inactive",
            hint="the introspection endpoint says the token is not active (revoked, expired, "
            "or unknown to the issuer)",
        )
    del claims["active"]
    token_type = claims.get("token_type")
    if isinstance(token_type, str) and "refresh" in token_type.lower():
        raise InvalidToken("refresh_token", hint="this is a refresh token; send the access token")
    iss = claims.get("iss", issuer)
    if iss != issuer:
        raise InvalidToken(
            "iss_mismatch",
            hint=f"the introspection answer names issuer {diagnostics.shown(iss)}, not {issuer}",
        )
    claims["iss"] = iss
    return verifier.jwt_validator.check_claims(claims, iss, digest)


def _fetched(response: httpx.Response) -> Fetched:
    response.read()
    return Fetched(
        str(response.url),
        response.status_code,
        response.headers.get("cache-control", ""),
        response.content,
    )


def _unreachable(where: str, error: Exception) -> IntrospectionUnavailable:
    return IntrospectionUnavailable(
        "introspection_unavailable",
        retry_after=_RETRY_AFTER,
        hint=f"the introspection endpoint {where} cannot be reached ({type(error).__name__})",
    )


def _parsed(endpoint: str, status: int, body: bytes) -> bytes:
    """The answer, normalised to compact JSON, or a 503 refusal saying what went wrong."""
    if status in (400, 401, 403):
        raise IntrospectionUnavailable(
            "introspection_client_refused",
            retry_after=_RETRY_AFTER,
            hint=f"the introspection endpoint {endpoint} refuses the API's credentials "
            f"(HTTP {status}); check introspection_client_id and introspection_client_secret",
        )
    if status != 200:
        raise IntrospectionUnavailable(
            "introspection_failed",
            retry_after=_RETRY_AFTER,
            hint=f"the introspection endpoint {endpoint} answered HTTP {status}",
        )
    try:
        if len(body) > _MAX_ANSWER_BYTES:
            raise ValueError("too large")
        document = _STRICT_JSON.decode(body.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        document = None
    if not isinstance(document, dict) or "active" not in document:
        raise IntrospectionUnavailable(
            "introspection_malformed",
            retry_after=_RETRY_AFTER,
            hint=f"the introspection endpoint {endpoint} did not answer with a JSON object "
            "holding active",
        )
    if document["active"] is not True:
        return _INACTIVE  # nothing else of an inactive answer matters (RFC 7662 §2.2)
    return json.dumps(document, separators=(",", ":")).encode()
