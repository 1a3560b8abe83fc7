"""``AudienceMiddleware``: no view runs unless the request's bearer token is for this API.

Enforcement happens in ``process_view``: after URL resolution, so the view's marks are known,
and before the view. A request whose URL does not resolve never reaches ``process_view``; its
token is checked in ``__call__`` before the 404 goes out, so unknown URLs reveal nothing to a
client without a valid token. In async mode (under ASGI with async-capable middleware below)
``process_view`` is a coroutine and tokens are validated without leaving the event loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.functional import SimpleLazyObject

from audmw import AccessToken, AuthError, Requirement
from audmw.decision import HTTP_METHODS, STANDARD_METHODS, View, handler_levels, handler_name
from audmw.marks import requirement_of
from audmw.observe import Watch
from audmw.request import (
    IncomingRequest,
    asgi_client_certificate,
    check_form_size,
    environ_request,
    is_form,
    token_in_form,
)
from audmw_django.conf import Config, current
from audmw_django.user import TokenUser

__all__ = [
    "AudienceMiddleware",
    "incoming_request",
    "remember_refusal",
    "url_requirements",
    "url_views",
    "view_for",
    "view_of",
]

ViewFunc = Callable[..., Any]
MaybeResponse = HttpResponseBase | None
ProcessView = Callable[
    [HttpRequest, ViewFunc, tuple[Any, ...], dict[str, Any]],
    MaybeResponse | Awaitable[MaybeResponse],
]

# Set on every request that went through process_view: the view resolved and was judged.
_JUDGED = "_audmw_judged"
# A refusal raised inside the view (DRF's classes), answered by the middleware on the way out.
_REFUSED = "_audmw_refused"
# The DPoP nonce an accepted request's answer carries (RFC 9449 §8.2), when there is one.
_NONCE = "_audmw_dpop_nonce"

_VIEWS_SIZE = 1024
_MAX_DEPTH = 32


def _prefetch_keys() -> None:
    """With ``PREFETCH_KEYS``, fetch the issuers' keys when a server loads the middleware (each
    worker, at start-up: the WSGI or ASGI handler is built then), not in management commands.

    A bad configuration is left to every request and ``manage.py check`` as without it.
    """
    try:
        config = current()
    except ImproperlyConfigured:
        return
    if config.guard.settings.prefetch_keys:
        config.guard.prefetch_keys()


def incoming_request(
    request: HttpRequest,
    header_key: str = "HTTP_AUTHORIZATION",
    url: bool = False,
    proxy_headers: Collection[str] = (),
    *,
    named: bool = False,
) -> IncomingRequest:
    """The core's ``IncomingRequest`` of a Django request; ``header_key`` is the token
    header's ``META`` key (``Guard.token_environ_key``), ``url`` fills in scheme, host,
    ``DPoP`` and the peer, ``proxy_headers`` names the headers a trusted proxy sets;
    ``named``: a refusal's log line names the matched URL pattern."""
    # The scheme the server saw: request.scheme would believe SECURE_PROXY_SSL_HEADER from
    # any client; audmw believes proxies as its own trusted_proxies setting says.
    scope: dict[str, Any] | None = getattr(request, "scope", None)
    scheme = None
    if url:
        scheme = (
            str(scope.get("scheme", "http"))
            if scope is not None
            else str(request.META.get("wsgi.url_scheme", "http"))
        )
    incoming = environ_request(
        request.META,
        request.method or "GET",
        request.path_info,
        header_key,
        scheme,
        proxy_headers,
        _route if named else None,
        request if named else None,
    )
    if scope is not None and url and "extensions" in scope:
        certificate = asgi_client_certificate(scope)
        if certificate is not None:
            incoming = incoming._replace(client_certificate=certificate)
    return incoming


def view_of(view_func: ViewFunc, method: str) -> View:
    """The levels of marks on the way to the handler Django will call for ``method``.

    The view function (as ``as_view()`` or ``@api_view`` made it), its class, ``dispatch``
    and the method handler along the class's MRO; a DRF viewset's action for the method
    (HEAD falls back to GET's, as DRF maps it). A class with no handler for the method
    answers 405 itself: the view does not answer it.
    """
    view_class = getattr(view_func, "view_class", None) or getattr(view_func, "cls", None)
    if not isinstance(view_class, type):
        return View((view_func,))
    allowed = getattr(view_class, "http_method_names", HTTP_METHODS)
    defined = [m for m in allowed if getattr(view_class, m, None) is not None]
    actions = getattr(view_func, "actions", None)
    name: str | None
    if isinstance(actions, dict):
        # A viewset: the router's actions, then what the class itself answers (options).
        key = handler_name(method, actions)
        name = str(actions[key]) if key else handler_name(method, defined, head="head" in allowed)
        handlers = [str(action) for action in actions.values()]
        others = [h for h in [*handlers, *defined] if h != name]
    else:
        name = handler_name(method, defined, head="head" in allowed)
        others = [m for m in defined if m != name]
    elsewhere = handler_levels(view_class, *others)[1:]
    if name is None:
        return View.unanswered(view_func, *handler_levels(view_class, "dispatch"), *elsewhere)
    return View((view_func, *handler_levels(view_class, "dispatch", name)), elsewhere)


