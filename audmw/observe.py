"""What audmw decides, reported: the decision hook, and OpenTelemetry metrics and spans.

A ``Guard`` has an ``Observer`` only when the ``decision_hook`` setting is set or an
OpenTelemetry SDK (a meter or tracer provider) is configured when the guard is built; else
``Guard.observer`` is None and adapters call nothing here. ``opentelemetry-api`` (the ``otel``
extra) is imported once, below; without it only the hook can be on.

Adapters start a ``Watch`` for a request, let it authorize the request (with
``Guard.authorize`` itself) and tell it how the decision ended; the watch reports one
``Decision`` to the hook and the meters. A request that needs no token is never reported.
Key fetches report to ``KeyFetch`` (spans and metrics) from ``IssuerKeys``, introspection
requests to ``Introspection`` from ``IntrospectionVerifier``.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import logging
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from audmw.decision import STANDARD_METHODS
from audmw.errors import AuthError
from audmw.request import IncomingRequest
from audmw.requirements import ANY_VALID_TOKEN, Requirement
from audmw.token import AccessToken

try:  # the ``otel`` extra: imported once, here
    from opentelemetry import context as otel_context
    from opentelemetry import metrics as otel_metrics
    from opentelemetry import trace as otel_trace
except ImportError:  # pragma: no cover - exercised in a process without the package
    otel_context = otel_metrics = otel_trace = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from audmw.cache import VerifiedTokens
    from audmw.guard import Guard
    from audmw.keys import Fetched, IssuerKeys
    from audmw.settings import Settings

__all__ = [
    "OTEL_AVAILABLE",
    "Decision",
    "Introspection",
    "KeyFetch",
    "Observer",
    "Telemetry",
    "Watch",
    "log_fields",
    "note_cached",
    "observer_for",
    "subject_fingerprint",
    "telemetry",
]

logger = logging.getLogger("audmw")

OTEL_AVAILABLE = otel_trace is not None
"""Whether ``opentelemetry-api`` is installed (the ``otel`` extra)."""

SCOPE = "audmw"
"""The instrumentation scope name of audmw's meter and tracer."""


@dataclass(frozen=True)
class Decision:
    """One decision on a request that needed a token, as the ``decision_hook`` receives it.

    Values come from the verified token or from the settings, never from an unverified one:
    a refused token has no issuer, client or subject here. Neither the token nor any claim
    value other than these is ever included.
    """

    outcome: str
    """``accepted`` or ``refused``."""
    reason: str
    """The refusal's reason code (as in the log line), ``ok`` when accepted."""
    status: int
    """The answer's HTTP status: 200 when accepted (the view then answers), else 400-503."""
    scheme: str
    """How the token was presented: ``Bearer`` or ``DPoP``."""
    method: str
    """The request method; ``_OTHER`` for one that is not a standard HTTP method."""
    route: str | None
    """The route template as the framework writes it (``/items/{id}``, ``/items/<int:id>``,
    ``items/<int:id>``), never the raw path; None when no route matched."""
    latency: float
    """Seconds from the start of the check to the decision."""
    cached: bool
    """The verified-token cache answered: no parsing, no signature check."""
    issuer: str | None = None
    audience: str | None = None
    """The configured audience the token's ``aud`` matched."""
    client_id: str | None = None
    subject: str | None = None
    """The 16-hex-digit SHA-256 fingerprint of the token's ``sub``."""
    token: str | None = None
    """The token's 16-hex-digit fingerprint, as log lines give it."""


_SUBJECTS_SIZE = 1024
_subjects: dict[str, str] = {}


def subject_fingerprint(subject: str | None) -> str | None:
    """The 16-hex-digit SHA-256 fingerprint of a subject (never the subject itself).

    Remembered for the subjects seen last: the same users call again and again, and a digest
    costs more than the rest of a report."""
    if subject is None:
        return None
    found = _subjects.get(subject)
    if found is None:
        found = hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        if len(_subjects) >= _SUBJECTS_SIZE:
            _subjects.clear()
        _subjects[subject] = found
    return found


def _method(request: IncomingRequest) -> str:
    """The method, or ``_OTHER`` for one made up by the client (OpenTelemetry's HTTP
    conventions): a client must not be able to grow the number of time series."""
    method = request.method
    return method if method in STANDARD_METHODS else "_OTHER"


