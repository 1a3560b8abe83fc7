"""Starlette / ASGI: ``AudienceMiddleware`` checks the bearer token before any endpoint runs.

A pure ASGI middleware. It resolves the route the way Starlette's router does (mounts, hosts,
nested routers, path parameters, methods, ``HTTPEndpoint`` handlers, FastAPI's included
routers and ``Security`` dependencies), asks the core ``Guard`` what the route needs, and
either refuses with the core's answer or calls the app with ``scope["auth"]`` and
``scope["user"]`` set, so ``request.auth``, ``request.user`` and ``@requires`` work::

    app = Starlette(routes=routes, middleware=[Middleware(AudienceMiddleware)])
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser
from starlette.endpoints import HTTPEndpoint
from starlette.requests import HTTPConnection
from starlette.routing import BaseRoute, Host, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from audmw.answer import Answer
from audmw.client import SubjectToken, verified_subject
from audmw.decision import HTTP_METHODS, STANDARD_METHODS, View, handler_levels, handler_name
from audmw.errors import AuthError, ConfigurationError
from audmw.guard import Guard
from audmw.marks import (
    describe,
    hidden_marks,
    public,
    require_any_scope,
    require_app,
    require_authentication,
    require_authorization_details,
    require_scopes,
    require_user,
    requirement_of,
    unhandled_marks,
)
from audmw.request import (
    IncomingRequest,
    asgi_client_certificate,
    check_form_size,
    is_form,
    is_preflight,
    new_request,
    token_in_form,
    token_in_query,
)
from audmw.requirements import ANY_VALID_TOKEN, Requirement
from audmw.settings import Settings
from audmw.token import AccessToken
from audmw.verifier import PendingToken

__all__ = [
    "GUARD_SCOPE_KEY",
    "ApiOperation",
    "AudienceMiddleware",
    "TokenUser",
    "api_operations",
    "incoming_request",
    "incoming_token",
    "lost_marks",
    "public",
    "require_any_scope",
    "require_app",
    "require_authentication",
    "require_authorization_details",
    "require_scopes",
    "require_user",
    "route_requirements",
    "route_template",
    "routed_template",
]

logger = logging.getLogger("audmw")

GUARD_SCOPE_KEY = "audmw.guard"
"""The scope key under which the middleware leaves its ``Guard`` for dependencies to reuse."""

_MAX_DEPTH = 32  # mounts within mounts; deeper trees are treated as unresolved
_CACHE_SIZE = 1024
_KEPT_PATH = 256  # the longest path whose route template is remembered
_STOCK_ROUTING = frozenset({"starlette.routing", "fastapi.routing"})
# FastAPI's own documentation endpoints are functions that ``FastAPI.setup`` defines.
_FASTAPI_DOCS_MODULE = "fastapi.applications"
_FASTAPI_DOCS_PREFIX = "FastAPI.setup.<locals>."


class TokenUser(BaseUser):
    """``request.user`` for a request that carried a valid access token."""

    def __init__(self, token: AccessToken) -> None:
        self.token = token

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.token.display_name

    @property
    def identity(self) -> str:
        return self.token.display_name

    def __repr__(self) -> str:
        return f"TokenUser(subject={self.token.subject!r})"


class _Resolved(NamedTuple):
    view: View | None  # None: the router or the endpoint answers on its own (405)
    cacheable: bool  # no path parameter, no host: the same method and path resolve the same


_UNRESOLVED = _Resolved(None, False)
_MISSING = object()


def _unwrap(endpoint: Any) -> Any:
    while isinstance(endpoint, functools.partial):
        endpoint = endpoint.func
    return endpoint


def _is_fastapi_docs(endpoint: object) -> bool:
    """Whether ``endpoint`` is one FastAPI added itself for ``openapi_url``, ``docs_url``,
    ``redoc_url`` or ``swagger_ui_oauth2_redirect_url``, whatever paths the app gave them.

    A function of the app's own at the same path is not: only FastAPI defines these."""
    qualname = getattr(endpoint, "__qualname__", None)
    return (
        isinstance(qualname, str)
        and qualname.startswith(_FASTAPI_DOCS_PREFIX)
        and getattr(endpoint, "__module__", None) == _FASTAPI_DOCS_MODULE
    )


class _FastAPIDocs:
    """The level the middleware adds on the way to FastAPI's documentation routes."""

    def __repr__(self) -> str:
        return "FastAPI documentation"


# Public as a level: a requirement elsewhere on the way, or a scope rule, still wins.
_OPEN_DOCS = public(_FastAPIDocs())


def _opened_docs(view: View | None) -> View | None:
    """``view`` with the public level when it calls FastAPI's documentation, else itself."""
    if view is None or not view.levels or not _is_fastapi_docs(view.levels[-1]):
        return view
    return View((*view.levels, _OPEN_DOCS), view.others)


