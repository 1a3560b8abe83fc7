"""The contract's routes on FastAPI: path operations in included APIRouters, Security scopes.

No ``from __future__ import annotations`` here: the ``Annotated`` dependencies below name
local values, which FastAPI could not resolve from strings.
"""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.params import Depends
from starlette.middleware import Middleware
from starlette.responses import JSONResponse, Response

import audmw.fastapi
from audmw import Settings
from audmw.fastapi import (
    AccessToken,
    AudienceMiddleware,
    RequireAnyScope,
    RequireScopes,
    public,
    require_any_scope,
    require_scopes,
)
from contract import beyond, spec
from contract.marking import Decorators, apply, apply_level
from contract.ran import record

DECORATORS = Decorators(public, require_scopes, require_any_scope)
Endpoint = Callable[..., Coroutine[Any, Any, Response]]


def answer(request: Request, name: str, **extra: str) -> JSONResponse:
    record(request.headers.get(spec.REQUEST_ID_HEADER), name)
    return JSONResponse({"view": name, **extra})


def function_view(name: str) -> Endpoint:
    async def view(request: Request) -> Response:
        return answer(request, name)

    return view


def security_view(name: str, mark: str) -> Endpoint:
    """An endpoint that asks for its scopes through a Security parameter."""
    scopes = spec.level_scopes("fn", mark)
    if mark == spec.SECURITY_ALL:

        async def view_all(
            request: Request, token: Annotated[AccessToken, RequireScopes(*scopes)]
        ) -> Response:
            return answer(request, name)

        return view_all

    async def view_any(
        request: Request, token: Annotated[AccessToken, RequireAnyScope(*scopes)]
    ) -> Response:
        return answer(request, name)

    return view_any


def router_dependencies(case: spec.Case) -> list[Depends]:
    mark = case.mark("outer")
    scopes = spec.level_scopes("outer", mark or "")
    if mark == spec.ALL:
        return [RequireScopes(*scopes)]
    if mark == spec.ANY:
        return [RequireAnyScope(*scopes)]
    return []


def operation_case(app: FastAPI, case: spec.Case) -> None:
    name = case.view_name("fn")
    mark = case.mark("fn")
    if mark in (spec.SECURITY_ALL, spec.SECURITY_ANY):
        endpoint = security_view(name, mark)
    else:
        endpoint = apply_level(function_view(name), case, "fn", DECORATORS)
    router = APIRouter()
    router.add_api_route("/view", endpoint, methods=["GET", "POST"])
    app.include_router(
        router,
        prefix=case.path.removesuffix("/view"),
        dependencies=router_dependencies(case),
    )


def apply_marks(marks: tuple[spec.Mark, ...]) -> Callable[[Endpoint], Endpoint]:
    def decorate(endpoint: Endpoint) -> Endpoint:
        return apply(endpoint, marks, DECORATORS)

    return decorate


def shared(app: FastAPI, name: str, path: str, methods: tuple[str, ...] = ("GET",)) -> None:
    async def view(request: Request) -> Response:
        return answer(request, name)

    apply(view, spec.SHARED_ROUTES[name].marks_for("GET"), DECORATORS)
    app.add_api_route(path, view, methods=list(methods))


def shared_routes(app: FastAPI) -> None:
    shared(app, "health", "/health")
    shared(app, "status", "/status")
    shared(app, "exempt-admin", "/exempt-admin")
    shared(app, "status-admin", "/status-admin")
    shared(app, "reports", "/reports/{n}", ("GET", "POST"))
    shared(app, "reports-audit", "/reports/{n}/audit")
    shared(app, "ci-reports", "/ci-reports/{n}")
    shared(app, "cors-get-only", "/cors/get-only")
    shared(app, "cors-answers-options", "/cors/answers-options", ("GET", "OPTIONS"))

    marks = spec.SHARED_ROUTES["head-handler"].marks_for

    # The HEAD handler is an operation of its own.
    @app.get("/head-handler")
    @apply_marks(marks("GET"))
    async def head_handler_get(request: Request) -> Response:
        return answer(request, "head-handler/get")

    @app.head("/head-handler")
    @apply_marks(marks("HEAD"))
    async def head_handler_head(request: Request) -> Response:
        return answer(request, "head-handler/head")

    @app.get("/files/{rest:path}")
    async def files(request: Request, rest: str) -> Response:
        return answer(request, "files", served=spec.served_path(rest))


def beyond_route(app: FastAPI, name: str) -> None:
    view_name = beyond.view_name(name)
    dependency = beyond.FASTAPI_DEPENDENCIES.get(name)
    if dependency is None:
        view = beyond.apply_uses(
            function_view(view_name), beyond.ROUTES[name], beyond.decorators_of(audmw.fastapi)
        )
    else:
        function, args, kwargs = dependency
        security = getattr(audmw.fastapi, function)(*args, **kwargs)

        async def view(request: Request, token: Annotated[AccessToken, security]) -> Response:
            return answer(request, view_name)

    app.add_api_route(beyond.path_of(name), view, methods=["GET"])


def beyond_router(app: FastAPI) -> None:
    """The class route: the router's dependencies are the outer level, the function inner."""
    (outer,) = beyond.CLASS_USES
    router = APIRouter(dependencies=[audmw.fastapi.RequireAuthentication(**outer.kwargs)])
    view = beyond.apply_uses(
        function_view(beyond.view_name(beyond.CLASS_ROUTE)),
        beyond.HANDLER_USES,
        beyond.decorators_of(audmw.fastapi),
    )
    router.add_api_route(beyond.path_of(beyond.CLASS_ROUTE), view, methods=["GET"])
    app.include_router(router)


def build() -> FastAPI:
    settings = Settings.from_env()  # a refused setting stops the process at start-up
    app = FastAPI(middleware=[Middleware(AudienceMiddleware, settings)], openapi_url=None)
    shared_routes(app)
    for name in beyond.ROUTES:
        beyond_route(app, name)
    beyond_router(app)
    for case in spec.cases(spec.styles_of("fastapi")[0]):
        operation_case(app, case)
    return app