def _scheme(request: IncomingRequest) -> str:
    """The authorization scheme the credentials were sent with (a raw-token header: Bearer)."""
    for value in request.credentials:
        head = value[:5]
        if (head.decode("latin-1") if isinstance(head, bytes) else head).lower() == "dpop ":
            return "DPoP"
    return "Bearer"


# The watch of the request being authorized in this context, for the log records' fields.
_watching: contextvars.ContextVar[Watch | None] = contextvars.ContextVar(
    "audmw_watch", default=None
)


def log_fields() -> dict[str, Any]:
    """Fields the request being authorized adds to the ``audmw`` logger's records (``route``)."""
    watch = _watching.get()
    return {} if watch is None else {"audmw_route": watch.route}


def note_cached() -> None:
    """The request being authorized was answered from a cache other than the verified-token
    cache (the introspection cache): its decision says ``cached``."""
    watch = _watching.get()
    if watch is not None:
        watch.cached = True


# -- the decision ------------------------------------------------------------------------------


class Watch:
    """One request's decision: timed from its start, reported once.

    ``authorize`` is ``Guard.authorize`` itself, so every check the guard makes applies; what
    the verified-token cache answered is noted by the guard's cache lookups (see
    ``Observer.looking_up``) while the watch is the current one.
    """

    __slots__ = (
        "_reported",
        "cached",
        "digest",
        "observer",
        "request",
        "route",
        "started",
        "verified",
    )

    def __init__(self, observer: Observer, request: IncomingRequest, route: str | None) -> None:
        self.observer = observer
        self.request = request
        self.route = route
        self.started = time.perf_counter()
        self.digest: bytes | None = None
        """The cache key (SHA-256) of the token, once it was looked up."""
        self.verified: AccessToken | None = None
        self.cached = False
        self._reported = False

    def authorize(
        self, guard: Guard, request: IncomingRequest, requirement: Requirement = ANY_VALID_TOKEN
    ) -> AccessToken:
        """``guard.authorize(request, requirement)``, watched."""
        self.request = request
        reset = _watching.set(self)
        try:
            self.verified = guard.authorize(request, requirement)
        except AuthError:
            self._refused_token(guard)
            raise
        finally:
            _watching.reset(reset)
        return self.verified

    async def authorize_async(
        self, guard: Guard, request: IncomingRequest, requirement: Requirement = ANY_VALID_TOKEN
    ) -> AccessToken:
        self.request = request
        reset = _watching.set(self)
        try:
            self.verified = await guard.authorize_async(request, requirement)
        except AuthError:
            self._refused_token(guard)
            raise
        finally:
            _watching.reset(reset)
        return self.verified

    def _refused_token(self, guard: Guard) -> None:
        """The token of a refusal made after it was verified (scopes, proof of possession):
        the verified-token cache holds it. Any other refused token is not there."""
        if self.digest is not None:
            self.verified = guard.cache.get(self.digest)

    def accepted(self) -> None:
        self._report(None)

    def refused(self, error: AuthError) -> None:
        self._report(error)

    def _report(self, error: AuthError | None) -> None:
        if self._reported:
            return
        self._reported = True
        latency = time.perf_counter() - self.started
        try:
            decision = self.observer.decision(self, error, latency)
            telemetry = self.observer.telemetry
            if telemetry is not None:
                telemetry.decided(decision, looked_up=self.digest is not None)
        except Exception:  # observing must never turn a decision into a 500
            logger.warning(
                "audmw: a decision could not be reported", exc_info=True, extra=_HOOK_EXTRA
            )
            return
        hook = self.observer.hook
        if hook is not None:
            try:
                hook(decision)
            except Exception:
                logger.warning(
                    "audmw: the decision hook raised; the decision stands (reason=%s)",
                    "decision_hook_failed",
                    exc_info=True,
                    extra=_HOOK_EXTRA,
                )


_HOOK_EXTRA = {"audmw_reason": "decision_hook_failed"}


