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
from collections.abc import Sequence
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser
from starlette.endpoints import HTTPEndpoint
from starlette.routing import BaseRoute, Host, Match, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from audmw.errors import AuthError
from audmw.guard import Guard, PendingToken
from audmw.marks import is_public, public, require_any_scope, require_scopes, requirement_of
from audmw.requirements import ANY_VALID_TOKEN, Requirement
from audmw.settings import Settings
from audmw.token import AccessToken

__all__ = [
    "GUARD_SCOPE_KEY",
    "AudienceMiddleware",
    "TokenUser",
    "public",
    "require_any_scope",
    "require_scopes",
]

logger = logging.getLogger("audmw")

GUARD_SCOPE_KEY = "audmw.guard"
"""The scope key under which the middleware leaves its ``Guard`` for dependencies to reuse."""

_MAX_DEPTH = 32  # mounts within mounts; deeper trees are treated as unresolved
_CACHE_SIZE = 1024
_STOCK_ROUTING = frozenset({"starlette.routing", "fastapi.routing"})


class TokenUser(BaseUser):
    """``request.user`` for a request that carried a valid access token."""

    def __init__(self, token: AccessToken) -> None:
        self.token = token

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.token.subject or self.token.client_id or ""

    @property
    def identity(self) -> str:
        return self.token.subject or self.token.client_id or ""

    def __repr__(self) -> str:
        return f"TokenUser(subject={self.token.subject!r})"


class _Resolved(NamedTuple):
    leaf: object  # the matched route (or FastAPI route context, or mounted ASGI app)
    marked: tuple[object, ...]  # what may carry marks, outermost first
    dependant: Any  # a FastAPI route's dependency tree, or None
    cacheable: bool  # no path parameter, no host: the same method and path resolve the same


class _Decision(NamedTuple):
    public: bool
    requirement: Requirement | None


_UNRESOLVED = _Decision(False, None)
_MISSING = object()


def _unwrap(endpoint: Any) -> Any:
    while isinstance(endpoint, functools.partial):
        endpoint = endpoint.func
    return endpoint


def _handler(endpoint: Any, scope: Scope) -> object | None:
    """The method of an ``HTTPEndpoint`` that will answer, as ``HTTPEndpoint.dispatch`` picks it."""
    method = scope["method"]
    name = "get" if method == "HEAD" and not hasattr(endpoint, "head") else method.lower()
    handler: object | None = getattr(endpoint, name, None)
    return handler


def _predictable(route: BaseRoute) -> bool:
    """Whether the route matches on the method and path alone (not on the host, headers...)."""
    matches = type(route).matches
    return not isinstance(route, Host) and getattr(matches, "__module__", None) in _STOCK_ROUTING


def _resolve(routes: Sequence[BaseRoute], scope: Scope, depth: int = 0) -> _Resolved | None:
    """The route the router will hand ``scope`` to; None when it answers 404 or 405 itself."""
    if depth > _MAX_DEPTH:
        return None
    predictable = True
    for route in routes:
        predictable = predictable and _predictable(route)
        match, child = route.matches(scope)
        if match is not Match.FULL:
            continue  # Match.PARTIAL ends as 405 when nothing matches fully: unresolved
        cacheable = predictable and not child.get("path_params")
        if hasattr(route, "original_router") and hasattr(route, "_match"):
            # FastAPI's included router: the effective route (with the include's dependencies).
            return _resolve_included(route, scope, depth)
        if isinstance(route, (Mount, Host)):
            base = getattr(route, "_base_app", route.app)
            inner = getattr(base, "routes", None)
            if inner is None:  # an ASGI app mounted as a whole, e.g. StaticFiles
                return _Resolved(base, (base,), None, False)
            found = _resolve(inner, {**scope, **child}, depth + 1)
            if found is None:
                return None
            return found._replace(
                marked=(base, *found.marked), cacheable=cacheable and found.cacheable
            )
        return _leaf(route, route, scope, cacheable)
    return None


def _resolve_included(route: Any, scope: Scope, depth: int) -> _Resolved | None:
    match, child, inner, context = route._match(dict(scope))
    if match is not Match.FULL or inner is None:
        return None
    if hasattr(inner, "original_router"):
        return _resolve([inner], {**scope, **child}, depth + 1)
    if context is not None and context.original_route is inner:
        return _leaf(context, inner, scope, False)
    return _resolve([inner], scope, depth + 1)


def _leaf(leaf: Any, route: Any, scope: Scope, cacheable: bool) -> _Resolved | None:
    endpoint = _unwrap(getattr(leaf, "endpoint", None) or getattr(route, "endpoint", None))
    dependant = getattr(leaf, "dependant", None)
    if inspect.isclass(endpoint) and issubclass(endpoint, HTTPEndpoint):
        if scope["type"] != "http":
            return None
        handler = _handler(endpoint, scope)
        if handler is None:
            return None  # the endpoint answers 405
        return _Resolved(leaf, (endpoint, handler), dependant, cacheable)
    return _Resolved(leaf, (endpoint,), dependant, cacheable)


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


