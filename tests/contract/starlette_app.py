"""The contract's routes on Starlette: Mounts of marked Routers, Routes and HTTPEndpoints."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router

import audmw.starlette
from audmw import Settings
from audmw.starlette import AudienceMiddleware, public, require_any_scope, require_scopes
from contract import beyond, spec
from contract.marking import Decorators, apply, apply_level, level_marks
from contract.ran import record

DECORATORS = Decorators(public, require_scopes, require_any_scope)
Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]


def answer(request: Request, name: str, **extra: str) -> JSONResponse:
    record(request.headers.get(spec.REQUEST_ID_HEADER), name)
    return JSONResponse({"view": name, **extra})


def function_view(name: str) -> Endpoint:
    async def view(request: Request) -> Response:
        return answer(request, name)

    return view


def endpoint_class(
    get_name: str,
    post_name: str,
    get_marks: Iterable[spec.Mark] = (),
    post_marks: Iterable[spec.Mark] = (),
) -> type[HTTPEndpoint]:
    # A class of its own each time: marks on its methods must not be shared.
    class Endpoint(HTTPEndpoint):
        async def get(self, request: Request) -> Response:
            return answer(request, get_name)

        async def post(self, request: Request) -> Response:
            return answer(request, post_name)

    apply(Endpoint.get, get_marks, DECORATORS)
    apply(Endpoint.post, post_marks, DECORATORS)
    return Endpoint


def mounted(case: spec.Case, route: BaseRoute) -> Mount:
    """``route`` at ``/view`` under a Mount whose Router carries the outer level's mark."""
    router = apply_level(Router(routes=[route]), case, "outer", DECORATORS)
    return Mount(case.path.removesuffix("/view"), app=router)


def route_case(case: spec.Case) -> Mount:
    view = apply_level(function_view(case.view_name("fn")), case, "fn", DECORATORS)
    return mounted(case, Route("/view", view, methods=["GET", "POST"]))


def endpoint_case(case: spec.Case) -> Mount:
    endpoint = endpoint_class(
        case.view_name("get"), case.view_name("post"), level_marks(case, "handler")
    )
    apply_level(endpoint, case, "cls", DECORATORS)
    return mounted(case, Route("/view", endpoint))


CASE_BUILDERS = {"starlette-route": route_case, "starlette-endpoint": endpoint_case}


def shared(name: str, path: str, methods: tuple[str, ...] | None = None) -> Route:
    """A function Route; without ``methods`` Starlette serves GET (and HEAD) only."""
    view = apply(function_view(name), spec.SHARED_ROUTES[name].marks_for("GET"), DECORATORS)
    return Route(path, view, methods=None if methods is None else list(methods))


def head_handler_class() -> type[HTTPEndpoint]:
    marks = spec.SHARED_ROUTES["head-handler"].marks_for

    class HeadHandler(HTTPEndpoint):
        async def get(self, request: Request) -> Response:
            return answer(request, "head-handler/get")

        async def head(self, request: Request) -> Response:
            return answer(request, "head-handler/head")

    apply(HeadHandler.get, marks("GET"), DECORATORS)
    apply(HeadHandler.head, marks("HEAD"), DECORATORS)
    return HeadHandler


async def files(request: Request) -> Response:
    return answer(request, "files", served=spec.served_path(request.path_params["rest"]))


def shared_routes() -> list[BaseRoute]:
    mixed_marks = spec.SHARED_ROUTES["exempt-mixed"].marks_for("POST")
    mixed = endpoint_class("exempt-mixed", "exempt-mixed", post_marks=mixed_marks)
    return [
        shared("health", "/health"),
        shared("status", "/status"),
        shared("exempt-admin", "/exempt-admin"),
        shared("status-admin", "/status-admin"),
        Route("/exempt-mixed", mixed),
        Route("/head-handler", head_handler_class()),
        shared("reports", "/reports/{n}", ("GET", "POST")),
        shared("reports-audit", "/reports/{n}/audit"),
        Route("/files/{rest:path}", files, methods=["GET"]),
        shared("ci-reports", "/ci-reports/{n}"),
        shared("cors-get-only", "/cors/get-only"),
        shared("cors-answers-options", "/cors/answers-options", ("GET", "OPTIONS")),
    ]


def beyond_routes() -> list[BaseRoute]:
    decorators = beyond.decorators_of(audmw.starlette)
    levels_name = beyond.view_name(beyond.CLASS_ROUTE)

    class Levels(HTTPEndpoint):
        async def get(self, request: Request) -> Response:
            return answer(request, levels_name)

    beyond.apply_uses(Levels, beyond.CLASS_USES, decorators)
    beyond.apply_uses(Levels.get, beyond.HANDLER_USES, decorators)
    return [
        Route(
            beyond.path_of(name),
            beyond.apply_uses(function_view(beyond.view_name(name)), uses, decorators),
        )
        for name, uses in beyond.ROUTES.items()
    ] + [Route(beyond.path_of(beyond.CLASS_ROUTE), Levels)]


def build() -> Starlette:
    # Built here, not on the first request: a refused setting stops the process at start-up.
    settings = Settings.from_env()
    routes: list[BaseRoute] = shared_routes() + beyond_routes()
    for style in spec.styles_of("starlette"):
        routes += [CASE_BUILDERS[style.name](case) for case in spec.cases(style)]
    return Starlette(routes=routes, middleware=[Middleware(AudienceMiddleware, settings)])