class Observer:
    """What a ``Guard`` reports to: its settings' ``decision_hook`` and OpenTelemetry."""

    def __init__(
        self, settings: Settings, telemetry: Telemetry | None, cache: VerifiedTokens | None
    ) -> None:
        self.hook: Callable[[Decision], Any] | None = settings.decision_hook
        self.telemetry = telemetry
        self._audiences = frozenset(settings.audience)
        if telemetry is not None and cache is not None:
            telemetry.watch_cache(cache)

    def watch(self, request: IncomingRequest, route: str | None = None) -> Watch:
        """Start timing one request's decision."""
        return Watch(self, request, route)

    @staticmethod
    def looking_up(
        get: Callable[[bytes], AccessToken | None],
    ) -> Callable[[bytes], AccessToken | None]:
        """The guard's cache lookup, noting its answer for the current watch."""

        def looked_up(key: bytes) -> AccessToken | None:
            found = get(key)
            watch = _watching.get()
            if watch is not None:
                watch.digest = key
                watch.cached = found is not None
            return found

        return looked_up

    def decision(self, watch: Watch, error: AuthError | None, latency: float) -> Decision:
        verified = watch.verified
        request = watch.request
        audience = None
        if verified is not None:
            audience = next((a for a in verified.audience if a in self._audiences), None)
        return Decision(
            outcome="accepted" if error is None else "refused",
            reason="ok" if error is None else error.reason,
            status=200 if error is None else error.status,
            scheme=_scheme(request),
            method=_method(request),
            route=watch.route,
            latency=latency,
            cached=watch.cached,
            issuer=verified.issuer if verified is not None else None,
            audience=audience,
            client_id=verified.client_id if verified is not None else None,
            subject=subject_fingerprint(verified.subject) if verified is not None else None,
            token=watch.digest[:8].hex() if watch.digest is not None else None,
        )


def observer_for(
    settings: Settings, cache: VerifiedTokens | None, keys: Iterable[Any]
) -> Observer | None:
    """The ``Observer`` of a guard, or None when nothing would receive what it reports.

    ``keys`` are the verifier's ``IssuerKeys``: their fetches are traced and measured when
    OpenTelemetry is configured, whether or not decisions are.
    """
    found = telemetry()
    if found is not None:
        for source in keys:
            if hasattr(source, "observer"):
                source.observer = found
    if found is None and settings.decision_hook is None:
        return None
    return Observer(settings, found, cache)


# -- OpenTelemetry -----------------------------------------------------------------------------


def _configured() -> bool:
    """Whether an OpenTelemetry SDK's meter or tracer provider has been set.

    The API's own providers (the proxies handed out before one is set, and the no-op ones)
    live in the API package's modules; any SDK's live elsewhere."""
    if otel_trace is None or otel_metrics is None:
        return False
    providers = (otel_trace.get_tracer_provider(), otel_metrics.get_meter_provider())
    return any(
        not type(provider).__module__.startswith(("opentelemetry.trace", "opentelemetry.metrics"))
        for provider in providers
    )


_telemetry: Telemetry | None = None


def telemetry() -> Telemetry | None:
    """audmw's instruments, made once; None when no OpenTelemetry SDK is configured."""
    global _telemetry
    if _telemetry is None and _configured():
        _telemetry = Telemetry()
    return _telemetry


_OUTCOMES = {
    (outcome, cached): {"audmw.outcome": outcome, "audmw.cached": cached}
    for outcome in ("accepted", "refused")
    for cached in (False, True)
}