def _predictable(route: BaseRoute) -> bool:
    """Whether the route matches on the method and path alone (not on the host, headers...)."""
    matches = type(route).matches
    return not isinstance(route, Host) and getattr(matches, "__module__", None) in _STOCK_ROUTING


def _matches(route: BaseRoute, scope: Scope) -> tuple[Match, Scope]:
    """``route.matches``, where a convertor's error (a 5,000-digit int) is no match."""
    try:
        return route.matches(scope)
    except Exception:
        return Match.NONE, {}


_INDEXED_ROUTES = frozenset(
    {
        ("starlette.routing", "Route"),
        ("starlette.routing", "WebSocketRoute"),
        ("starlette.routing", "Mount"),
        ("fastapi.routing", "APIRoute"),
        ("fastapi.routing", "APIWebSocketRoute"),
    }
)
_INDEX_FROM = 16  # shorter lists are tried in full: an index would not pay for itself
_INDEXES_KEPT = 256


def _first_segment(path: str) -> str:
    return path[1:].split("/", 1)[0]


def _literal_segment(route: BaseRoute) -> str | None:
    """The first path segment every path ``route`` matches starts with, for the stock routes
    whose path is their pattern; None where any path may match (a parameter, a host, a
    route class of the app's own)."""
    kind = type(route)
    if (kind.__module__, kind.__name__) not in _INDEXED_ROUTES:
        return None
    if hasattr(route, "original_router"):
        return None
    path = getattr(route, "path", None)
    if not isinstance(path, str) or not path.startswith("/"):
        return None
    segment = _first_segment(path)
    return None if "{" in segment else segment


class _RouteIndex:
    """The routes of one list by the literal first segment of their path, in list order.

    A route whose pattern starts with ``/svc1/`` can match (fully or partly) only a path
    inside the app whose first segment is ``svc1``; routes that may match any path are in
    every bucket. Trying a bucket in order is trying the list in order, minus routes that
    cannot match: the router's first match, and its 405 for a partial one, stay the same.
    """

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.routes = routes
        self.length = len(routes)
        literal = [_literal_segment(route) for route in routes]
        self.anywhere = tuple(n for n, segment in enumerate(literal) if segment is None)
        positions: dict[str, list[int]] = {}
        for n, segment in enumerate(literal):
            if segment is not None:
                positions.setdefault(segment, []).append(n)
        self.buckets = {
            segment: tuple(sorted((*found, *self.anywhere))) for segment, found in positions.items()
        }

    def candidates(self, scope: Scope) -> list[BaseRoute]:
        path: str = scope["path"]
        segments = {_first_segment(path)}
        root_path: str = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            # Routes match the path inside the mount point; both spellings are tried.
            segments.add(_first_segment(_route_path(scope)))
            segments.add(_first_segment(path[len(root_path) :]))
        found: set[int] = set()
        for segment in segments:
            found.update(self.buckets.get(segment, self.anywhere))
        routes = self.routes
        return [routes[n] for n in sorted(found)]


_indexes: dict[int, _RouteIndex] = {}


def _candidates(routes: Sequence[BaseRoute], scope: Scope) -> Sequence[BaseRoute]:
    """The routes of ``routes`` that may match ``scope``'s path, in order."""
    if len(routes) < _INDEX_FROM or not isinstance(scope.get("path"), str):
        return routes
    if scope.get("fastapi"):
        return routes  # inside an included router FastAPI matches routes by its own context
    index = _indexes.get(id(routes))
    if index is None or index.routes is not routes or index.length != len(routes):
        if len(_indexes) >= _INDEXES_KEPT:
            _indexes.clear()
        index = _indexes[id(routes)] = _RouteIndex(routes)
    return index.candidates(scope)


