"""The contract's routes on Flask: blueprints (protect, public, nested), views, MethodViews."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import Blueprint, Flask, request
from flask.typing import ResponseReturnValue
from flask.views import MethodView

import audmw_flask
from audmw_flask import Audmw, protect, public, require_any_scope, require_scopes
from contract import beyond, spec
from contract.marking import Decorators, apply, apply_level, level_marks
from contract.ran import record

DECORATORS = Decorators(public, require_scopes, require_any_scope)
T = TypeVar("T")


def answer(name: str, **extra: str) -> dict[str, str]:
    record(request.headers.get(spec.REQUEST_ID_HEADER), name)
    return {"view": name, **extra}


def function_view(name: str) -> Callable[..., ResponseReturnValue]:
    def view(**path: Any) -> ResponseReturnValue:
        return answer(name)

    return view


def method_view(
    get_name: str,
    post_name: str,
    get_marks: Iterable[spec.Mark] = (),
    post_marks: Iterable[spec.Mark] = (),
) -> type[MethodView]:
    class Resource(MethodView):
        def get(self) -> ResponseReturnValue:
            return answer(get_name)

        def post(self) -> ResponseReturnValue:
            return answer(post_name)

    apply(Resource.get, get_marks, DECORATORS)
    apply(Resource.post, post_marks, DECORATORS)
    return Resource


def blueprint(case: spec.Case, level: str, name: str, prefix: str | None) -> Blueprint:
    """A blueprint carrying ``level``'s mark: ``protect`` for scopes, ``public`` for public."""
    found = Blueprint(name, __name__, url_prefix=prefix)
    mark = case.mark(level)
    scopes = spec.level_scopes(level, mark or "")
    if mark == spec.ALL:
        protect(found, scopes=scopes)
    elif mark == spec.ANY:
        protect(found, any_scopes=scopes)
    elif mark == spec.PUBLIC:
        public(found)
    return found


def _name(case: spec.Case) -> str:
    return f"{case.style.name}_{case.slug}".replace("-", "_")


def case_blueprint(case: spec.Case) -> Blueprint:
    outer = blueprint(case, "outer", _name(case), case.path.removesuffix("/view"))
    if case.style.name == "flask-methodview":
        resource = method_view(
            case.view_name("get"), case.view_name("post"), level_marks(case, "handler")
        )
        apply_level(resource, case, "cls", DECORATORS)
        outer.add_url_rule("/view", view_func=resource.as_view("view"))
        return outer
    view = apply_level(function_view(case.view_name("fn")), case, "fn", DECORATORS)
    if case.style.name == "flask-nested":
        inner = blueprint(case, "inner", "inner", None)
        inner.add_url_rule("/view", view_func=view, methods=["GET", "POST"])
        outer.register_blueprint(inner)
    else:
        outer.add_url_rule("/view", view_func=view, methods=["GET", "POST"])
    return outer


def apply_marks(marks: tuple[spec.Mark, ...]) -> Callable[[T], T]:
    def decorate(target: T) -> T:
        return apply(target, marks, DECORATORS)

    return decorate


def shared(app: Flask, name: str, path: str, methods: tuple[str, ...] = ("GET",)) -> None:
    view = apply(function_view(name), spec.SHARED_ROUTES[name].marks_for("GET"), DECORATORS)
    app.add_url_rule(path, endpoint=name, view_func=view, methods=list(methods))


def shared_routes(app: Flask) -> None:
    shared(app, "health", "/health")
    shared(app, "status", "/status")
    shared(app, "exempt-admin", "/exempt-admin")
    shared(app, "status-admin", "/status-admin")
    mixed_marks = spec.SHARED_ROUTES["exempt-mixed"].marks_for("POST")
    mixed = method_view("exempt-mixed", "exempt-mixed", post_marks=mixed_marks)
    app.add_url_rule("/exempt-mixed", view_func=mixed.as_view("exempt-mixed"))
    shared(app, "reports", "/reports/<n>", ("GET", "POST"))
    shared(app, "reports-audit", "/reports/<n>/audit")
    shared(app, "ci-reports", "/ci-reports/<n>")
    shared(app, "cors-get-only", "/cors/get-only")
    # OPTIONS listed: the view answers it, not Flask's automatic answer.
    shared(app, "cors-answers-options", "/cors/answers-options", ("GET", "OPTIONS"))

    marks = spec.SHARED_ROUTES["head-handler"].marks_for

    class HeadHandler(MethodView):
        @apply_marks(marks("GET"))
        def get(self) -> ResponseReturnValue:
            return answer("head-handler/get")

        @apply_marks(marks("HEAD"))
        def head(self) -> ResponseReturnValue:
            return answer("head-handler/head")

    app.add_url_rule("/head-handler", view_func=HeadHandler.as_view("head-handler"))

    @app.get("/files/<path:rest>")
    def files(rest: str) -> ResponseReturnValue:
        return answer("files", served=spec.served_path(rest))


def config_from_environment() -> dict[str, Any]:
    """``AUDMW_*`` from the environment, as a Flask app writes them in its config."""
    config: dict[str, Any] = {
        key: value for key, value in os.environ.items() if key.startswith("AUDMW_")
    }
    if "AUDMW_RULES" in config:
        config["AUDMW_RULES"] = json.loads(config["AUDMW_RULES"])
    if "AUDMW_EXEMPT_PATHS" in config:
        config["AUDMW_EXEMPT_PATHS"] = config["AUDMW_EXEMPT_PATHS"].split()
    if "AUDMW_CORS_PREFLIGHT" in config:
        config["AUDMW_CORS_PREFLIGHT"] = config["AUDMW_CORS_PREFLIGHT"] == "true"
    return config


def beyond_routes(app: Flask) -> None:
    decorators = beyond.decorators_of(audmw_flask)
    levels_name = beyond.view_name(beyond.CLASS_ROUTE)

    class Levels(MethodView):
        def get(self) -> ResponseReturnValue:
            return answer(levels_name)

    beyond.apply_uses(Levels, beyond.CLASS_USES, decorators)
    beyond.apply_uses(Levels.get, beyond.HANDLER_USES, decorators)
    app.add_url_rule(beyond.path_of(beyond.CLASS_ROUTE), view_func=Levels.as_view(levels_name))
    for name, uses in beyond.ROUTES.items():
        view = beyond.apply_uses(function_view(beyond.view_name(name)), uses, decorators)
        app.add_url_rule(beyond.path_of(name), endpoint=beyond.view_name(name), view_func=view)


def build() -> Flask:
    app = Flask(__name__)
    app.config.update(config_from_environment())
    shared_routes(app)
    beyond_routes(app)
    for style in spec.styles_of("flask"):
        for case in spec.cases(style):
            app.register_blueprint(case_blueprint(case))
    Audmw(app)
    return app