class Telemetry:
    """audmw's meter, tracer and instruments (names and attributes: the README's list)."""

    def __init__(self) -> None:
        assert otel_metrics is not None  # made only when an SDK is configured
        assert otel_trace is not None
        from audmw import __version__  # the package imports this module's users first

        meter = otel_metrics.get_meter(SCOPE, __version__)
        self.tracer = otel_trace.get_tracer(SCOPE, __version__)
        # Decisions and cache lookups are counted here, per request a dict update under a
        # lock, and handed to the SDK when it collects: a synchronous instrument's ``add``
        # costs more than the rest of a cached request.
        self._lock = threading.Lock()
        self._decisions: dict[tuple[str, str, str, str, str | None], int] = {}
        self._lookups = {"hit": 0, "miss": 0}
        meter.create_observable_counter(
            "audmw.decisions",
            callbacks=[self._decision_counts],
            unit="{decision}",
            description="Decisions on requests that need a token",
        )
        meter.create_observable_counter(
            "audmw.token_cache.lookups",
            callbacks=[self._lookup_counts],
            unit="{lookup}",
            description="Verified-token cache lookups, by hit or miss",
        )
        self.validation_time = meter.create_histogram(
            "audmw.validation.duration",
            unit="s",
            description="Time from the start of a request's check to its decision",
        )
        self.key_fetches = meter.create_counter(
            "audmw.key_fetches", unit="{fetch}", description="Key-set refreshes, by result"
        )
        self.key_fetch_time = meter.create_histogram(
            "audmw.key_fetch.duration",
            unit="s",
            description="Time of a key-set refresh (discovery and JWKS)",
        )
        self.introspections = meter.create_counter(
            "audmw.introspections",
            unit="{introspection}",
            description="Tokens looked up at an introspection endpoint (a retry included), "
            "by result",
        )
        self.introspection_time = meter.create_histogram(
            "audmw.introspection.duration",
            unit="s",
            description="Time of a token's lookup at an introspection endpoint",
        )
        self._caches: weakref.WeakSet[VerifiedTokens] = weakref.WeakSet()
        self._seen_evictions: dict[int, int] = {}
        self._retired_evictions: list[int] = []
        meter.create_observable_counter(
            "audmw.token_cache.evictions",
            callbacks=[self._evictions],
            unit="{token}",
            description="Verified tokens dropped: expired, key no longer published, or room made",
        )
        meter.create_observable_up_down_counter(
            "audmw.token_cache.size",
            callbacks=[self._sizes],
            unit="{token}",
            description="Verified tokens held",
        )

    def watch_cache(self, cache: VerifiedTokens) -> None:
        self._caches.add(cache)
        with self._lock:
            self._seen_evictions[id(cache)] = cache.evictions
        weakref.finalize(cache, self._retire, id(cache))

    def _retire(self, cache_id: int) -> None:
        # A counter never goes down: a cache that is gone keeps the evictions last reported.
        # No lock: the garbage collector may run this while the same thread holds one.
        self._retired_evictions.append(self._seen_evictions.pop(cache_id, 0))

    def _evictions(self, options: Any) -> Iterator[Any]:
        assert otel_metrics is not None
        with self._lock:
            total = sum(self._retired_evictions)
            for cache in list(self._caches):
                self._seen_evictions[id(cache)] = cache.evictions
                total += cache.evictions
        yield otel_metrics.Observation(total)

    def _sizes(self, options: Any) -> Iterator[Any]:
        assert otel_metrics is not None
        yield otel_metrics.Observation(sum(len(cache) for cache in list(self._caches)))

    def _decision_counts(self, options: Any) -> Iterator[Any]:
        assert otel_metrics is not None
        with self._lock:
            counts = list(self._decisions.items())
        for (outcome, reason, scheme, method, route), count in counts:
            attributes = {
                "audmw.outcome": outcome,
                "audmw.reason": reason,
                "audmw.scheme": scheme,
                "http.request.method": method,
            }
            if route is not None:
                attributes["http.route"] = route
            yield otel_metrics.Observation(count, attributes)

    def _lookup_counts(self, options: Any) -> Iterator[Any]:
        assert otel_metrics is not None
        with self._lock:
            counts = list(self._lookups.items())
        for result, count in counts:
            yield otel_metrics.Observation(count, {"audmw.token_cache.result": result})

    def decided(self, decision: Decision, *, looked_up: bool) -> None:
        # Every part of the key comes from a bounded set (the method is normalised, the
        # route is one of the app's): the number of time series cannot grow with requests.
        key = (decision.outcome, decision.reason, decision.scheme, decision.method, decision.route)
        with self._lock:
            self._decisions[key] = self._decisions.get(key, 0) + 1
            if looked_up:
                self._lookups["hit" if decision.cached else "miss"] += 1
        self.validation_time.record(
            decision.latency,
            _OUTCOMES[decision.outcome, decision.cached],
        )

    def fetching(self, keys: IssuerKeys) -> KeyFetch:
        return KeyFetch(self, keys)

    def introspecting(self, issuer: str) -> Introspection:
        return Introspection(self, issuer)


