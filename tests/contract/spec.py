"""The table the whole suite shares: settings, marks, view styles, routes and probes.

Every app (Starlette, FastAPI, Django, Flask) is built from this table, the servers get their
settings from it, and the oracle reads the same marks to say what each request must get.
Nothing here imports a web framework, so the server processes and the tests can both use it.
"""

from __future__ import annotations

import itertools
import json
import posixpath
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from contract import beyond

AUDIENCE = "https://api.example.com"

# -- settings every server runs with -----------------------------------------------------------

EXEMPT_PATHS = ("/health", "/exempt-admin", "/exempt-mixed", "/files/public/**")
RULES: tuple[Mapping[str, object], ...] = (
    {"methods": ["GET"], "path": "/reports/**", "scopes": ["reports:read"]},
    {"methods": ["GET"], "path": "/files/private/**", "scopes": ["files:private"]},
    {"methods": ["GET"], "path": "/ci-reports/**", "scopes": ["ci:read"]},
    {"path": "/status", "public": True},
    {"path": "/status-admin", "public": True},
    beyond.RULE,
)


def settings_environment(*, cors_preflight: bool) -> dict[str, str]:
    """The ``AUDMW_*`` variables (besides issuer and audience) every app is configured with.

    ``AUDMW_CORS_PREFLIGHT`` is set only when it is on, so the other servers do not depend
    on the setting existing.
    """
    variables = {
        "AUDMW_EXEMPT_PATHS": " ".join(EXEMPT_PATHS),
        "AUDMW_RULES": json.dumps(RULES),
    }
    if cors_preflight:
        variables["AUDMW_CORS_PREFLIGHT"] = "true"
    return variables


# Each request carries an id; the views append "<id> <view name>" to the file this
# variable names, so a test can tell whether, and which, view ran (HEAD has no body).
REQUEST_ID_HEADER = "X-Contract-Request"
RAN_LOG_VARIABLE = "CONTRACT_RAN_LOG"

# An unknown method. "FOO" would do for waitress, but uvicorn's httptools parser refuses
# methods it does not know with its own 400, before any app sees them; PURGE it parses.
UNKNOWN_METHOD = "PURGE"
METHODS = ("GET", "HEAD", "OPTIONS", "POST", UNKNOWN_METHOD)

# -- marks -------------------------------------------------------------------------------------

PUBLIC, ALL, ANY = "public", "all", "any"
# FastAPI's Security parameters (RequireScopes / RequireAnyScope) in the endpoint's signature.
SECURITY_ALL, SECURITY_ANY = "security-all", "security-any"
ASKS_ALL = (ALL, SECURITY_ALL)
ASKS_ANY = (ANY, SECURITY_ANY)


def level_scopes(level: str, mark: str) -> tuple[str, ...]:
    """The scopes a mark on ``level`` names: two for "all of", two alternatives for "one of"."""
    if mark in ASKS_ALL:
        return (f"{level}-1", f"{level}-2")
    if mark in ASKS_ANY:
        return (f"{level}-x", f"{level}-y")
    return ()


@dataclass(frozen=True)
class Mark:
    """One level's mark as the rule reads it: public, or scopes (all of them, or one of them)."""

    level: str
    kind: str  # PUBLIC, ALL or ANY
    scopes: tuple[str, ...] = ()

    @property
    def asks(self) -> bool:
        return self.kind != PUBLIC

    @classmethod
    def on(cls, level: str, mark: str) -> Mark:
        kind = ALL if mark in ASKS_ALL else ANY if mark in ASKS_ANY else PUBLIC
        return cls(level, kind, level_scopes(level, mark))


# -- how a view answers a method ---------------------------------------------------------------

VIEW = "view"  # our handler runs and names itself
BUILTIN = "builtin"  # the view answers with the framework's own handler (Django's View.options)
FRAMEWORK = "framework"  # no view answers: 404, 405, a redirect, Flask's automatic OPTIONS


@dataclass(frozen=True)
class Handler:
    """What a style's view does with one method."""

    answers: str  # VIEW, BUILTIN or FRAMEWORK
    levels: tuple[str, ...] = ()  # the levels on the way to the handler (none for FRAMEWORK)
    runs: str | None = None  # the name of our handler that runs (VIEW only)
    status: int = 200  # what goes out once audmw lets the request through