def _resolve(
    routes: Sequence[BaseRoute], scope: Scope, outer: tuple[object, ...] = (), depth: int = 0
) -> _Resolved:
    """The view the router will hand ``scope`` to, with the levels of marks on the way."""
    if depth > _MAX_DEPTH:
        return _UNRESOLVED
    predictable = True
    partial: BaseRoute | None = None
    for route in _candidates(routes, scope):
        predictable = predictable and _predictable(route)
        match, child = _matches(route, scope)
        if match is not Match.FULL:
            if match is Match.PARTIAL and partial is None:
                partial = route  # the router answers 405 if nothing matches fully
            continue
        cacheable = predictable and not child.get("path_params")
        if hasattr(route, "original_router") and hasattr(route, "_match"):
            # FastAPI's included router: the effective route (with the include's dependencies).
            found = _resolve_included(route, scope, outer, depth)
        elif isinstance(route, (Mount, Host)):
            base = getattr(route, "_base_app", route.app)
            inner = getattr(base, "routes", None)
            if inner is None:  # an ASGI app mounted as a whole, e.g. StaticFiles
                return _Resolved(View((*outer, base)), False)
            found = _resolve(inner, {**scope, **child}, (*outer, base), depth + 1)
        else:
            found = _leaf(route, route, scope, outer, cacheable)
        return found._replace(cacheable=cacheable and found.cacheable)
    if partial is not None and not isinstance(partial, (Mount, Host)):
        if hasattr(partial, "original_router") and hasattr(partial, "_match"):
            found = _resolve_included(partial, scope, outer, depth)
        else:
            found = _leaf(partial, partial, scope, outer, False)
        view = found.view
        if view is not None and view.answers:
            return _Resolved(View.unanswered(*view.levels, *view.others), False)
        return found._replace(cacheable=False)
    return _UNRESOLVED


def route_template(
    routes: Sequence[BaseRoute], scope: Scope, prefix: str = "", depth: int = 0
) -> str | None:
    """The template of the route ``scope`` matches (``/items/{item_id}``, with the paths of
    the mounts on the way), as the router will match it; None when none matches."""
    if depth > _MAX_DEPTH:
        return None
    partial: str | None = None
    for route in routes:
        match, child = _matches(route, scope)
        if match is Match.NONE:
            continue
        path = str(getattr(route, "path", "") or "")
        if hasattr(route, "original_router") and hasattr(route, "_match"):
            path = _included_template(route, scope) or ""
        elif isinstance(route, (Mount, Host)):
            inner = getattr(getattr(route, "_base_app", route.app), "routes", None)
            if inner is None:  # an ASGI app mounted as a whole
                found: str | None = prefix + path
            else:
                found = route_template(inner, {**scope, **child}, prefix + path, depth + 1)
            if match is Match.FULL:
                return found
            partial = partial or found
            continue
        if match is Match.FULL:
            return prefix + path
        partial = partial or prefix + path  # the router answers 405 for it
    return partial


def _included_template(route: Any, scope: Scope) -> str | None:
    """The template of FastAPI's included router's route that ``scope`` matches."""
    try:
        context = route._match(dict(scope))[3]
    except Exception:
        return None
    found = getattr(context, "path_format", None)
    return found if isinstance(found, str) else None


def _resolve_included(route: Any, scope: Scope, outer: tuple[object, ...], depth: int) -> _Resolved:
    try:
        match, child, inner, context = route._match(dict(scope))
    except Exception:
        return _UNRESOLVED
    if match is Match.NONE or inner is None:
        return _UNRESOLVED
    outer = (*outer, route.original_router)
    if hasattr(inner, "original_router"):
        found = _resolve([inner], {**scope, **child}, outer, depth + 1)
    elif context is not None and context.original_route is inner:
        found = _leaf(context, inner, scope, outer, False)
    else:
        found = _resolve([inner], scope, outer, depth + 1)
    if match is Match.PARTIAL and found.view is not None:  # FastAPI answers 405
        view = found.view
        return _Resolved(View.unanswered(*view.levels, *view.others), False)
    return found


def _leaf(
    leaf: Any, route: Any, scope: Scope, outer: tuple[object, ...], cacheable: bool
) -> _Resolved:
    endpoint = _unwrap(getattr(leaf, "endpoint", None) or getattr(route, "endpoint", None))
    dependencies = _dependency_requirement(getattr(leaf, "dependant", None))
    needs = () if dependencies is None else (dependencies,)
    if inspect.isclass(endpoint) and issubclass(endpoint, HTTPEndpoint):
        if scope["type"] != "http":
            return _UNRESOLVED
        # As HTTPEndpoint.dispatch picks it: any attribute named after the method.
        method = scope["method"]
        own = method.lower()
        found = handler_name(method, [n for n in (own, "get") if hasattr(endpoint, n)])
        name = found or own
        others = tuple(m for m in HTTP_METHODS if m != name and hasattr(endpoint, m))
        elsewhere = handler_levels(endpoint, *others)[1:]
        if found is None or getattr(endpoint, name, None) is None:  # the endpoint answers 405
            everything = (*outer, *handler_levels(endpoint, "dispatch"), *needs, *elsewhere)
            return _Resolved(View.unanswered(*everything), cacheable)
        levels = handler_levels(endpoint, "dispatch", name)
        return _Resolved(View((*outer, *levels, *needs), elsewhere), cacheable)
    return _Resolved(View((*outer, endpoint, *needs)), cacheable)