def _decide(resolved: _Resolved) -> _Decision:
    """Marks on the way down combine; ``@public`` holds only where nothing asks for scopes."""
    requirement: Requirement | None = None
    marked_public = False
    for target in resolved.marked:
        found = requirement_of(target)
        if found is not None:
            requirement = found if requirement is None else requirement & found
        marked_public = marked_public or is_public(target)
    if resolved.dependant is not None:
        found = _dependency_requirement(resolved.dependant)
        if found is not None:
            requirement = found if requirement is None else requirement & found
    return _Decision(marked_public and requirement is None, requirement)


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


class AudienceMiddleware:
    """Refuses HTTP requests and WebSocket handshakes without a valid token for this API.

    Deny by default: every route needs a valid token unless it is marked ``@public`` or its
    path is in ``exempt_paths``; ``require_scopes``/``require_any_scope`` marks, rules from
    the settings and FastAPI ``Security`` scopes are enforced before the endpoint and its
    dependencies run. Configure it with ``settings=``, keyword options for ``Settings``, or
    the ``AUDMW_*`` environment. ``routes=`` names the routes when the middleware wraps
    something that is not a Starlette application or router.
    """

    def __init__(
        self,
        app: ASGIApp,
        /,
        settings: Settings | None = None,
        *,
        guard: Guard | None = None,
        routes: Sequence[BaseRoute] | None = None,
        **options: Any,
    ) -> None:
        self.app = app
        if guard is not None and (settings is not None or options):
            raise TypeError("pass either a Guard, a Settings or keyword options")
        self.guard = guard or Guard(settings, **options)
        self._routes = routes
        self._decisions: dict[tuple[object, ...], tuple[tuple[object, ...], _Decision]] = {}
        self._paths: dict[tuple[str, str, str, str, int, int], Requirement | None] = {}
        self._warned = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)  # lifespan and anything else pass untouched
            return
        method = scope["method"] if kind == "http" else "GET"
        requirement = self._requirement(scope, method)
        guard = self.guard
        scope[GUARD_SCOPE_KEY] = guard
        if requirement is None:
            scope["auth"] = AuthCredentials()
            scope["user"] = UnauthenticatedUser()
            await self.app(scope, receive, send)
            return
        # ASGI servers give header names in lower case (Starlette's Headers relies on it too).
        header = guard.token_header_bytes  # b"authorization" unless the settings name another
        authorization = []
        for name, value in scope["headers"]:  # a loop: no comprehension frame per request
            if name == header:
                authorization.append(value)
        query = scope.get("query_string", b"")
        in_query = b"access_token" in query and any(
            name == "access_token"
            for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        )
        try:
            token = guard.lookup(authorization, token_in_query=in_query)
            if isinstance(token, PendingToken):  # not verified before: no await on a cache hit
                token = await guard.verify_async(token)
            if requirement is not ANY_VALID_TOKEN:
                guard.check_scopes(token, requirement)
        except AuthError as error:
            await self._refuse(error, scope, send)
            return
        scope["auth"] = AuthCredentials(token.scopes)  # type: ignore[arg-type]  # it makes a list
        scope["user"] = TokenUser(token)
        await self.app(scope, receive, send)

    # -- route resolution ------------------------------------------------------------------

    def _requirement(self, scope: Scope, method: str) -> Requirement | None:
        """What this request needs (None: public), from its route, exempt paths and rules."""
        routes = self._routes_for(scope)
        key = None
        if routes is not None:
            # Routes added later change the length; a cached match stays right when routes
            # are appended, as the router also takes the first full match.
            key = (
                scope["type"],
                method,
                scope["path"],
                scope.get("root_path", ""),
                id(routes),
                len(routes),
            )
            cached = self._paths.get(key, _MISSING)
            if cached is not _MISSING:
                return cached  # type: ignore[return-value]
        resolved = _resolve(routes, scope) if routes is not None else None
        decision = _UNRESOLVED if resolved is None else self._leaf_decision(resolved, method)
        requirement = self.guard.requirement(
            method, _route_path(scope), decision.requirement, public=decision.public
        )
        # Only routes without path parameters are remembered, and only so many: the cache
        # cannot grow with the URLs clients make up. Exempt paths and rules depend on the
        # method and path alone, so the guard's answer is remembered with the route.
        cacheable = resolved is not None and resolved.cacheable
        if key is not None and cacheable and len(self._paths) < _CACHE_SIZE:
            self._paths[key] = requirement
        return requirement

    def _leaf_decision(self, resolved: _Resolved, method: str) -> _Decision:
        targets = (resolved.leaf, *resolved.marked)
        key = (*map(id, targets), method)
        entry = self._decisions.get(key)
        if entry is not None and all(a is b for a, b in zip(entry[0], targets, strict=True)):
            return entry[1]
        decision = _decide(resolved)
        if len(self._decisions) < _CACHE_SIZE:
            self._decisions[key] = (targets, decision)  # holding them keeps their ids valid
        return decision

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

    async def _refuse(self, error: AuthError, scope: Scope, send: Send) -> None:
        answer = self.guard.answer(error)
        headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in answer.headers
        ]
        headers.append((b"content-length", str(len(answer.body)).encode("latin-1")))
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
