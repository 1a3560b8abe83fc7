"""``AudienceMiddleware``: no view runs unless the request's bearer token is for this API.

Enforcement happens in ``process_view``: after URL resolution, so the view's marks are known,
and before the view. A request whose URL does not resolve never reaches ``process_view``; its
token is checked in ``__call__`` before the 404 goes out, so unknown URLs reveal nothing to a
client without a valid token. In async mode (under ASGI with async-capable middleware below)
``process_view`` is a coroutine and tokens are validated without leaving the event loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

from audmw import AccessToken, AuthError, Guard, Requirement
from audmw.marks import is_public, requirement_of
from audmw_django.conf import Config, current
from audmw_django.user import TokenUser

ViewFunc = Callable[..., Any]
MaybeResponse = HttpResponseBase | None
ProcessView = Callable[
    [HttpRequest, ViewFunc, tuple[Any, ...], dict[str, Any]],
    MaybeResponse | Awaitable[MaybeResponse],
]

# Set on every request that went through process_view: the view resolved and was judged.
_JUDGED = "_audmw_judged"


def authorization_of(request: HttpRequest, key: str = "HTTP_AUTHORIZATION") -> tuple[str, ...]:
    """Every value of the token header (servers fold repeated headers into one).

    ``key`` is the header's ``META`` key, ``Guard.token_environ_key``: ``Authorization``
    unless ``token_header`` names another header.
    """
    value = request.META.get(key)
    return () if value is None else (value,)


def token_in_query(request: HttpRequest) -> bool:
    """An ``access_token`` query parameter is present (a refused way to send the token)."""
    # The substring test spares parsing the query string on almost every request.
    return "access_token" in request.META.get("QUERY_STRING", "") and "access_token" in request.GET


def refusal(guard: Guard, error: AuthError) -> HttpResponse:
    """The core's answer (status, ``WWW-Authenticate``, JSON body) as a Django response."""
    status, headers, body = guard.answer(error)
    return HttpResponse(body, status=status, headers=dict(headers))


def view_marks(view_func: ViewFunc, method: str) -> tuple[Requirement | None, bool]:
    """The requirement and public mark of a view: the function, its class, the method handler."""
    targets: list[object] = [view_func]
    view_class = getattr(view_func, "view_class", None) or getattr(view_func, "cls", None)
    if isinstance(view_class, type):
        targets.append(view_class)
        name = method.lower()
        actions = getattr(view_func, "actions", None)  # DRF viewsets map methods to actions
        if isinstance(actions, dict):
            name = actions.get(name, name)
        handler = getattr(view_class, name, None)
        if handler is None and method == "HEAD":
            handler = getattr(view_class, "get", None)
        if handler is not None:
            targets.append(handler)
    requirement: Requirement | None = None
    for target in targets:
        marked = requirement_of(target)
        if marked is not None:
            requirement = marked if requirement is None else requirement & marked
    return requirement, any(is_public(target) for target in targets)


class AudienceMiddleware:
    """Deny by default: every view needs a valid token for ``AUDMW["AUDIENCE"]``.

    Views opt out with ``@public`` or ``AUDMW["EXEMPT_PATHS"]``, and ask for scopes with
    ``@require_scopes``/``@require_any_scope`` or ``AUDMW["RULES"]``. On success
    ``request.access_token`` is the ``AccessToken`` (None on public views).
    """

    sync_capable = True
    async_capable = True
    process_view: ProcessView

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        self._marks: dict[tuple[ViewFunc, str], tuple[Requirement | None, bool]] = {}
        if self.async_mode:
            markcoroutinefunction(self)
            # Django awaits a coroutine process_view as is: no thread, the async key fetches.
            self.process_view = self._process_view_async
        else:
            self.process_view = self._process_view_sync

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.async_mode:
            return self.__acall__(request)
        response: HttpResponseBase = self.get_response(request)
        if _unresolved(request):
            config = current()
            needed = _needed_without_view(config.guard, request)
            if needed is not None:
                try:
                    config.guard.authorize(
                        authorization_of(request, config.guard.token_environ_key),
                        needed,
                        token_in_query=token_in_query(request),
                    )
                except AuthError as error:
                    return refusal(config.guard, error)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase = await self.get_response(request)
        if _unresolved(request):
            config = current()
            needed = _needed_without_view(config.guard, request)
            if needed is not None:
                try:
                    await config.guard.authorize_async(
                        authorization_of(request, config.guard.token_environ_key),
                        needed,
                        token_in_query=token_in_query(request),
                    )
                except AuthError as error:
                    return refusal(config.guard, error)
        return response

    def _process_view_sync(
        self,
        request: HttpRequest,
        view_func: ViewFunc,
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        config, needed = self._judge(request, view_func)
        if needed is None:
            return None
        try:
            token = config.guard.authorize(
                authorization_of(request, config.guard.token_environ_key),
                needed,
                token_in_query=token_in_query(request),
            )
        except AuthError as error:
            return refusal(config.guard, error)
        _accept(request, token, config)
        return None

    async def _process_view_async(
        self,
        request: HttpRequest,
        view_func: ViewFunc,
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        config, needed = self._judge(request, view_func)
        if needed is None:
            return None
        try:
            token = await config.guard.authorize_async(
                authorization_of(request, config.guard.token_environ_key),
                needed,
                token_in_query=token_in_query(request),
            )
        except AuthError as error:
            return refusal(config.guard, error)
        _accept(request, token, config)
        return None

    def _judge(
        self, request: HttpRequest, view_func: ViewFunc
    ) -> tuple[Config, Requirement | None]:
        """What the resolved view needs (None: public, the token is not read)."""
        setattr(request, _JUDGED, True)
        request.access_token = None  # type: ignore[attr-defined]
        config = current()
        method = request.method or "GET"
        key = (view_func, method)
        marks = self._marks.get(key)
        if marks is None:
            marks = self._marks[key] = view_marks(view_func, method)
        marked, public = marks
        return config, config.guard.requirement(method, request.path_info, marked, public=public)


def _unresolved(request: HttpRequest) -> bool:
    """No view was judged and the URL did not resolve (a 404, or a response from below)."""
    return not getattr(request, _JUDGED, False) and request.resolver_match is None


def _needed_without_view(guard: Guard, request: HttpRequest) -> Requirement | None:
    return guard.requirement(request.method or "GET", request.path_info)


def _accept(request: HttpRequest, token: AccessToken, config: Config) -> None:
    request.access_token = token  # type: ignore[attr-defined]
    if config.options.token_user:
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