def _dependency_requirement(dependant: Any, scopes: tuple[str, ...] = ()) -> Requirement | None:
    """Scopes that ``audmw.fastapi`` bearer dependencies of a FastAPI route will ask for."""
    result: Requirement | None = None
    for sub in getattr(dependant, "dependencies", ()):
        own = getattr(sub, "own_oauth_scopes", None) or getattr(sub, "security_scopes", None)
        needed = (*scopes, *(own or ()))
        call = _unwrap(sub.call)
        found: Requirement | None = None
        if getattr(call, "audmw_bearer", False) is True:
            found = Requirement.of(all_of=needed) & (requirement_of(call) or Requirement())
        deeper = _dependency_requirement(sub, needed)
        if deeper is not None:
            found = deeper if found is None else found & deeper
        if found is not None:
            result = found if result is None else result & found
    return result


class ApiOperation(NamedTuple):
    """A FastAPI route as its OpenAPI document lists it, with what the middleware reads of it."""

    path: str
    """The path as the document names it (``path_format``, with the include's prefix)."""
    methods: frozenset[str]
    view: View
    """What the middleware resolves a request for this route to (for any of ``methods``)."""
    security: Requirement | None
    """What the route's ``audmw.fastapi`` security dependencies ask for, or None."""
    dependant: Any
    """FastAPI's dependency tree of the route (with the include's dependencies)."""


def api_operations(routes: Sequence[BaseRoute]) -> Iterator[ApiOperation]:
    """Every FastAPI route under ``routes`` that FastAPI's OpenAPI document lists: the app's
    own and those of its included routers (not mounted apps: they have a document of their
    own), in the order the router tries them."""
    return _api_operations(routes, (), 0)


def _api_operations(
    routes: Sequence[Any], outer: tuple[object, ...], depth: int
) -> Iterator[ApiOperation]:
    if depth > _MAX_DEPTH:
        return
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:  # an included router: its routes with the include's parts
            candidates = getattr(route, "effective_candidates", None)
            if callable(candidates):
                yield from _api_operations(candidates(), (*outer, original), depth + 1)
            continue
        dependant = getattr(route, "dependant", None)
        methods = getattr(route, "methods", None)
        if dependant is None or not methods or not getattr(route, "include_in_schema", False):
            continue
        # The levels resolution lists, for any method: a FastAPI route is one function.
        view = _leaf(route, route, {"type": "http", "method": "GET"}, outer, False).view
        if view is not None:
            security = _dependency_requirement(dependant)
            yield ApiOperation(route.path_format, frozenset(methods), view, security, dependant)


def _fastapi_app(routes: Sequence[BaseRoute]) -> Any:
    """The FastAPI application whose own OpenAPI route is among ``routes``, or None."""
    for route in routes:
        endpoint = getattr(route, "endpoint", None)
        if (
            callable(endpoint)
            and _is_fastapi_docs(endpoint)
            and getattr(endpoint, "__name__", None) == "openapi"
        ):
            # FastAPI's endpoint serves ``self.openapi()`` of the application it belongs to.
            owner = inspect.getclosurevars(endpoint).nonlocals.get("self")
            if getattr(owner, "routes", None) is routes and callable(
                getattr(owner, "openapi", None)
            ):
                return owner
    return None


def _app_routes(app: Any) -> Sequence[BaseRoute] | None:
    """The routes of ``app``, looking through middleware that keep the wrapped app as ``.app``."""
    for _ in range(_MAX_DEPTH):
        routes = getattr(app, "routes", None)
        if routes is not None:
            return routes  # type: ignore[no-any-return]
        app = getattr(app, "app", None)
        if app is None:
            return None
    return None


def _routed(
    routes: Sequence[Any], label: str = "", depth: int = 0
) -> Iterator[tuple[str, Any, Any]]:
    """Every (path, endpoint, FastAPI dependant) under ``routes``, through mounts and includes."""
    if depth > _MAX_DEPTH:
        return
    for route in routes:
        path = label + str(getattr(route, "path", "") or "")
        original = getattr(route, "original_router", None)
        if original is not None:  # FastAPI's included router
            prefix = getattr(getattr(route, "include_context", None), "prefix", "") or ""
            yield from _routed(original.routes, label + str(prefix), depth + 1)
            continue
        inner = getattr(getattr(route, "_base_app", getattr(route, "app", None)), "routes", None)
        if isinstance(route, (Mount, Host)) and inner is not None:
            yield from _routed(inner, path, depth + 1)
            continue
        endpoint = _unwrap(getattr(route, "endpoint", None))
        if endpoint is not None:
            yield path, endpoint, getattr(route, "dependant", None)


def _plain_dependencies(dependant: Any, depth: int = 0) -> Iterator[Any]:
    """Dependency callables with marks that are not audmw's: their marks are never read."""
    for sub in getattr(dependant, "dependencies", ()) if depth <= _MAX_DEPTH else ():
        call = _unwrap(sub.call)
        if getattr(call, "audmw_bearer", False) is not True and requirement_of(call) is not None:
            yield call
        yield from _plain_dependencies(sub, depth + 1)


