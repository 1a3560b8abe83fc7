"""An issuer's signing keys: discovery, JWKS fetching, filtering and caching.

The fetching logic is written once, as a generator that yields ``httpx.Request`` objects and
receives responses (the shape of httpx's ``Auth`` flow); ``refresh`` drives it with a blocking
``httpx.Client`` under a thread lock, ``refresh_async`` with ``httpx.AsyncClient`` under an
asyncio lock of the running loop. Either way, one fetch is in flight per issuer, and the
callers that waited for it use its result instead of fetching again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import ssl
import threading
import time
import weakref
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

import httpx
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from audmw.settings import Settings
from audmw.watchdog import Watchdog
from audmw.weak_keys import WeakKeyError, rsa_jwk_weakness

if TYPE_CHECKING:
    from audmw.observe import KeyFetch, Telemetry

_Candidates = tuple[tuple["VerificationKey", ...], bool]
_UNKNOWN_KID: _Candidates = ((), False)

logger = logging.getLogger("audmw")

MIN_RSA_BITS = 2048
MIN_TTL, MAX_TTL = 60.0, 86_400.0
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)")

# Which key may verify which algorithm (RFC 7518 §3, RFC 8037).
ALG_KEY_TYPES: dict[str, tuple[str, frozenset[str | None]]] = {
    **{
        a: ("RSA", frozenset({None}))
        for a in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
    },
    "ES256": ("EC", frozenset({"P-256"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
    # RFC 9864: fully specified, each names its curve.
    "Ed25519": ("OKP", frozenset({"Ed25519"})),
    "Ed448": ("OKP", frozenset({"Ed448"})),
}


class FetchFailed(Exception):
    """A discovery or JWKS fetch failed; the message is for the operator's log."""


# What a fetch may raise for a bad issuer answer: never a 500. httpx.InvalidURL (a malformed
# jwks_uri) is not an httpx.HTTPError; RecursionError is JSON nested past the limit.
_FETCH_ERRORS = (FetchFailed, httpx.HTTPError, httpx.InvalidURL, ValueError, RecursionError)


class Fetched(NamedTuple):
    url: str
    status: int
    cache_control: str
    body: bytes
    # The answer's headers, for a caller that needs more than cache-control (a token
    # endpoint's DPoP-Nonce); key fetches leave it empty.
    headers: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, eq=False)
class VerificationKey:
    """One public key from a JWKS, with what it may be used for."""

    kid: str | None
    kty: str
    crv: str | None
    alg: str | None
    key: Any
    # The issuer the JWKS binds this key to, if any (Entra ID: may contain {tenantid}).
    issuer: str | None = None

    def fits(self, alg: str) -> bool:
        kty, curves = ALG_KEY_TYPES[alg]
        return self.kty == kty and self.crv in curves and (self.alg is None or self.alg == alg)


def _load_key(jwk: dict[str, Any]) -> VerificationKey:
    """One JWK as a public key object, or ValueError saying why it is unusable."""
    kty = jwk.get("kty")
    use = jwk.get("use")
    if use is not None and use != "sig":
        raise ValueError(f"use is {use!r}, not 'sig'")
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        raise ValueError("key_ops does not allow 'verify'")
    if _PRIVATE_MEMBERS & jwk.keys():
        raise ValueError("it holds private or symmetric key material")
    kid, alg, crv = jwk.get("kid"), jwk.get("alg"), jwk.get("crv")
    if kid is not None and not isinstance(kid, str):
        raise ValueError("kid is not a string")
    if alg is not None and (not isinstance(alg, str) or alg not in ALG_KEY_TYPES):
        raise ValueError(f"alg {alg!r} is not an asymmetric signature algorithm")
    key: Any
    try:
        if kty == "RSA":
            weakness = rsa_jwk_weakness(jwk)
            if weakness is not None:
                raise WeakKeyError(weakness)
            key = RSAAlgorithm.from_jwk(jwk)
            if key.key_size < MIN_RSA_BITS:
                raise ValueError(f"RSA key of {key.key_size} bits (< {MIN_RSA_BITS})")
            crv = None
        elif kty == "EC":
            if crv not in ("P-256", "P-384", "P-521"):
                raise ValueError(f"unsupported curve {crv!r}")
            key = ECAlgorithm.from_jwk(jwk)
        elif kty == "OKP":
            if crv not in ("Ed25519", "Ed448"):
                raise ValueError(f"unsupported curve {crv!r}")
            key = OKPAlgorithm.from_jwk(jwk)
        else:
            raise ValueError(f"kty {kty!r} is not used for signatures here")
    except ValueError:
        raise
    except Exception as exc:  # PyJWT's InvalidKeyError and cryptography's errors
        raise ValueError(f"malformed key ({type(exc).__name__})") from None
    issuer = jwk.get("issuer")
    if issuer is not None and not isinstance(issuer, str):
        raise ValueError("issuer is not a string")
    return VerificationKey(kid, str(kty), crv, alg, key, issuer)