def _view(levels: tuple[str, ...], runs: str) -> Handler:
    return Handler(VIEW, levels, runs)


def _builtin(levels: tuple[str, ...]) -> Handler:
    return Handler(BUILTIN, levels)


def _framework(status: int) -> Handler:
    return Handler(FRAMEWORK, status=status)


ANY_LEVEL_MARKS = (PUBLIC, ALL, ANY)


@dataclass(frozen=True)
class Style:
    """A way of writing a view in one framework: its levels and what it does per method."""

    name: str
    family: str  # starlette, fastapi, django or flask
    levels: tuple[str, ...]  # outermost first
    handlers: Mapping[str, Handler]
    marks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # per level if limited

    def marks_on(self, level: str) -> tuple[str, ...]:
        return self.marks.get(level, ANY_LEVEL_MARKS)


def _function_style(
    name: str, family: str, levels: tuple[str, ...], others: Mapping[str, Handler]
) -> Style:
    """A function view answering GET, HEAD and POST (plus ``others``)."""
    handlers = {method: _view(levels, "fn") for method in ("GET", "HEAD", "POST")}
    return Style(name, family, levels, {**handlers, **others})


def _class_style(
    name: str, family: str, levels: tuple[str, ...], handler: str, others: Mapping[str, Handler]
) -> Style:
    """A class view with ``get`` (or ``handler``) and ``post``; the handler level marks ``get``."""
    above = levels[:-1]  # every level but the handler's
    handlers = {
        "GET": _view(levels, handler),
        "HEAD": _view(levels, handler),  # HEAD goes to the GET handler
        "POST": _view(above, "create" if handler == "list" else "post"),
    }
    return Style(name, family, levels, {**handlers, **others})


STYLES: tuple[Style, ...] = (
    # Route("/view", fn, methods=["GET", "POST"]) inside a Mount of a marked Router.
    _function_style(
        "starlette-route",
        "starlette",
        ("outer", "fn"),
        {"OPTIONS": _framework(405), UNKNOWN_METHOD: _framework(405)},
    ),
    # An HTTPEndpoint with get and post inside a Mount of a marked Router.
    _class_style(
        "starlette-endpoint",
        "starlette",
        ("outer", "cls", "handler"),
        "get",
        {"OPTIONS": _framework(405), UNKNOWN_METHOD: _framework(405)},
    ),
    # A path operation for GET and POST in an APIRouter included with dependencies=[...];
    # FastAPI does not answer HEAD for a GET operation.
    Style(
        "fastapi-operation",
        "fastapi",
        ("outer", "fn"),
        {
            "GET": _view(("outer", "fn"), "fn"),
            "POST": _view(("outer", "fn"), "fn"),
            "HEAD": _framework(405),
            "OPTIONS": _framework(405),
            UNKNOWN_METHOD: _framework(405),
        },
        marks={
            # An included router carries scopes through its dependencies; nothing makes it public.
            "outer": (ALL, ANY),
            "fn": (PUBLIC, ALL, ANY, SECURITY_ALL, SECURITY_ANY),
        },
    ),
    # A Django function view runs for every method.
    Style(
        "django-function",
        "django",
        ("fn",),
        {method: _view(("fn",), "fn") for method in METHODS},
    ),
    # django.views.View with get and post: OPTIONS goes to View.options.
    _class_style(
        "django-view",
        "django",
        ("cls", "handler"),
        "get",
        {"OPTIONS": _builtin(("cls",)), UNKNOWN_METHOD: _framework(405)},
    ),
    # DRF APIView with get and post: OPTIONS goes to APIView.options (metadata).
    _class_style(
        "drf-apiview",
        "django",
        ("cls", "handler"),
        "get",
        {"OPTIONS": _builtin(("cls",)), UNKNOWN_METHOD: _framework(405)},
    ),
    # @require_scopes(...) above @api_view(["GET", "POST"]); DRF allows only the methods
    # listed (and OPTIONS), so HEAD is a 405 of DRF's own.
    _function_style(
        "drf-api-view",
        "django",
        ("fn",),
        {"HEAD": _framework(405), "OPTIONS": _builtin(("fn",)), UNKNOWN_METHOD: _framework(405)},
    ),
    # A ViewSet with list and create, registered through a DRF router; HEAD is the get action.
    _class_style(
        "drf-viewset",
        "django",
        ("cls", "handler"),
        "list",
        {"OPTIONS": _builtin(("cls",)), UNKNOWN_METHOD: _framework(405)},
    ),
    # A view function for GET and POST in a blueprint (protect / public); Flask answers
    # OPTIONS by itself.
    _function_style(
        "flask-route",
        "flask",
        ("outer", "fn"),
        {"OPTIONS": _framework(200), UNKNOWN_METHOD: _framework(405)},
    ),
    _class_style(
        "flask-methodview",
        "flask",
        ("outer", "cls", "handler"),
        "get",
        {"OPTIONS": _framework(200), UNKNOWN_METHOD: _framework(405)},
    ),
    # A blueprint (inner) registered in another blueprint (outer).
    _function_style(
        "flask-nested",
        "flask",
        ("outer", "inner", "fn"),
        {"OPTIONS": _framework(200), UNKNOWN_METHOD: _framework(405)},
    ),
)