def route_requirements(routes: Sequence[BaseRoute]) -> Iterator[Requirement | None]:
    """What every level of marks under ``routes`` requires (mounts, included routers, view
    classes and their handlers, FastAPI security dependencies): the scopes the resource
    metadata lists by default."""
    return _route_requirements(routes, 0)


def _route_requirements(routes: Sequence[Any], depth: int) -> Iterator[Requirement | None]:
    if depth > _MAX_DEPTH:
        return
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:  # FastAPI's included router: its routes with the include's
            yield requirement_of(original)
            candidates = getattr(route, "effective_candidates", None)
            inner = candidates() if callable(candidates) else getattr(original, "routes", ())
            yield from _route_requirements(inner, depth + 1)
            continue
        if isinstance(route, (Mount, Host)):
            base = getattr(route, "_base_app", route.app)
            yield requirement_of(base)
            yield from _route_requirements(getattr(base, "routes", None) or (), depth + 1)
            continue
        endpoint = _unwrap(getattr(route, "endpoint", None))
        if inspect.isclass(endpoint) and issubclass(endpoint, HTTPEndpoint):
            levels = handler_levels(endpoint, "dispatch", *HTTP_METHODS)
        else:
            levels = (endpoint,)
        for level in levels:
            yield requirement_of(level)
        yield _dependency_requirement(getattr(route, "dependant", None))


def lost_marks(routes: Sequence[BaseRoute]) -> list[str]:
    """Marks on the routes' endpoints that cannot take effect, each with the fix."""
    problems: list[str] = []
    for path, endpoint, dependant in _routed(routes):
        carriers: list[object] = [endpoint]
        if inspect.isclass(endpoint) and issubclass(endpoint, HTTPEndpoint):
            handlers = {m for m in HTTP_METHODS if hasattr(endpoint, m)}
            handlers |= {"dispatch", "method_not_allowed"}
            carriers.extend(handler_levels(endpoint, *sorted(handlers)))
            for name in unhandled_marks(endpoint, handlers):
                problems.append(
                    f"{path}: the mark on {describe(endpoint)}.{name} cannot take effect: "
                    f"{name} is not a handler Starlette calls; mark the class or a method "
                    "handler (get, post, ...)"
                )
        # FastAPI's documentation endpoints hold the application (marked, when it is mounted
        # with a mark), not a view of the app's that they hide.
        for hidden in () if _is_fastapi_docs(endpoint) else hidden_marks(carriers):
            problems.append(
                f"{path}: the mark on {describe(hidden)} cannot take effect: a decorator above "
                "it hides the function from audmw; put @require_scopes / @require_any_scope "
                "above the other decorators, or make them use functools.wraps"
            )
        for call in _plain_dependencies(dependant):
            problems.append(
                f"{path}: the mark on the dependency {describe(call)} cannot take effect: "
                "audmw reads the marks of endpoints and of its own security dependencies "
                "(RequireScopes, Security(bearer, scopes=...)); mark the endpoint instead"
            )
    return list(dict.fromkeys(problems))