class KeyFetch:
    """One refresh of an issuer's keys: a span around it, one HTTP client span per request,
    and its duration and result in the metrics."""

    def __init__(self, telemetry: Telemetry, keys: IssuerKeys) -> None:
        assert otel_trace is not None
        assert otel_context is not None
        self._telemetry = telemetry
        self._keys = keys
        self._generation = keys.generation
        self._started = time.perf_counter()
        self._span = telemetry.tracer.start_span(
            "audmw.keys.refresh",
            kind=otel_trace.SpanKind.INTERNAL,
            attributes={"audmw.issuer": keys.issuer},
        )
        self._token = otel_context.attach(otel_trace.set_span_in_context(self._span))

    def send(self, send: Callable[..., Fetched], client: Any, request: Any, *args: Any) -> Fetched:
        """``send(client, request, *args)`` in an HTTP client span."""
        with self._request_span(request) as span:
            try:
                fetched = send(client, request, *args)
            except Exception as exc:
                span.set_attribute("error.type", type(exc).__qualname__)
                raise
            return self._answered(span, fetched)

    async def send_async(
        self, send: Callable[..., Awaitable[Fetched]], client: Any, request: Any, *args: Any
    ) -> Fetched:
        with self._request_span(request) as span:
            try:
                fetched = await send(client, request, *args)
            except Exception as exc:
                span.set_attribute("error.type", type(exc).__qualname__)
                raise
            return self._answered(span, fetched)

    def _request_span(self, request: Any) -> Any:
        return _client_span(self._telemetry, request, "jwks")

    @staticmethod
    def _answered(span: Any, fetched: Fetched) -> Fetched:
        _status(span, fetched.status)
        return fetched

    def done(self) -> None:
        """The refresh ended: it installed a new key set, or it failed (``keys.last_error``)."""
        assert otel_trace is not None
        assert otel_context is not None
        keys = self._keys
        succeeded = keys.generation != self._generation
        result = "success" if succeeded else "failure"
        attributes = {"audmw.issuer": keys.issuer, "audmw.result": result}
        telemetry = self._telemetry
        telemetry.key_fetches.add(1, attributes)
        telemetry.key_fetch_time.record(time.perf_counter() - self._started, attributes)
        span = self._span
        span.set_attribute("audmw.result", result)
        if succeeded:
            span.set_attribute("audmw.keys", len(keys.keys))
        else:
            span.set_attribute("error.type", keys.last_error_type or "fetch_failed")
            span.set_status(otel_trace.StatusCode.ERROR, keys.last_error or None)
        span.end()
        otel_context.detach(self._token)


def _client_span(telemetry: Telemetry, request: Any, fetch: str) -> Any:
    """An HTTP client span (OpenTelemetry's HTTP conventions) around one request."""
    assert otel_trace is not None
    url = urlsplit(str(request.url))
    attributes: dict[str, Any] = {
        "http.request.method": request.method,
        "url.full": str(request.url),
        "server.address": url.hostname or "",
        "server.port": url.port or (443 if url.scheme == "https" else 80),
        "audmw.fetch": "discovery" if "/.well-known/" in url.path else fetch,
    }
    return telemetry.tracer.start_as_current_span(
        request.method, kind=otel_trace.SpanKind.CLIENT, attributes=attributes
    )


def _status(span: Any, status: int) -> None:
    assert otel_trace is not None
    span.set_attribute("http.response.status_code", status)
    if status >= 400:
        span.set_attribute("error.type", str(status))
        span.set_status(otel_trace.StatusCode.ERROR)


class Introspection:
    """One token's lookup at an issuer's introspection endpoint: a span around it, one HTTP
    client span per request (discovery, each attempt), and its duration and result in the
    metrics. Neither the token nor the answer's members are ever attributes."""

    def __init__(self, telemetry: Telemetry, issuer: str) -> None:
        assert otel_trace is not None
        assert otel_context is not None
        self._telemetry = telemetry
        self._issuer = issuer
        self._started = time.perf_counter()
        self._span = telemetry.tracer.start_span(
            "audmw.introspection",
            kind=otel_trace.SpanKind.INTERNAL,
            attributes={"audmw.issuer": issuer},
        )
        self._token = otel_context.attach(otel_trace.set_span_in_context(self._span))

    @contextlib.contextmanager
    def request(self, request: Any) -> Iterator[Callable[[int], None]]:
        """A client span around ``request``: the block calls what it yields with the
        response's status; an exception out of the block marks the span failed."""
        with _client_span(self._telemetry, request, "introspection") as span:
            try:
                yield lambda status: _status(span, status)
            except BaseException as exc:
                span.set_attribute("error.type", type(exc).__qualname__)
                raise

    def done(self, result: str, error: BaseException | None = None) -> None:
        """The lookup ended: ``active``, ``inactive``, or ``failure`` with its ``error``."""
        assert otel_trace is not None
        assert otel_context is not None
        attributes = {"audmw.issuer": self._issuer, "audmw.result": result}
        telemetry = self._telemetry
        telemetry.introspections.add(1, attributes)
        telemetry.introspection_time.record(time.perf_counter() - self._started, attributes)
        span = self._span
        span.set_attribute("audmw.result", result)
        if error is not None:
            reason = getattr(error, "reason", None)
            span.set_attribute("error.type", reason or type(error).__qualname__)
            span.set_status(otel_trace.StatusCode.ERROR, reason)
        span.end()
        otel_context.detach(self._token)
