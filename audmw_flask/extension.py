"""The Flask extension: ``Audmw(app)`` checks the bearer token before any view runs.

Enforcement is a ``before_request`` function, installed first, that reads the marks of the
matched endpoint (blueprints, view class, view method or function) and asks the core
``Guard`` what the request needs; every rule (bearer parsing, scopes, exempt paths, settings
rules, answers) lives in the core. The check is synchronous (the verified-token and key
caches are shared by all threads); ``async def`` views need nothing else, since Flask runs
them after ``before_request``.

A refusal is raised as a ``Refusal`` (a Werkzeug ``HTTPException``), so the app's own error
handlers for 400/401/403/503 see it and may replace the answer; without a handler, the
client gets the core's RFC 6750 answer unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import TypeVar, cast

from flask import Blueprint, Flask, Request, current_app, g, request
from werkzeug.exceptions import (
    BadRequest,
    Forbidden,
    HTTPException,
    MethodNotAllowed,
    ServiceUnavailable,
    Unauthorized,
)
from werkzeug.local import LocalProxy
from werkzeug.wrappers import Response

from audmw.answer import Answer
from audmw.client import SubjectToken, verified_subject
from audmw.decision import HTTP_METHODS, STANDARD_METHODS, View, handler_levels, handler_name
from audmw.errors import AuthError, ConfigurationError
from audmw.guard import Guard
from audmw.marks import (
    describe,
    hidden_marks,
    require_any_scope,
    require_scopes,
    requirement_of,
    unhandled_marks,
)
from audmw.request import (
    IncomingRequest,
    check_form_size,
    environ_request,
    is_form,
    token_in_form,
)
from audmw.requirements import Requirement
from audmw.settings import Settings
from audmw.token import AccessToken

EXTENSION_KEY = "audmw"
B = TypeVar("B", bound=Blueprint)
_VIEWS_SIZE = 1024


class Refusal(HTTPException):
    """A request refused by audmw, raised from ``before_request``.

    Flask hands it to the app's error handlers like any ``HTTPException``: a handler for
    401/403/400/503 (or for ``Refusal``) receives it and may return its own response.
    Without one, ``get_response()`` gives the RFC 6750 answer built by the core.
    ``error`` is the core's ``AuthError`` (its ``reason`` is safe to log) and ``answer``
    the status, headers and body audmw would send.
    """

    def __init__(self, error: AuthError, answer: Answer) -> None:
        response = Response(answer.body, status=answer.status, headers=list(answer.headers))
        super().__init__(error.description, response=response)
        self.code = answer.status
        self.error = error
        self.answer = answer


# Subclasses of Werkzeug's own exceptions, so that ``@app.errorhandler(401)`` (registered by
# Flask for ``Unauthorized``) and friends see the refusal.
class TokenRequired(Refusal, Unauthorized):
    """401: no token, or a token this API does not accept."""


class InvalidCredentials(Refusal, BadRequest):
    """400: malformed or duplicated credentials."""


class ScopeRequired(Refusal, Forbidden):
    """403: a valid token without the scopes the view needs."""


class VerificationUnavailable(Refusal, ServiceUnavailable):
    """503: the issuer's keys cannot be fetched; the answer carries ``Retry-After``."""


_REFUSALS: dict[int, type[Refusal]] = {
    401: TokenRequired,
    400: InvalidCredentials,
    403: ScopeRequired,
    503: VerificationUnavailable,
}


def refusal(error: AuthError, answer: Answer) -> Refusal:
    return _REFUSALS.get(answer.status, Refusal)(error, answer)


def protect(
    blueprint: B,
    *,
    scopes: Iterable[str] = (),
    any_scopes: Iterable[str] = (),
    acr_values: Iterable[str] | None = None,
    max_age: int | None = None,
) -> B:
    """Every view of ``blueprint`` needs ``scopes`` (all) and one of ``any_scopes``, and
    with ``acr_values`` or ``max_age`` the user's authentication they name (RFC 9470).

    Combined with the views' own requirements and those of enclosing blueprints. A view
    marked ``@public`` stays public. The other marking decorators (``require_user``,
    ``require_authorization_details(...)``) mark a blueprint too. Returns the blueprint.
    """
    scopes = scopes.split() if isinstance(scopes, str) else tuple(scopes)
    any_scopes = any_scopes.split() if isinstance(any_scopes, str) else tuple(any_scopes)
    require_scopes(*scopes, acr_values=acr_values, max_age=max_age)(blueprint)
    if any_scopes:
        require_any_scope(*any_scopes)(blueprint)
    return blueprint