class AudienceMiddleware:
    """Refuses HTTP requests and WebSocket handshakes without a valid token for this API.

    Deny by default: every route needs a valid token unless it is marked ``@public`` or its
    path is in ``exempt_paths``; ``require_scopes``/``require_any_scope`` marks, rules from
    the settings and FastAPI ``Security`` scopes are enforced before the endpoint and its
    dependencies run. Configure it with ``settings=``, keyword options for ``Settings``, or
    the ``AUDMW_*`` environment. ``routes=`` names the routes when the middleware wraps
    something that is not a Starlette application or router.

    FastAPI's own documentation routes (``openapi_url``, ``docs_url``, ``redoc_url``,
    ``swagger_ui_oauth2_redirect_url``) need no token, so that Swagger UI loads; pass
    ``protect_docs=True`` to make them need one like any other route. The app's OpenAPI
    document then lists the scopes each operation needs, as the middleware decides them, and
    its refusals (``audmw.fastapi.describe_security``).
    """

    def __init__(
        self,
        app: ASGIApp,
        /,
        settings: Settings | None = None,
        *,
        guard: Guard | None = None,
        routes: Sequence[BaseRoute] | None = None,
        protect_docs: bool = False,
        **options: Any,
    ) -> None:
        self.app = app
        if guard is not None and (settings is not None or options):
            raise TypeError("pass either a Guard, a Settings or keyword options")
        self._routes = routes
        self._open_docs = not protect_docs
        self._paths: dict[tuple[str, str, str, str, int, int], Requirement | None] = {}
        self._templates: dict[tuple[Any, ...], object] = {}
        # Kept bound: each request's IncomingRequest names it, for refusals' log lines only.
        self._route_of = self._template
        self._warned = False
        self.problem: ConfigurationError | None = None
        """Why the app cannot be protected, found when Starlette built the middleware stack
        (on its first lifespan event or request): the app's start-up fails with it."""
        try:
            self.guard = guard or Guard(settings, **options)
            known = routes if routes is not None else _app_routes(app)
            problems = lost_marks(known) if known is not None else []
            if problems:
                raise ConfigurationError("audmw: " + "\n".join(problems))
            fastapi_app = _fastapi_app(known) if known is not None else None
            if fastapi_app is not None:
                from audmw.fastapi import describe_security  # only ever with FastAPI installed

                describe_security(fastapi_app, self.guard)
        except ConfigurationError as problem:
            # Raising here would not stop a server: uvicorn and others take an exception in
            # the first lifespan call for "lifespan unsupported" and serve anyway.
            self.problem = problem
            logger.error("%s", problem)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if self.problem is not None:
            await _misconfigured(self.problem, scope, receive, send)
            return
        if kind != "http" and kind != "websocket":
            if kind == "lifespan" and self.guard.settings.prefetch_keys:
                receive = _prefetching(self.guard, receive)
            await self.app(scope, receive, send)  # lifespan and anything else pass untouched
            return
        guard = self.guard
        scope[GUARD_SCOPE_KEY] = guard
        request, content_type = _read_headers(
            scope,
            guard.token_header_bytes,
            guard.wants_url,
            guard.proxy_headers_bytes,
            self._route_of,
        )
        metadata = guard.metadata
        if metadata is not None and kind == "http" and request.path in metadata.paths:
            routes = self._routes_for(scope)
            served = guard.metadata_answer(
                request.method,
                request.path,
                functools.partial(_requirements_of, routes),
                (id(routes), len(routes)) if routes is not None else None,
            )
            if served is not None:
                await _send_answer(served, send)
                return
        if guard.observer is not None:
            await self._observed(scope, receive, send, request, content_type)
            return
        try:
            requirement = self._requirement(scope, request)
            if requirement is None:
                scope["auth"] = AuthCredentials()
                scope["user"] = UnauthenticatedUser()
                await self.app(scope, receive, send)
                return
            if content_type is not None and is_form(content_type):
                request, receive = await _read_form(request, receive)
            token = guard.lookup(request)
            if isinstance(token, PendingToken):  # not verified before: no await on a cache hit
                token = await guard.verify_async(token, request)
            replay = guard.confirm(request, token)  # DPoP proof, certificate binding
            if replay is not None:
                await guard.record_async(replay, token, request)
            if requirement is not ANY_VALID_TOKEN:
                guard.check_scopes(token, requirement, request)
        except AuthError as error:
            guard.mark_scheme(error, request)
            await self.refuse(error, scope, send)
            return
        scope["auth"] = AuthCredentials(token.scopes)  # type: ignore[arg-type]  # it makes a list
        scope["user"] = TokenUser(token)
        if guard.issues_nonces:
            nonce = guard.fresh_nonce(request)
            if nonce is not None:
                send = _with_nonce(send, nonce)
        await self.app(scope, receive, send)

    async def _observed(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        request: IncomingRequest,
        content_type: bytes | None,
    ) -> None:
        """``__call__`` with the decision reported to the guard's observer (a decision hook or
        OpenTelemetry): the same steps, kept apart so that an app that observes nothing runs
        exactly the code it ran before."""
        guard = self.guard
        assert guard.observer is not None
        watch = guard.observer.watch(request, self._template(scope))
        try:
            requirement = self._requirement(scope, request)
            if requirement is None:
                scope["auth"] = AuthCredentials()
                scope["user"] = UnauthenticatedUser()
                await self.app(scope, receive, send)
                return
            if content_type is not None and is_form(content_type):
                request, receive = await _read_form(request, receive)
            # Guard.authorize_async: the same checks (proof of possession included).
            token = await watch.authorize_async(guard, request, requirement)
        except AuthError as error:
            guard.mark_scheme(error, request)
            watch.refused(error)
            await self.refuse(error, scope, send)
            return
        watch.accepted()
        scope["auth"] = AuthCredentials(token.scopes)  # type: ignore[arg-type]  # it makes a list
        scope["user"] = TokenUser(token)
        if guard.issues_nonces:
            nonce = guard.fresh_nonce(request)
            if nonce is not None:
                send = _with_nonce(send, nonce)
        await self.app(scope, receive, send)

    # -- route resolution ------------------------------------------------------------------

    def _requirement(self, scope: Scope, request: IncomingRequest) -> Requirement | None:
        """What this request needs (None: public), from its route, exempt paths and rules."""
        routes = self._routes_for(scope)
        key = None
        if routes is not None and not request.preflight:
            # Routes added later change the length; a cached match stays right when routes
            # are appended, as the router also takes the first full match.
            key = (
                scope["type"],
                request.method,
                request.path,
                scope.get("root_path", ""),
                id(routes),
                len(routes),
            )
            cached = self._paths.get(key, _MISSING)
            if cached is not _MISSING:
                return cached  # type: ignore[return-value]
        resolved = _resolve(routes, scope) if routes is not None else _UNRESOLVED
        view = _opened_docs(resolved.view) if self._open_docs else resolved.view
        requirement = self.guard.requirement(request, view)
        # Only routes without path parameters are remembered, and only so many: the cache
        # cannot grow with the URLs clients make up. Exempt paths and rules depend on the
        # method and path alone, so the guard's answer is remembered with the route.
        if (
            key is not None
            and resolved.cacheable
            and request.method in STANDARD_METHODS
            and len(self._paths) < _CACHE_SIZE
        ):
            self._paths[key] = requirement
        return requirement

    def _template(self, scope: Scope) -> str | None:
        """The route template the router will match, for reports; remembered by method and
        path, and only so many (paths are the client's), like the routes' requirements."""
        routes = self._routes_for(scope)
        if routes is None:
            return None
        key = (
            scope["type"],
            scope.get("method"),
            scope["path"],
            scope.get("root_path", ""),
            id(routes),
            len(routes),
        )
        found = self._templates.get(key, _MISSING)
        if found is _MISSING:
            found = route_template(routes, scope)
            # Made-up methods and long paths are not kept: the memo stays small.
            if (key[1] in STANDARD_METHODS or key[1] is None) and len(key[2]) <= _KEPT_PATH:
                if len(self._templates) >= _CACHE_SIZE:
                    self._templates.clear()
                self._templates[key] = found
        return found  # type: ignore[return-value]

    def _routes_for(self, scope: Scope) -> Sequence[BaseRoute] | None:
        if self._routes is not None:
            return self._routes
        route = scope.get("route")
        if isinstance(route, (Mount, Host)):
            # Installed inside a mount: the outer router already matched its part of the path.
            return route.routes
        app = scope.get("app")
        routes = getattr(app, "routes", None)  # a Starlette application or router, as a rule
        if routes:
            return routes  # type: ignore[no-any-return]
        routes = _app_routes(app) or _app_routes(self.app)
        if routes is None and not self._warned:
            self._warned = True
            logger.warning(
                "audmw: AudienceMiddleware found no routes; route marks cannot be read, so every "
                "request needs a valid token (exempt_paths and rules still apply). Pass routes="
            )
        return routes

    # -- refusals --------------------------------------------------------------------------

    async def refuse(self, error: AuthError, scope: Scope, send: Send) -> None:
        """Send the core's answer to a refused request; override to shape it differently."""
        answer = self.guard.answer(error)
        headers = _raw_headers(answer)
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": answer.status, "headers": headers})
            await send({"type": "http.response.body", "body": answer.body})
        elif "websocket.http.response" in (scope.get("extensions") or {}):
            # Refused before the handshake completes, with the same status and challenge.
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": answer.status,
                    "headers": headers,
                }
            )
            await send({"type": "websocket.http.response.body", "body": answer.body})
        else:
            # Closing before accept makes the server refuse the handshake (ASGI: HTTP 403).
            await send({"type": "websocket.close", "code": 1008, "reason": ""})