def _by_kid(keys: Iterable[VerificationKey]) -> dict[str | None, tuple[VerificationKey, ...]]:
    """The keys of a set by ``kid``; ``None`` (a token without a kid) maps to every key."""
    index: dict[str | None, list[VerificationKey]] = {}
    every: list[VerificationKey] = []
    for key in keys:
        every.append(key)
        if key.kid is not None:
            index.setdefault(key.kid, []).append(key)
    found = {kid: tuple(matching) for kid, matching in index.items()}
    if every:
        found[None] = tuple(every)
    return found


_tls_context: ssl.SSLContext | None = None


def _tls() -> ssl.SSLContext:
    """One TLS context for every fetch: building one loads the CA bundle (tens of ms of CPU)."""
    global _tls_context
    if _tls_context is None:
        _tls_context = httpx.create_ssl_context()
    return _tls_context


def shared_tls_context() -> ssl.SSLContext:
    """The TLS context every fetch of the library uses (the CA bundle is loaded once)."""
    return _tls()


def discovery_urls(issuer: str) -> tuple[str, str]:
    """OpenID Connect Discovery first, then RFC 8414 (well-known inserted before the path)."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    oidc = urlunsplit(
        (parts.scheme, parts.netloc, path + "/.well-known/openid-configuration", "", "")
    )
    oauth = urlunsplit(
        (parts.scheme, parts.netloc, "/.well-known/oauth-authorization-server" + path, "", "")
    )
    return oidc, oauth


def endpoint_allowed(url: str, issuer: str) -> bool:
    """Whether an endpoint named by ``issuer``'s metadata may be used: https, or plain http
    only for an issuer that is itself plain http (a local development issuer)."""
    scheme = urlsplit(url).scheme
    return scheme == "https" or scheme == urlsplit(issuer).scheme == "http"


def discovery_flow(issuer: str) -> Generator[httpx.Request, Fetched, tuple[dict[str, Any], str]]:
    """The authorization server metadata of ``issuer`` and the URL it came from.

    Written as a flow (it yields the requests it needs and is sent their ``Fetched``
    answers) so that any driver, blocking or async, can run it. OpenID Connect Discovery is
    tried first, then RFC 8414; a document naming another issuer is never used (RFC 8414
    §3.3). Raises ``FetchFailed`` saying why none could be used.
    """
    problems = []
    for url in discovery_urls(issuer):
        response = yield httpx.Request("GET", url, headers={"Accept": "application/json"})
        try:
            metadata = _json(response, "discovery document")
        except FetchFailed as exc:
            problems.append(str(exc))
            continue
        if metadata.get("issuer") != issuer:
            raise FetchFailed(
                f"discovery document {url} names issuer {metadata.get('issuer')!r}, not the "
                f"configured {issuer!r}; set the issuer exactly as the provider states it"
            )
        return metadata, url
    raise FetchFailed("; ".join(problems))


def _ttl(response: Fetched, default: float) -> float:
    match = _MAX_AGE.search(response.cache_control)
    if match is None:
        return default
    return min(max(float(match.group(1)), MIN_TTL), MAX_TTL)


def _json(response: Fetched, what: str) -> dict[str, Any]:
    if response.status != 200:
        raise FetchFailed(f"{what} {response.url} answered HTTP {response.status}")
    try:
        document = json.loads(response.body)
    except (ValueError, RecursionError):  # RecursionError: nested past the recursion limit
        raise FetchFailed(f"{what} {response.url} is not JSON") from None
    if not isinstance(document, dict):
        raise FetchFailed(f"{what} {response.url} is not a JSON object")
    return document


class IssuerKeys:
    """The cached key set of one issuer (or of one configured ``jwks_uri``)."""

    observer: Telemetry | None = None
    """Where fetches are traced and measured (``audmw.observe``), when OpenTelemetry is on."""
    fetched_at: float | None = None
    """When the key set in use was fetched (the validator's clock)."""
    last_error: str | None = None
    """Why the last fetch failed, for the operator; None once one succeeds."""
    last_error_type: str | None = None

    def __init__(
        self,
        issuer: str,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer
        self.jwks_uri: str | None = settings.jwks_uri
        self._settings = settings
        # The validator's clock: expiry, cooldown and retry times are compared against it.
        self._clock = clock
        self._transport = transport
        self._async_transport = async_transport
        # Built here, at start-up, so that no fetch (in an event loop) pays for it.
        self._verify = _tls()
        self.keys: tuple[VerificationKey, ...] = ()
        # A key set and what ``candidates`` answered for it, by (kid, alg).
        self._candidates: tuple[
            tuple[VerificationKey, ...],
            dict[str | None, tuple[VerificationKey, ...]],
            dict[tuple[str | None, str], _Candidates],
        ] = ((), {}, {})
        self.active: frozenset[VerificationKey] = frozenset()
        self._by_source: dict[str, VerificationKey] = {}
        self.loaded = False
        self.expires_at = 0.0
        self.last_attempt = float("-inf")
        self.failed_at: float | None = None
        self.generation = 0
        self.fetches = 0
        self.fetching = 0  # fetches under way now (a sync and an async one may overlap)
        self._thread_lock = threading.Lock()
        self._loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    # -- decisions (no I/O) -------------------------------------------------------------

    def candidates(self, kid: str | None, alg: str) -> tuple[tuple[VerificationKey, ...], bool]:
        """Keys that may verify a token with this ``kid``/``alg``, and whether the kid is known."""
        keys = self.keys  # one look: a refresh in another thread may replace the set meanwhile
        of, by_kid, memo = self._candidates
        if of is not keys:
            by_kid, memo = _by_kid(keys), {}
            self._candidates = (keys, by_kid, memo)  # the set and its answers, swapped as one
        found = memo.get((kid, alg))
        if found is not None:
            return found
        # Kids are looked up in a dict: the cost stays flat however many keys the set holds.
        # Only answers about published kids are remembered, so kids made up by clients never
        # grow the memo past the set's keys and algorithms.
        matching = by_kid.get(kid)
        if matching is None:
            return _UNKNOWN_KID
        if kid is None:
            fitting = tuple(key for key in keys if key.fits(alg))
            found = fitting, bool(fitting)
        else:
            found = tuple(key for key in matching if key.fits(alg)), True
        memo[(kid, alg)] = found
        return found

    def should_refresh(self, now: float, kid_known: bool) -> bool:
        """Refresh when nothing is loaded, the set expired, or a kid is unknown (cooldown)."""
        if self.failed_at is not None and now - self.failed_at < self._settings.jwks_retry_after:
            return False
        if not self.loaded or now >= self.expires_at:
            return True
        return not kid_known and now - self.last_attempt >= self._settings.jwks_refresh_cooldown

    def retry_after(self, now: float) -> int:
        if self.failed_at is None:
            return int(self._settings.jwks_retry_after)
        return int(max(1.0, self.failed_at + self._settings.jwks_retry_after - now) + 0.999)

    # -- the fetch flow, written once -----------------------------------------------------

    def _flow(self) -> Generator[httpx.Request, Fetched, None]:
        jwks_uri = self.jwks_uri
        if jwks_uri is None:
            jwks_uri = yield from self._discover()
        response = yield httpx.Request("GET", jwks_uri, headers={"Accept": "application/json"})
        document = _json(response, "JWKS")
        keys = document.get("keys")
        if not isinstance(keys, list):
            raise FetchFailed(f"JWKS {jwks_uri} has no 'keys' list")
        self._install(keys, _ttl(response, self._settings.jwks_ttl), jwks_uri)
        self.jwks_uri = jwks_uri

    def _discover(self) -> Generator[httpx.Request, Fetched, str]:
        metadata, url = yield from discovery_flow(self.issuer)
        jwks_uri = metadata.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise FetchFailed(f"discovery document {url} has no jwks_uri")
        if not endpoint_allowed(jwks_uri, self.issuer):
            raise FetchFailed(f"discovery document {url} gives a non-https jwks_uri")
        return jwks_uri

    def _install(self, jwks: Iterable[Any], ttl: float, jwks_uri: str) -> None:
        keys: list[VerificationKey] = []
        by_source: dict[str, VerificationKey] = {}
        entries = 0
        for jwk in jwks:
            entries += 1
            if not isinstance(jwk, dict):
                continue
            source = json.dumps(jwk, sort_keys=True)
            # The same JWK keeps the same object, so verified tokens cached under it stay valid.
            key = self._by_source.get(source)
            if key is None:
                try:
                    key = _load_key(jwk)
                except WeakKeyError as exc:
                    logger.warning(
                        "audmw: refusing key %r of %s: reason=%s — %s",
                        jwk.get("kid"),
                        self.issuer,
                        exc.reason,
                        exc.hint,
                        extra={"audmw_reason": exc.reason},
                    )
                    continue
                except ValueError as exc:
                    logger.debug(
                        "audmw: skipping key %r of %s: %s", jwk.get("kid"), self.issuer, exc
                    )
                    continue
            keys.append(key)
            by_source[source] = key
        if not keys:
            # Nothing could verify any token: an outage of the issuer, not a revocation of
            # every key. The last good keys keep serving; without them the answer is 503.
            raise FetchFailed(f"JWKS {jwks_uri} has no usable key ({entries} entries)")
        self.keys = tuple(keys)
        self.active = frozenset(keys)
        self._by_source = by_source
        self.loaded = True
        self.failed_at = None
        self.fetched_at = self._clock()
        self.last_error = self.last_error_type = None
        self.expires_at = self.fetched_at + ttl
        self.generation += 1

    def _failed(self, exc: Exception) -> None:
        self.failed_at = self._clock()
        self.last_error, self.last_error_type = str(exc), type(exc).__qualname__
        logger.warning(
            "audmw: keys of %s could not be fetched (reason=jwks_fetch_failed): %s%s",
            self.issuer,
            exc,
            "; still using the last good keys" if self.loaded else "",
            extra={"audmw_reason": "jwks_fetch_failed", "audmw_issuer": self.issuer},
        )

    def _limit(self) -> int:
        return self._settings.jwks_max_bytes

    # -- drivers ---------------------------------------------------------------------------

    def refresh(self, generation: int) -> None:
        """Fetch now unless another thread did since ``generation`` was read."""
        with self._thread_lock:
            if self.generation != generation or self._failed_since(generation):
                return
            self.last_attempt = self._clock()
            self.fetches += 1
            self.fetching += 1
            watch = None if self.observer is None else self.observer.fetching(self)
            flow = self._flow()
            timeout = self._settings.http_timeout
            deadline = time.monotonic() + timeout
            watchdog = Watchdog()
            timer = threading.Timer(timeout, watchdog.expire)
            timer.daemon = True
            timer.start()
            request: httpx.Request | None = None
            try:
                with httpx.Client(
                    timeout=timeout, transport=self._transport, verify=self._verify
                ) as client:
                    request = next(flow)
                    while True:
                        request.extensions["trace"] = watchdog.trace
                        if watch is None:
                            request = flow.send(self._send(client, request, deadline))
                        else:
                            sent = watch.send(self._send, client, request, deadline)
                            request = flow.send(sent)
            except StopIteration:
                return
            except _FETCH_ERRORS as exc:
                self._failed(self._too_slow(request) if watchdog.expired else exc)
            finally:
                timer.cancel()
                self.fetching -= 1
                if watch is not None:
                    watch.done()

    async def refresh_async(self, generation: int) -> None:
        """The same as ``refresh``, without blocking the event loop or a thread."""
        loop = asyncio.get_running_loop()
        lock = self._loop_locks.get(loop)
        if lock is None:
            lock = self._loop_locks.setdefault(loop, asyncio.Lock())
        async with lock:
            if self.generation != generation or self._failed_since(generation):
                return
            self.last_attempt = self._clock()
            self.fetches += 1
            self.fetching += 1
            watch = None if self.observer is None else self.observer.fetching(self)
            flow = self._flow()
            requested: list[httpx.Request] = []
            timeout = self._settings.http_timeout
            try:
                # Cancelled at the deadline, wherever it waits: connect, headers or body.
                await asyncio.wait_for(self._drive_async(flow, requested, watch), timeout)
            except asyncio.TimeoutError:
                self._failed(self._too_slow(requested[-1] if requested else None))
            except _FETCH_ERRORS as exc:
                self._failed(exc)
            finally:
                self.fetching -= 1
                if watch is not None:
                    watch.done()

    async def _drive_async(
        self,
        flow: Generator[httpx.Request, Fetched, None],
        requested: list[httpx.Request],
        watch: KeyFetch | None = None,
    ) -> None:
        deadline = time.monotonic() + self._settings.http_timeout
        async with httpx.AsyncClient(
            timeout=self._settings.http_timeout,
            transport=self._async_transport,
            verify=self._verify,
        ) as client:
            request = next(flow)
            while True:
                requested.append(request)
                if watch is None:
                    fetched = await self._send_async(client, request, deadline)
                else:
                    fetched = await watch.send_async(self._send_async, client, request, deadline)
                try:
                    request = flow.send(fetched)
                except StopIteration:  # the flow is done (in a coroutine it must not escape)
                    return

    # -- start-up ----------------------------------------------------------------------------

    def prefetch(self) -> bool:
        """Fetch discovery and keys now, unless a set is loaded: True when one is.

        For start-up (``prefetch_keys``): a failure is logged and leaves the keys as a failed
        request fetch would (503 with ``Retry-After`` until ``jwks_retry_after`` has passed,
        then requests fetch again); it never raises.
        """
        if not self.loaded:
            self.refresh(self.generation)
        return self._prefetched()

    async def prefetch_async(self) -> bool:
        """``prefetch`` inside an event loop, without blocking it."""
        if not self.loaded:
            await self.refresh_async(self.generation)
        return self._prefetched()

    def _prefetched(self) -> bool:
        if not self.loaded:
            logger.warning(
                "audmw: keys of %s could not be fetched at start-up (reason=prefetch_failed); "
                "the app starts anyway and requests needing them get 503 until a fetch works",
                self.issuer,
                extra={"audmw_reason": "prefetch_failed", "audmw_issuer": self.issuer},
            )
        return self.loaded

    def _too_slow(self, request: httpx.Request | None) -> FetchFailed:
        what = "the fetch" if request is None else str(request.url)
        return FetchFailed(
            f"{what} took longer than {self._settings.http_timeout} s (http_timeout) to answer"
        )

    def _failed_since(self, generation: int) -> bool:
        """A fetch failed moments ago: callers that queued behind it should not retry at once."""
        return (
            self.failed_at is not None
            and self._clock() - self.failed_at < self._settings.jwks_retry_after
            and self.generation == generation
        )

    def _check_progress(self, request: httpx.Request, body: bytearray, deadline: float) -> None:
        if len(body) > self._limit():
            raise FetchFailed(f"{request.url} is larger than {self._limit()} bytes")
        if time.monotonic() > deadline:
            raise self._too_slow(request)

    def _send(self, client: httpx.Client, request: httpx.Request, deadline: float) -> Fetched:
        # The deadline bounds the whole refresh, connect to last byte, so an issuer trickling
        # bytes cannot hold the key lock (and every waiting request): checked between chunks
        # here, and enforced during a blocked read by the refresh's watchdog.
        response = client.send(request, stream=True)
        try:
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                self._check_progress(request, body, deadline)
        finally:
            response.close()
        return Fetched(
            str(request.url),
            response.status_code,
            response.headers.get("cache-control", ""),
            bytes(body),
        )

    async def _send_async(
        self, client: httpx.AsyncClient, request: httpx.Request, deadline: float
    ) -> Fetched:
        response = await client.send(request, stream=True)
        try:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                self._check_progress(request, body, deadline)
        finally:
            await response.aclose()
        return Fetched(
            str(request.url),
            response.status_code,
            response.headers.get("cache-control", ""),
            bytes(body),
        )


def prefetch(key_sets: Iterable[IssuerKeys]) -> bool:
    """Fetch each key set not loaded yet, side by side: True when every one is loaded.

    Never raises; each failure is logged (``prefetch_failed``). Each fetch is bounded by
    ``http_timeout``, so an issuer that does not answer delays the start by that much at most.
    """
    unique = list({id(keys): keys for keys in key_sets}.values())
    if len(unique) <= 1:
        return all(keys.prefetch() for keys in unique)
    results: list[bool] = [False] * len(unique)

    def fetch(index: int) -> None:
        results[index] = unique[index].prefetch()

    threads = [
        threading.Thread(target=fetch, args=(index,), name="audmw-prefetch", daemon=True)
        for index in range(len(unique))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return all(results)


async def prefetch_async(key_sets: Iterable[IssuerKeys]) -> bool:
    """``prefetch`` in an event loop: the fetches run concurrently, none blocks the loop."""
    unique = list({id(keys): keys for keys in key_sets}.values())
    results = await asyncio.gather(*(keys.prefetch_async() for keys in unique))
    return all(results)