_views: dict[tuple[ViewFunc, str], View] = {}


def view_for(view_func: ViewFunc, method: str) -> View:
    """``view_of``, remembered for the standard methods (views are the app's; made-up
    methods are the client's, and not remembered)."""
    key = (view_func, method)
    view = _views.get(key)
    if view is None:
        view = view_of(view_func, method)
        if method in STANDARD_METHODS:
            if len(_views) >= _VIEWS_SIZE:
                _views.clear()
            _views[key] = view
    return view


def url_views(
    patterns: Iterable[Any], prefix: str = "", depth: int = 0
) -> Iterator[tuple[str, Any]]:
    """Every (route, view function) of URL patterns, through ``include()``."""
    if depth > _MAX_DEPTH:
        return
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from url_views(pattern.url_patterns, prefix + str(pattern.pattern), depth + 1)
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


def url_requirements() -> list[Requirement | None]:
    """What every level of marks on the URLconf's views requires: the scopes the resource
    metadata lists by default."""
    found: list[Requirement | None] = []
    for _, view_func in url_views(get_resolver().url_patterns):
        for method in HTTP_METHODS:
            view = view_of(view_func, method.upper())
            found.extend(requirement_of(level) for level in (*view.levels, *view.others))
    return found


def _read_form(request: HttpRequest, incoming: IncomingRequest) -> IncomingRequest:
    length = request.META.get("CONTENT_LENGTH") or "0"
    check_form_size(int(length) if length.isdigit() else 0, incoming)
    body = request.body
    check_form_size(len(body), incoming)
    return incoming._replace(token_in_body=True) if token_in_form(body) else incoming