def incoming_request(
    req: Request,
    header_key: str = "HTTP_AUTHORIZATION",
    url: bool = False,
    proxy_headers: Collection[str] = (),
    *,
    named: bool = False,
) -> IncomingRequest:
    """The core's ``IncomingRequest`` of a Flask request; ``header_key`` is the token
    header's environ key (``Guard.token_environ_key``), ``url`` fills in scheme, host,
    ``DPoP`` and the peer, ``proxy_headers`` names the headers a trusted proxy sets;
    ``named``: a refusal's log line names the matched URL rule."""
    environ = req.environ
    scheme = environ.get("wsgi.url_scheme", "http") if url else None
    return environ_request(
        environ,
        req.method,
        req.path,
        header_key,
        scheme,
        proxy_headers,
        _rule_of if named else None,
        req if named else None,
    )


def _rule_of(req: Request) -> str | None:
    """The URL rule Flask matched (``/items/<int:item_id>``), or None."""
    rule = req.url_rule
    return None if rule is None else rule.rule


def view_of(app: Flask, req: Request) -> View | None:
    """The levels of marks on the way to the view Flask will call; None when no view is
    known (unknown URL, redirect). A wrong method (405) and Flask's automatic OPTIONS
    answer give the views of the path, which do not answer the request themselves."""
    endpoint, rule, method = req.endpoint, req.url_rule, req.method
    if isinstance(req.routing_exception, MethodNotAllowed):
        return _unanswered(app, req)
    if endpoint is None or rule is None or req.routing_exception is not None:
        return None
    view = endpoint_view(app, endpoint, method)
    if (
        view is not None
        and method == "OPTIONS"
        and getattr(rule, "provide_automatic_options", False)
    ):
        return View.unanswered(*view.levels, *view.others)  # Flask's default OPTIONS answer
    return view


def _unanswered(app: Flask, req: Request) -> View | None:
    """Everything the views of a path have that answer other methods than this one."""
    valid = getattr(req.routing_exception, "valid_methods", None) or ()
    adapter = app.create_url_adapter(req)
    parts: list[object] = []
    for method in valid:
        try:
            found = adapter.match(method=method, return_rule=True) if adapter else None
        except HTTPException:
            continue
        if found is None:
            continue
        view = endpoint_view(app, found[0].endpoint, method)
        if view is not None:
            parts.extend((*view.levels, *view.others))
    return View.unanswered(*dict.fromkeys(parts)) if parts else None


def _blueprints(endpoint: str) -> list[str]:
    """The blueprints an endpoint belongs to, innermost first (as ``request.blueprints``)."""
    name = endpoint.rpartition(".")[0]
    names = []
    while name:
        names.append(name)
        name = name.rpartition(".")[0]
    return names


def endpoint_view(app: Flask, endpoint: str, method: str) -> View | None:
    """The levels of marks on the way to ``endpoint``'s handler for ``method``."""
    view = app.view_functions.get(endpoint)
    if view is None:
        return None
    levels: list[object] = [app.blueprints.get(name) for name in reversed(_blueprints(endpoint))]
    others: tuple[object, ...] = ()
    view_class = getattr(view, "view_class", None)
    if isinstance(view_class, type):
        # As MethodView.dispatch_request picks the handler (a View has dispatch_request only).
        defined = [m for m in HTTP_METHODS if getattr(view_class, m, None) is not None]
        name = handler_name(method, defined)
        names = ("dispatch_request", name) if name else ("dispatch_request",)
        levels.extend(handler_levels(view_class, *names))
        others = handler_levels(view_class, *(m for m in defined if m != name))[1:]
    levels.append(view)
    return View(tuple(level for level in levels if level is not None), others)