@dataclass(frozen=True)
class Case:
    """One placement of marks on a style's levels (levels without a mark are left out)."""

    style: Style
    marks: tuple[tuple[str, str], ...]  # (level, mark), outermost first

    @property
    def slug(self) -> str:
        """Its part of the URL (letters, digits, '-' and '_' only: it is also a name)."""
        return "_".join(f"{level}-{mark}" for level, mark in self.marks) or "none"

    @property
    def label(self) -> str:
        return ",".join(f"{level}={mark}" for level, mark in self.marks) or "unmarked"

    @property
    def path(self) -> str:
        return f"/marks/{self.style.name}/{self.slug}/view"

    def mark(self, level: str) -> str | None:
        return dict(self.marks).get(level)

    def view_name(self, handler: str) -> str:
        return f"{self.style.name}/{self.slug}/{handler}"


def cases(style: Style) -> Iterator[Case]:
    """No mark; each mark on each level; each pair of marks on each pair of levels."""
    yield Case(style, ())
    for level in style.levels:
        for mark in style.marks_on(level):
            yield Case(style, ((level, mark),))
    for first, second in itertools.combinations(style.levels, 2):
        for one, two in itertools.product(style.marks_on(first), style.marks_on(second)):
            yield Case(style, ((first, one), (second, two)))


def styles_of(family: str) -> tuple[Style, ...]:
    return tuple(style for style in STYLES if style.family == family)


# A DRF viewset whose list action needs "admin", reached only ever with HEAD: the first HEAD
# a viewset gets must find the get action's marks.
HEAD_ONLY_VIEWSET_PATH = "/drf-head-only"
HEAD_ONLY_VIEWSET_VIEW = "drf-head-only/list"

# -- shared routes: the same path and marks in every app ---------------------------------------

ADMIN = Mark("fn", ALL, ("admin",))


@dataclass(frozen=True)
class SharedRoute:
    """A view every app serves at the same path, with the same marks per method."""

    name: str
    marks: Mapping[str, tuple[Mark, ...]]  # method -> marks on the way to its handler

    def marks_for(self, method: str) -> tuple[Mark, ...]:
        return self.marks.get(method, self.marks.get("*", ()))

    @property
    def asks_anywhere(self) -> bool:
        return any(mark.asks for marks in self.marks.values() for mark in marks)