class AudienceMiddleware:
    """Deny by default: every view needs a valid token for ``AUDMW["AUDIENCE"]``.

    Views opt out with ``@public`` or ``AUDMW["EXEMPT_PATHS"]``, and ask for scopes with
    ``@require_scopes``/``@require_any_scope`` or ``AUDMW["RULES"]``. On success
    ``request.access_token`` is the ``AccessToken`` (None on public views). ``refuse`` turns
    a refusal into the response; override it to shape refusals differently.
    """

    sync_capable = True
    async_capable = True
    process_view: ProcessView

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)
            # Django awaits a coroutine process_view as is: no thread, the async key fetches.
            self.process_view = self._process_view_async
        else:
            self.process_view = self._process_view_sync
        _prefetch_keys()

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.async_mode:
            return self.__acall__(request)
        served = _metadata(request)
        if served is not None:
            return served
        response: HttpResponseBase = self.get_response(request)
        if _unresolved(request):
            return self._enforce(request, None) or response
        return self._answered(request, response)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        served = _metadata(request)
        if served is not None:
            return served
        response: HttpResponseBase = await self.get_response(request)
        if _unresolved(request):
            return await self._enforce_async(request, None) or response
        return self._answered(request, response)

    def _answered(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        """The core's answer for a refusal raised inside the view, else the view's response."""
        error = getattr(request, _REFUSED, None)
        if isinstance(error, AuthError):
            return self.refuse(request, error)
        nonce = getattr(request, _NONCE, None)
        if nonce is not None:
            response["DPoP-Nonce"] = nonce
        return response

    def _process_view_sync(
        self,
        request: HttpRequest,
        view_func: ViewFunc,
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponseBase | None:
        return self._enforce(request, self._view(request, view_func))

    async def _process_view_async(
        self,
        request: HttpRequest,
        view_func: ViewFunc,
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponseBase | None:
        return await self._enforce_async(request, self._view(request, view_func))

    # -- the one enforcement path, in its sync and async spellings --------------------------

    def _enforce(self, request: HttpRequest, view: View | None) -> HttpResponseBase | None:
        """None to let the request through, else the refusal."""
        config = current()
        watch = None
        try:
            judged = self._judge(request, view, config)
            if judged is not None:
                observer = config.guard.observer
                if observer is None:
                    _accept(request, config.guard.authorize(*judged), config)
                else:
                    watch = observer.watch(judged[0], _route(request))
                    _accept(request, watch.authorize(config.guard, *judged), config)
                    watch.accepted()
                _remember_nonce(request, judged[0], config)
        except AuthError as error:
            _report_refusal(request, config, watch, error)
            return self.refuse(request, error)
        return None

    async def _enforce_async(
        self, request: HttpRequest, view: View | None
    ) -> HttpResponseBase | None:
        config = current()
        watch = None
        try:
            judged = self._judge(request, view, config)
            if judged is not None:
                observer = config.guard.observer
                if observer is None:
                    _accept(request, await config.guard.authorize_async(*judged), config)
                else:
                    watch = observer.watch(judged[0], _route(request))
                    token = await watch.authorize_async(config.guard, *judged)
                    _accept(request, token, config)
                    watch.accepted()
                _remember_nonce(request, judged[0], config)
        except AuthError as error:
            _report_refusal(request, config, watch, error)
            return self.refuse(request, error)
        return None

    def _judge(
        self, request: HttpRequest, view: View | None, config: Config
    ) -> tuple[IncomingRequest, Requirement] | None:
        """What to authorize: the request and its requirement, None when it is public."""
        guard = config.guard
        incoming = incoming_request(
            request, guard.token_environ_key, guard.wants_url, guard.proxy_headers, named=True
        )
        needed = guard.requirement(incoming, view)
        if needed is None:
            return None
        content_type = request.META.get("CONTENT_TYPE")
        if content_type and is_form(content_type):
            incoming = _read_form(request, incoming)
        return incoming, needed

    def _view(self, request: HttpRequest, view_func: ViewFunc) -> View:
        setattr(request, _JUDGED, True)
        request.access_token = None  # type: ignore[attr-defined]
        return view_for(view_func, request.method or "GET")

    def refuse(self, request: HttpRequest, error: AuthError) -> HttpResponse:
        """The core's answer (status, ``WWW-Authenticate``, JSON body) as a Django response."""
        status, headers, body = current().guard.answer(error)
        return HttpResponse(body, status=status, headers=dict(headers))


def _metadata(request: HttpRequest) -> HttpResponse | None:
    """The resource metadata when the request asks for it, before any view or token check."""
    guard = current().guard
    if guard.metadata is None:
        return None
    # The URLconf's resolver is built once per URLconf: its identity is the routes' version.
    served = guard.metadata_answer(
        request.method or "GET", request.path_info, url_requirements, id(get_resolver())
    )
    if served is None:
        return None
    status, headers, body = served
    return HttpResponse(body, status=status, headers=dict(headers))


def remember_refusal(request: HttpRequest, error: AuthError) -> None:
    """Leave a refusal raised inside the view (by DRF's classes) for the middleware to answer
    with the core's exact answer on the way out."""
    setattr(request, _REFUSED, error)


def _report_refusal(
    request: HttpRequest, config: Config, watch: Watch | None, error: AuthError
) -> None:
    """Report a refusal to the guard's observer, if it has one: also one made before the
    token was read (control characters in the path, a form too large)."""
    observer = config.guard.observer
    if observer is None:
        return
    if watch is None:
        guard = config.guard
        watch = observer.watch(incoming_request(request, guard.token_environ_key), _route(request))
    watch.refused(error)


def _route(request: HttpRequest) -> str | None:
    """The matched URL pattern as Django writes it (``api/items/<int:pk>``), or None."""
    match = request.resolver_match
    route = getattr(match, "route", None) if match is not None else None
    return route if isinstance(route, str) else None


def _unresolved(request: HttpRequest) -> bool:
    """No view was judged and the URL did not resolve (a 404, or a response from below)."""
    return not getattr(request, _JUDGED, False) and request.resolver_match is None


def _remember_nonce(request: HttpRequest, incoming: IncomingRequest, config: Config) -> None:
    if config.guard.issues_nonces:
        nonce = config.guard.fresh_nonce(incoming)
        if nonce is not None:
            setattr(request, _NONCE, nonce)


def _accept(request: HttpRequest, token: AccessToken, config: Config) -> None:
    request.access_token = token  # type: ignore[attr-defined]
    hook = config.options.user
    if hook is not None:
        # The app's own users: looked up only when the view reads request.user, as Django's
        # AuthenticationMiddleware does (async views await request.auser()).
        def resolve() -> Any:
            return hook(token)

        request.user = SimpleLazyObject(resolve)  # type: ignore[assignment]

        async def auser_from_hook() -> Any:
            return await sync_to_async(resolve)()

        request.auser = auser_from_hook
    elif config.options.token_user:
        user = TokenUser(token)

        async def auser() -> TokenUser:
            return user

        request.user = user  # type: ignore[assignment]
        request.auser = auser  # type: ignore[assignment]
    # CSRF protects credentials a browser adds on its own (cookies). A request authenticated by
    # a bearer token and carrying no session cookie has none, so CsrfViewMiddleware (listed
    # after this middleware) lets it through; with a session cookie, CSRF still applies.
    if not request.META.get("HTTP_COOKIE") or settings.SESSION_COOKIE_NAME not in request.COOKIES:
        request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