def route_requirements(app: Flask) -> list[Requirement | None]:
    """What every level of marks on the app's views requires (blueprints, view classes and
    their handlers): the scopes the resource metadata lists by default."""
    found: list[Requirement | None] = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods or ()):
            view = endpoint_view(app, rule.endpoint, method)
            if view is not None:
                found.extend(requirement_of(level) for level in (*view.levels, *view.others))
    return found


def lost_marks(app: Flask) -> list[str]:
    """Marks on the app's views that cannot take effect, each with the fix."""
    problems: list[str] = []
    for rule in app.url_map.iter_rules():
        carriers: list[object] = []
        for method in sorted(rule.methods or ()):
            view = endpoint_view(app, rule.endpoint, method)
            if view is not None:
                carriers.extend(view.levels + view.others)
        for hidden in hidden_marks(carriers):
            problems.append(
                f"{rule.rule}: the mark on {describe(hidden)} cannot take effect: a decorator "
                "above it hides the function from audmw; put @require_scopes / "
                "@require_any_scope above the other decorators, or make them use "
                "functools.wraps"
            )
        view_class = getattr(app.view_functions.get(rule.endpoint), "view_class", None)
        if isinstance(view_class, type):
            handlers = {m for m in HTTP_METHODS if hasattr(view_class, m)} | {"dispatch_request"}
            for name in unhandled_marks(view_class, handlers):
                problems.append(
                    f"{rule.rule}: the mark on {describe(view_class)}.{name} cannot take "
                    f"effect: {name} is not a handler Flask calls ("
                    + ", ".join(sorted(handlers))
                    + "); mark the class or a method handler"
                )
    return list(dict.fromkeys(problems))


@dataclass(eq=False)
class AudmwState:
    """What ``init_app`` keeps per application in ``app.extensions["audmw"]``."""

    app: Flask
    guard: Guard
    extension: Audmw
    # (endpoint, method) -> its view; endpoints are fixed once serving, methods bounded.
    views: dict[tuple[str, str], View | None] = field(default_factory=dict)
    marks_checked: int = -1  # how many views the app had when its marks were last checked

    @property
    def settings(self) -> Settings:
        return self.guard.settings

    def check_marks(self) -> None:
        """Stop with ``ConfigurationError`` when a mark on the app's views cannot take effect."""
        problems = lost_marks(self.app)
        if problems:
            raise ConfigurationError("audmw: " + "\n".join(problems))
        self.marks_checked = len(self.app.view_functions)

    def check_request(self) -> Response | None:
        """The ``before_request`` function: refuse by raising a ``Refusal``, else set the token.

        A request for the resource metadata is answered here, before any token check.
        """
        if self.marks_checked != len(self.app.view_functions):
            self.check_marks()  # views registered after init_app
        req: Request = request._get_current_object()  # type: ignore[attr-defined]
        guard = self.guard
        if guard.metadata is not None:
            served = guard.metadata_answer(
                req.method,
                req.path,
                functools.partial(route_requirements, self.app),
                len(self.app.view_functions),
            )
            if served is not None:
                g.access_token = None
                return Response(served.body, status=served.status, headers=list(served.headers))
        token = None
        watch = None
        try:
            incoming = incoming_request(
                req, guard.token_environ_key, guard.wants_url, guard.proxy_headers, named=True
            )
            if guard.observer is not None:
                rule = req.url_rule
                watch = guard.observer.watch(incoming, None if rule is None else rule.rule)
            needed = guard.requirement(incoming, self.view(req))
            if needed is not None:
                content_type = req.environ.get("CONTENT_TYPE")
                if content_type and is_form(content_type):
                    incoming = _read_form(req, incoming)
                if watch is None:
                    token = guard.authorize(incoming, needed)
                else:
                    token = watch.authorize(guard, incoming, needed)
                    watch.accepted()
                if guard.issues_nonces:
                    g.audmw_dpop_nonce = guard.fresh_nonce(incoming)
        except AuthError as error:
            g.access_token = None
            if watch is not None:
                watch.refused(error)
            raise self.extension.refusal(error, guard.answer(error)) from None
        g.access_token = token
        return None

    @staticmethod
    def add_nonce(response: Response) -> Response:
        """The ``after_request`` function: ``DPoP-Nonce`` on an accepted request's answer
        when its proof used the previous nonce (RFC 9449 §8.2)."""
        nonce = g.get("audmw_dpop_nonce")
        if nonce is not None:
            response.headers["DPoP-Nonce"] = nonce
        return response

    def view(self, req: Request) -> View | None:
        endpoint, method = req.endpoint, req.method
        if endpoint is None or method not in STANDARD_METHODS:
            return view_of(self.app, req)
        key = (endpoint, method)
        if key in self.views:
            return self.views[key]
        if len(self.views) >= _VIEWS_SIZE:
            self.views.clear()
        found = self.views[key] = view_of(self.app, req)
        return found