SHARED_ROUTES = {
    route.name: route
    for route in (
        SharedRoute("health", {"*": ()}),  # exempt
        SharedRoute("status", {"*": ()}),  # a public rule
        SharedRoute("exempt-admin", {"*": (ADMIN,)}),  # exempt, but asks for admin
        SharedRoute("status-admin", {"*": (ADMIN,)}),  # a public rule, but asks for admin
        # Exempt; a class view whose post handler asks for admin, its get handler for nothing.
        SharedRoute(
            "exempt-mixed", {"GET": (), "HEAD": (), "POST": (Mark("handler", ALL, ("admin",)),)}
        ),
        SharedRoute("reports", {"*": (Mark("fn", PUBLIC),)}),  # @public, under a scope rule
        SharedRoute("reports-audit", {"*": (Mark("fn", ANY, ("admin", "audit")),)}),
        SharedRoute("files", {"*": ()}),  # /files/{rest:path}, serving the normalised path
        SharedRoute("ci-reports", {"*": ()}),
        SharedRoute("cors-get-only", {"*": (ADMIN,)}),
        SharedRoute("cors-answers-options", {"*": ()}),
        SharedRoute("cors-drf", {"*": ()}),  # Django only
        # A class with a head handler of its own: HEAD takes its marks, not get's.
        SharedRoute(
            "head-handler",
            {"GET": (Mark("handler", ALL, ("admin",)),), "HEAD": (Mark("handler", PUBLIC),)},
        ),
    )
}


def served_path(rest: str) -> str:
    """What the files view serves for the rest of its path: the normalised path."""
    return "/" + posixpath.normpath("/" + rest).lstrip("/")


@dataclass(frozen=True)
class Reaches:
    """Where a request to a shared path goes in one framework."""

    answers: str  # VIEW, BUILTIN or FRAMEWORK
    route: str | None = None  # the shared route at this path, if any
    status: int = 200
    served: str | None = None  # what the files view serves
    handler: str | None = None  # which handler of the route's class runs, when it matters

    @property
    def view_name(self) -> str | None:
        """The name our view logs when it runs (VIEW only)."""
        if self.answers != VIEW or self.route is None:
            return None
        return self.route if self.handler is None else f"{self.route}/{self.handler}"


def view(route: str, served: str | None = None, *, handler: str | None = None) -> Reaches:
    return Reaches(VIEW, route, 200, served, handler)


def builtin(route: str) -> Reaches:
    return Reaches(BUILTIN, route)


def framework(status: int, route: str | None = None) -> Reaches:
    """No view answers; ``route`` is the view at this path for another method, if any."""
    return Reaches(FRAMEWORK, route, status)


@dataclass(frozen=True)
class PathProbe:
    """A request to the shared routes and where it goes in each framework."""

    method: str
    target: str  # sent byte for byte
    default: Reaches
    per_family: Mapping[str, Reaches] = field(default_factory=dict)
    tokens: tuple[str, ...] = ("none", "garbage", "bare", "full")

    def reaches(self, family: str) -> Reaches:
        return self.per_family.get(family, self.default)

    @property
    def label(self) -> str:
        return f"{self.method} {self.target}"


NOT_FOUND = framework(404)
# Starlette's router (and FastAPI's) redirects a path that matches only with the other
# trailing slash; Django (APPEND_SLASH only appends) and Flask answer 404.
SLASH_REDIRECT = {"starlette": framework(307), "fastapi": framework(307)}
# Flask's router answers repeated slashes between fixed parts of a rule with a 308 redirect
# to the merged path (inside a path parameter it keeps them).
MERGE_REDIRECT = {"flask": framework(308)}
# FastAPI answers HEAD for a GET operation with 405.
NO_HEAD = {"fastapi": framework(405)}


def _get_only(route: str) -> dict[str, Reaches]:
    """A function view for GET: POST is a 405 everywhere but Django, whose function runs."""
    return {f: framework(405, route) for f in ("starlette", "fastapi", "flask")}


CONTROL_CHARACTER_TARGETS = (
    ("GET", "/reports/1%0A"),
    ("GET", "/reports/1%00"),
    ("GET", "/reports/1%7F"),
    ("POST", "/reports/1%0D"),
    ("HEAD", "/health%09"),
    ("GET", "/files/public/a%00"),
    ("GET", "/status%1B"),
    (UNKNOWN_METHOD, "/nowhere%0A"),
)