def _prefetching(guard: Guard, receive: Receive) -> Receive:
    """``receive`` of a lifespan that fetches the issuers' keys when the server starts up,
    before the app's own start-up runs (``prefetch_keys``)."""

    async def receiving() -> Message:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await guard.prefetch_keys_async()
        return message

    return receiving


def _with_nonce(send: Send, nonce: str) -> Send:
    """``send`` adding ``DPoP-Nonce`` to the response's headers (RFC 9449 §8.2)."""
    header = (b"dpop-nonce", nonce.encode("latin-1"))

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), header]}
        await send(message)

    return sending


def _requirements_of(routes: Sequence[BaseRoute] | None) -> list[Requirement | None]:
    """What ``routes`` require, for the resource metadata's ``scopes_supported``."""
    return list(route_requirements(routes)) if routes is not None else []


def _raw_headers(answer: Answer) -> list[tuple[bytes, bytes]]:
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers
    ]
    headers.append((b"content-length", str(len(answer.body)).encode("latin-1")))
    return headers


async def _send_answer(answer: Answer, send: Send) -> None:
    """Send an answer the core built that is not a refusal (the resource metadata)."""
    headers = _raw_headers(answer)
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})


async def _misconfigured(
    problem: ConfigurationError, scope: Scope, receive: Receive, send: Send
) -> None:
    """Fail the server's start-up with the settings message; answer requests with 500."""
    if scope["type"] == "lifespan":
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.failed", "message": str(problem)})
        raise problem  # as Starlette's own failed start-up does: the server then exits
    if scope["type"] == "http":
        body = b'{"error": "server_error", "error_description": "The server is misconfigured"}'
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode("latin-1")),
        ]
        await send({"type": "http.response.start", "status": 500, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    elif scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1011, "reason": ""})