def _read_form(req: Request, incoming: IncomingRequest) -> IncomingRequest:
    check_form_size(req.content_length or 0, incoming)
    body = req.get_data(cache=True)  # the view still reads the same body and form
    check_form_size(len(body), incoming)
    return incoming._replace(token_in_body=True) if token_in_form(body) else incoming


class Audmw:
    """Deny by default: every request to the app needs a valid bearer token for its audience.

    ``Audmw(app)``, or ``audmw = Audmw()`` then ``audmw.init_app(app)`` in a factory. The
    settings come from ``app.config["AUDMW_*"]`` (``AUDMW_ISSUER``, ``AUDMW_AUDIENCE``, ...),
    or from ``settings=`` when given; one instance can serve several apps, each with its own.
    """

    def __init__(self, app: Flask | None = None, *, settings: Settings | None = None) -> None:
        self.settings = settings
        if app is not None:
            self.init_app(app)

    def refusal(self, error: AuthError, answer: Answer) -> HTTPException:
        """The exception ``before_request`` raises for a refused request; override it to
        shape refusals differently (the app's error handlers still see what it returns)."""
        return refusal(error, answer)

    def init_app(self, app: Flask, *, settings: Settings | None = None) -> AudmwState:
        """Validate the settings (raising ``ConfigurationError``) and install the check."""
        settings = settings or self.settings or Settings.from_mapping(app.config, "AUDMW_")
        state = AudmwState(app, Guard(settings), self)
        state.check_marks()
        if settings.prefetch_keys:
            # Each worker builds its app (or inherits it from a preloading master): the first
            # requests then find the keys loaded. An issuer that is down does not stop the app.
            state.guard.prefetch_keys()
        functions = app.before_request_funcs.setdefault(None, [])
        previous = app.extensions.get(EXTENSION_KEY)
        if isinstance(previous, AudmwState) and previous.check_request in functions:
            functions.remove(previous.check_request)
        # First, so that no other before_request function runs for a refused request.
        functions.insert(0, state.check_request)
        after = app.after_request_funcs.setdefault(None, [])
        if AudmwState.add_nonce not in after:
            after.append(AudmwState.add_nonce)
        app.extensions[EXTENSION_KEY] = state
        return state


def _current_token() -> AccessToken | None:
    return cast("AccessToken | None", g.get("access_token"))


current_token: AccessToken = cast(AccessToken, LocalProxy(_current_token))
"""The verified ``AccessToken`` of the current request (``None`` on a public route)."""


def get_current_token() -> AccessToken | None:
    """The verified ``AccessToken`` of the current request, or ``None`` on a public route:
    ``current_token`` with its honest type, for code checked by mypy."""
    return _current_token()


def incoming_token() -> SubjectToken:
    """The current request's verified token, for ``TokenExchange``/``OnBehalfOf.for_subject``;
    ``LookupError`` where audmw verified none (a public route)."""
    state = current_app.extensions.get(EXTENSION_KEY)
    header = state.settings.token_header if isinstance(state, AudmwState) else "authorization"
    return verified_subject(request.headers.getlist(header), _current_token(), header=header)