PATH_PROBES: tuple[PathProbe, ...] = (
    # exempt /health: exact, case-sensitive, canonical only
    PathProbe("GET", "/health", view("health")),
    PathProbe("HEAD", "/health", view("health"), NO_HEAD),
    PathProbe("POST", "/health", view("health"), _get_only("health")),
    PathProbe("GET", "/health/", NOT_FOUND, SLASH_REDIRECT),
    PathProbe("GET", "/HEALTH", NOT_FOUND),
    PathProbe("GET", "/./health", NOT_FOUND),
    PathProbe("GET", "/x/../health", NOT_FOUND),
    # (No "//health": waitress hands the app "/health" for it, uvicorn "//health", so the
    # same bytes mean different paths to the apps behind them. "//" inside a path below.)
    # a public rule on /status: the same
    PathProbe("GET", "/status", view("status")),
    PathProbe("POST", "/status", view("status"), _get_only("status")),
    PathProbe("GET", "/status/", NOT_FOUND, SLASH_REDIRECT),
    PathProbe("GET", "/Status", NOT_FOUND),
    PathProbe("GET", "/status/.", NOT_FOUND),
    # an exempt path or a public rule never opens a view that asks for scopes
    PathProbe("GET", "/exempt-admin", view("exempt-admin")),
    PathProbe("GET", "/status-admin", view("status-admin")),
    PathProbe("GET", "/exempt-mixed", view("exempt-mixed"), {"fastapi": NOT_FOUND}),
    PathProbe("POST", "/exempt-mixed", view("exempt-mixed"), {"fastapi": NOT_FOUND}),
    PathProbe(
        UNKNOWN_METHOD,
        "/exempt-mixed",
        framework(405, "exempt-mixed"),
        {"fastapi": NOT_FOUND},
    ),
    # @public under the scope rule /reports/** for GET (and so HEAD)
    PathProbe("GET", "/reports/1", view("reports")),
    PathProbe("HEAD", "/reports/1", view("reports"), NO_HEAD),
    PathProbe("POST", "/reports/1", view("reports")),
    PathProbe(
        "OPTIONS",
        "/reports/1",
        view("reports"),
        {
            "starlette": framework(405, "reports"),
            "fastapi": framework(405, "reports"),
            "flask": framework(200, "reports"),
        },
    ),
    PathProbe("GET", "/reports/1/", NOT_FOUND, SLASH_REDIRECT),
    PathProbe("GET", "/REPORTS/1", NOT_FOUND),
    PathProbe("GET", "/Reports/1", NOT_FOUND),
    PathProbe("GET", "/reports/./1", NOT_FOUND),
    PathProbe("GET", "/reports//1", NOT_FOUND, MERGE_REDIRECT),
    PathProbe("GET", "/x/../reports/1", NOT_FOUND),
    PathProbe("GET", "/reports/%2e%2e/reports/1", NOT_FOUND),
    PathProbe("POST", "/REPORTS/1", NOT_FOUND),
    # a mark and a rule together
    PathProbe(
        "GET", "/reports/1/audit", view("reports-audit"), tokens=("none", "bare", "reports", "full")
    ),
    # /files/{rest:path} serves the normalised path; exempt /files/public/**, rule for private
    PathProbe("GET", "/files/public/a", view("files", "/public/a")),
    PathProbe("GET", "/files/private/a", view("files", "/private/a")),
    PathProbe("GET", "/files/other/a", view("files", "/other/a")),
    PathProbe("GET", "/files/public/../private/a", view("files", "/private/a")),
    PathProbe("GET", "/files/public/%2e%2e/private/a", view("files", "/private/a")),
    PathProbe("GET", "/files/public/%2E%2E/private/a", view("files", "/private/a")),
    PathProbe("GET", "/files/./private/a", view("files", "/private/a")),
    PathProbe("GET", "/files/%2E/private/a", view("files", "/private/a")),
    PathProbe("GET", "/files//private/a", view("files", "/private/a"), MERGE_REDIRECT),
    # Inside the path parameter Flask keeps "//" too.
    PathProbe("GET", "/files/private//a", view("files", "/private/a")),
    PathProbe("GET", "/files/Private/a", view("files", "/Private/a")),
    PathProbe("GET", "/FILES/private/a", NOT_FOUND),
    PathProbe("GET", "/files/private/a/", view("files", "/private/a")),
    PathProbe("GET", "/files/PUBLIC/a", view("files", "/PUBLIC/a")),
    PathProbe("GET", "/files/public//a", view("files", "/public/a")),
    PathProbe("GET", "/files/public/./a", view("files", "/public/a")),
    PathProbe("GET", "/files/public/a/../../private/a", view("files", "/private/a")),
    # a case-insensitive Django route under a rule for /ci-reports/**
    PathProbe("GET", "/ci-reports/1", view("ci-reports")),
    PathProbe("GET", "/CI-REPORTS/1", NOT_FOUND, {"django": view("ci-reports")}),
    PathProbe("GET", "/Ci-Reports/1/", NOT_FOUND, {"django": NOT_FOUND}),
    # HEAD goes to the head handler where the view has one (FastAPI: a HEAD operation)
    PathProbe("GET", "/head-handler", view("head-handler", handler="get")),
    PathProbe("HEAD", "/head-handler", view("head-handler", handler="head")),
    # a path no view answers still needs a token
    PathProbe("GET", "/nowhere", NOT_FOUND),
    PathProbe(UNKNOWN_METHOD, "/nowhere", NOT_FOUND),
    *(PathProbe(method, target, NOT_FOUND) for method, target in CONTROL_CHARACTER_TARGETS),
)

