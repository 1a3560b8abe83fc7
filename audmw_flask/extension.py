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

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar, cast

from flask import Blueprint, Flask, Request, g, request
from werkzeug.exceptions import (
    BadRequest,
    Forbidden,
    HTTPException,
    ServiceUnavailable,
    Unauthorized,
)
from werkzeug.local import LocalProxy
from werkzeug.wrappers import Response

from audmw.answer import Answer
from audmw.errors import AuthError
from audmw.guard import Guard
from audmw.marks import is_public, require_any_scope, require_scopes, requirement_of
from audmw.requirements import Requirement
from audmw.settings import Settings
from audmw.token import AccessToken

EXTENSION_KEY = "audmw"
B = TypeVar("B", bound=Blueprint)


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
) -> B:
    """Every view of ``blueprint`` needs ``scopes`` (all) and one of ``any_scopes``.

    Combined with the views' own requirements and those of enclosing blueprints. A view
    marked ``@public`` stays public. Returns the blueprint.
    """
    scopes = scopes.split() if isinstance(scopes, str) else tuple(scopes)
    any_scopes = any_scopes.split() if isinstance(any_scopes, str) else tuple(any_scopes)
    require_scopes(*scopes)(blueprint)  # marks combine with any earlier ones
    if any_scopes:
        require_any_scope(*any_scopes)(blueprint)
    return blueprint


@dataclass(eq=False)
class AudmwState:
    """What ``init_app`` keeps per application in ``app.extensions["audmw"]``."""

    app: Flask
    guard: Guard
    extension: Audmw
    # (endpoint, method) -> (marked requirement, public); endpoints are fixed once serving.
    marks: dict[tuple[str, str], tuple[Requirement | None, bool]] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        return self.guard.settings

    def check_request(self) -> None:
        """The ``before_request`` function: refuse by raising a ``Refusal``, else set the token."""
        req: Request = request._get_current_object()  # type: ignore[attr-defined]
        marked, is_open = self.marks_of(req)
        guard = self.guard
        needed = guard.requirement(req.method, req.path, marked, public=is_open)
        if needed is None:
            g.access_token = None
            return
        environ = req.environ
        authorization = environ.get(guard.token_environ_key)
        token_in_query = bool(environ.get("QUERY_STRING")) and "access_token" in req.args
        try:
            g.access_token = guard.authorize(
                () if authorization is None else (authorization,),
                needed,
                token_in_query=token_in_query,
            )
        except AuthError as error:
            g.access_token = None
            raise refusal(error, guard.answer(error)) from None

    def marks_of(self, req: Request) -> tuple[Requirement | None, bool]:
        """The requirement marked on the matched endpoint and whether it is public.

        Levels go from the outermost blueprint to the method: requirements combine with
        ``&``; ``public`` on a level holds unless a more specific level asks for scopes.
        """
        endpoint, method = req.endpoint, req.method
        if endpoint is None:  # unknown URL, wrong method, redirect: needs a token first
            return None, False
        key = (endpoint, method)
        cached = self.marks.get(key)
        if cached is not None:
            return cached
        app = self.app
        levels: list[object] = [app.blueprints.get(name) for name in reversed(req.blueprints)]
        view = app.view_functions.get(endpoint)
        view_class = getattr(view, "view_class", None)
        if view_class is not None:
            levels.append(view_class)
            handler = getattr(view_class, method.lower(), None)
            if handler is None and method == "HEAD":
                handler = getattr(view_class, "get", None)  # what MethodView dispatches to
            levels.append(handler)
        levels.append(view)
        requirement: Requirement | None = None
        is_open = False
        for level in levels:
            if level is None:
                continue
            if is_public(level):
                is_open = True
            marked = requirement_of(level)
            if marked is not None:
                requirement = marked if requirement is None else requirement & marked
                is_open = False
        self.marks[key] = (requirement, is_open)
        return requirement, is_open


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

    def init_app(self, app: Flask, *, settings: Settings | None = None) -> AudmwState:
        """Validate the settings (raising ``ConfigurationError``) and install the check."""
        settings = settings or self.settings or Settings.from_mapping(app.config, "AUDMW_")
        state = AudmwState(app, Guard(settings), self)
        functions = app.before_request_funcs.setdefault(None, [])
        previous = app.extensions.get(EXTENSION_KEY)
        if isinstance(previous, AudmwState) and previous.check_request in functions:
            functions.remove(previous.check_request)
        # First, so that no other before_request function runs for a refused request.
        functions.insert(0, state.check_request)
        app.extensions[EXTENSION_KEY] = state
        return state


def _current_token() -> AccessToken | None:
    return cast("AccessToken | None", g.get("access_token"))


current_token: AccessToken = cast(AccessToken, LocalProxy(_current_token))
"""The verified ``AccessToken`` of the current request (``None`` on a public route)."""