def incoming_request(
    scope: Scope,
    token_header: bytes = b"authorization",
    proxy_headers: frozenset[bytes] = frozenset(),
    route_of: Callable[[Scope], str | None] | None = None,
) -> IncomingRequest:
    """The core's ``IncomingRequest`` of an ASGI HTTP or WebSocket scope; ``proxy_headers``
    are the names of the headers a trusted proxy sets (``Guard.proxy_headers_bytes``);
    ``route_of`` names the route template for a refusal's log line."""
    return _read_headers(scope, token_header, True, proxy_headers, route_of)[0]


def routed_template(scope: Scope) -> str | None:
    """The template of the route the router already matched (``scope["route"]``), or None."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else None


def _read_headers(
    scope: Scope,
    token_header: bytes,
    url: bool,
    proxy_headers: frozenset[bytes] = frozenset(),
    route_of: Callable[[Scope], str | None] | None = None,
) -> tuple[IncomingRequest, bytes | None]:
    """The ``IncomingRequest`` of ``scope`` and its ``Content-Type``, in one pass;
    ``route_of`` names its route template, asked only when the request is refused."""
    # ASGI servers give header names in lower case (Starlette's Headers relies on it too).
    credentials = []
    host = b""
    content_type = None
    origin = request_method = False
    dpop: list[bytes] = []
    proxy: list[tuple[str, str]] = []
    for name, value in scope["headers"]:  # a loop: no comprehension frame per request
        if name == token_header:
            credentials.append(value)
        elif name == b"host":
            host = value
        elif name == b"dpop":
            dpop.append(value)
        elif name in proxy_headers:
            proxy.append((name.decode("latin-1"), value.decode("latin-1")))
        elif name == b"content-type" and content_type is None:
            content_type = value  # the first, as Starlette's Request reads it
        elif name == b"origin":
            origin = True
        elif name == b"access-control-request-method":
            request_method = True
    if scope["type"] == "http":
        method = scope["method"]
    else:
        method, content_type = "GET", None
    query = scope.get("query_string")
    request: IncomingRequest = new_request(
        IncomingRequest,
        (
            method,
            _route_path(scope),
            tuple(credentials),
            token_in_query(query) if query else False,
            False,
            origin and is_preflight(method, origin, request_method),
            scope.get("scheme", "http") if url else "",
            host.decode("latin-1") if url else "",
            scope.get("root_path", ""),
            tuple(dpop) if url else (),
            asgi_client_certificate(scope) if "extensions" in scope else None,
            (scope.get("client") or ("",))[0] if url else "",
            tuple(proxy),
            route_of,
            scope,
        ),
    )
    return request, content_type


async def _read_form(request: IncomingRequest, receive: Receive) -> tuple[IncomingRequest, Receive]:
    """Read a form body for an ``access_token`` field; the app receives the same messages."""
    messages: list[Message] = []
    body = bytearray()
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        check_form_size(len(body), request)
        if not message.get("more_body", False):
            break
    replay = iter(messages)

    async def replayed() -> Message:
        return next(replay, None) or await receive()

    if token_in_form(bytes(body)):
        request = request._replace(token_in_body=True)
    return request, replayed


def _route_path(scope: Scope) -> str:
    """The path inside this application (without the ``root_path`` it is mounted under)."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        if path == root_path:
            return "/"
        if path[len(root_path)] == "/":
            return path[len(root_path) :]
    return path


def incoming_token(connection: HTTPConnection) -> SubjectToken:
    """The verified token of this request, for ``TokenExchange``/``OnBehalfOf.for_subject``.

    ``LookupError`` when the middleware verified no token for it (a public route).
    """
    user = connection.scope.get("user")
    guard = connection.scope.get(GUARD_SCOPE_KEY)
    token = user.token if isinstance(user, TokenUser) else None
    header = guard.token_header_bytes if isinstance(guard, Guard) else b"authorization"
    values = [
        value.decode("latin-1") for name, value in connection.scope["headers"] if name == header
    ]
    return verified_subject(values, token, header=header.decode("latin-1"))