# -- CORS preflight ----------------------------------------------------------------------------

ORIGIN = "https://app.example"
PREFLIGHT_HEADERS = (("Origin", ORIGIN), ("Access-Control-Request-Method", "GET"))
ORIGIN_ONLY_HEADERS = (("Origin", ORIGIN),)


@dataclass(frozen=True)
class CorsProbe:
    target: str
    default: Reaches
    per_family: Mapping[str, Reaches] = field(default_factory=dict)

    def reaches(self, family: str) -> Reaches:
        return self.per_family.get(family, self.default)


CORS_PROBES: tuple[CorsProbe, ...] = (
    # A GET-only view that asks for admin: OPTIONS is the framework's answer, except in
    # Django, where the function view answers OPTIONS itself.
    CorsProbe(
        "/cors/get-only",
        framework(405, "cors-get-only"),
        {"flask": framework(200, "cors-get-only"), "django": view("cors-get-only")},
    ),
    # A view that answers OPTIONS itself (Django: a class view, through View.options).
    CorsProbe(
        "/cors/answers-options",
        view("cors-answers-options"),
        {"django": builtin("cors-answers-options")},
    ),
    CorsProbe("/cors/drf", NOT_FOUND, {"django": builtin("cors-drf")}),
    CorsProbe("/cors/nowhere", NOT_FOUND),
)

CORS_HEADERS = {
    "preflight": PREFLIGHT_HEADERS,
    "origin-only": ORIGIN_ONLY_HEADERS,
    "no-origin": (),
}

# -- tokens ------------------------------------------------------------------------------------

ALL_LEVELS = ("outer", "inner", "cls", "handler", "fn")
RULE_SCOPES = ("reports:read", "files:private", "ci:read")
GARBAGE = "garbage"  # a well-formed bearer value that is no token this API accepts


def _level_full(level: str) -> tuple[str, ...]:
    # Of an "any" pair only the first alternative: "one of" must be enough.
    return (*level_scopes(level, ALL), level_scopes(level, ANY)[0])


FULL_SCOPES = (
    *(scope for level in ALL_LEVELS for scope in _level_full(level)),
    *RULE_SCOPES,
    "admin",
)

# Token kind -> its scopes; None: no token at all; GARBAGE: not a token.
TOKEN_SCOPES: Mapping[str, tuple[str, ...] | str | None] = {
    "none": None,
    "garbage": GARBAGE,
    "bare": ("profile",),
    # One of two "all" scopes (not enough) and the other alternative of each "any" (enough).
    "partial": tuple(
        scope
        for level in ALL_LEVELS
        for scope in (level_scopes(level, ALL)[0], level_scopes(level, ANY)[1])
    ),
    "full": FULL_SCOPES,
    "reports": ("reports:read",),
    **{
        f"lacks-{level}": tuple(s for s in FULL_SCOPES if not s.startswith(f"{level}-"))
        for level in ALL_LEVELS
    },
}
