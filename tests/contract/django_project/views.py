"""Views of every kind, built from the table: function views, View, APIView, @api_view,
ViewSets. Each names itself in its JSON answer and in the log of views that ran."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.views import View
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import ViewSet

import audmw_django
from audmw_django import public, require_any_scope, require_scopes
from contract import beyond, spec
from contract.marking import Decorators, apply, apply_level, level_marks
from contract.ran import record

DECORATORS = Decorators(public, require_scopes, require_any_scope)
ViewFunction = Callable[..., HttpResponseBase]
Marks = Iterable[spec.Mark]


def answer(request: HttpRequest, name: str, **extra: str) -> JsonResponse:
    record(request.headers.get(spec.REQUEST_ID_HEADER), name)
    return JsonResponse({"view": name, **extra})


def drf_answer(request: Request, name: str) -> Response:
    record(request.headers.get(spec.REQUEST_ID_HEADER), name)
    return Response({"view": name})


def function_view(name: str) -> ViewFunction:
    def view(request: HttpRequest, **path: str) -> HttpResponse:
        return answer(request, name)

    return view


# Each factory makes a class of its own: marks on its methods must not be shared.


def view_class(
    get_name: str, post_name: str, get_marks: Marks = (), post_marks: Marks = ()
) -> type[View]:
    class Resource(View):
        def get(self, request: HttpRequest, **path: str) -> HttpResponse:
            return answer(request, get_name)

        def post(self, request: HttpRequest, **path: str) -> HttpResponse:
            return answer(request, post_name)

    apply(Resource.get, get_marks, DECORATORS)
    apply(Resource.post, post_marks, DECORATORS)
    return Resource


def apiview_class(get_name: str, post_name: str, get_marks: Marks = ()) -> type[APIView]:
    class Resource(APIView):
        def get(self, request: Request) -> Response:
            return drf_answer(request, get_name)

        def post(self, request: Request) -> Response:
            return drf_answer(request, post_name)

    apply(Resource.get, get_marks, DECORATORS)
    return Resource


def viewset_class(list_name: str, create_name: str, list_marks: Marks = ()) -> type[ViewSet]:
    class Resources(ViewSet):
        def list(self, request: Request) -> Response:
            return drf_answer(request, list_name)

        def create(self, request: Request) -> Response:
            return drf_answer(request, create_name)

    apply(Resources.list, list_marks, DECORATORS)
    return Resources


def function_case(case: spec.Case) -> ViewFunction:
    return apply_level(function_view(case.view_name("fn")), case, "fn", DECORATORS)


def class_case(case: spec.Case) -> ViewFunction:
    handler = level_marks(case, "handler")
    names = (case.view_name("get"), case.view_name("post"))
    factory = view_class if case.style.name == "django-view" else apiview_class
    resource: type[View] = factory(*names, handler)
    return apply_level(resource, case, "cls", DECORATORS).as_view()


def api_view_case(case: spec.Case) -> ViewFunction:
    name = case.view_name("fn")

    def view(request: Request) -> Response:
        return drf_answer(request, name)

    # The mark above @api_view: it marks the view function Django resolves.
    return apply_level(api_view(["GET", "POST"])(view), case, "fn", DECORATORS)


def viewset_case(case: spec.Case) -> type[ViewSet]:
    resources = viewset_class(
        case.view_name("list"), case.view_name("create"), level_marks(case, "handler")
    )
    return apply_level(resources, case, "cls", DECORATORS)


def head_only_viewset() -> type[ViewSet]:
    admin = (spec.Mark("handler", spec.ALL, ("admin",)),)
    return viewset_class(spec.HEAD_ONLY_VIEWSET_VIEW, "drf-head-only/create", admin)


def shared(name: str) -> ViewFunction:
    return apply(function_view(name), spec.SHARED_ROUTES[name].marks_for("GET"), DECORATORS)


def beyond_view(name: str) -> ViewFunction:
    view = function_view(beyond.view_name(name))
    return beyond.apply_uses(view, beyond.ROUTES[name], beyond.decorators_of(audmw_django))  # type: ignore[no-any-return]


def beyond_class_view() -> ViewFunction:
    name = beyond.view_name(beyond.CLASS_ROUTE)

    class Levels(APIView):
        def get(self, request: Request) -> Response:
            return drf_answer(request, name)

    decorators = beyond.decorators_of(audmw_django)
    beyond.apply_uses(Levels, beyond.CLASS_USES, decorators)
    beyond.apply_uses(Levels.get, beyond.HANDLER_USES, decorators)
    return Levels.as_view()


def exempt_mixed() -> ViewFunction:
    post_marks = spec.SHARED_ROUTES["exempt-mixed"].marks_for("POST")
    return view_class("exempt-mixed", "exempt-mixed", post_marks=post_marks).as_view()


def head_handler() -> ViewFunction:
    marks = spec.SHARED_ROUTES["head-handler"].marks_for

    class HeadHandler(View):
        def get(self, request: HttpRequest) -> HttpResponse:
            return answer(request, "head-handler/get")

        def head(self, request: HttpRequest) -> HttpResponse:
            return answer(request, "head-handler/head")

    apply(HeadHandler.get, marks("GET"), DECORATORS)
    apply(HeadHandler.head, marks("HEAD"), DECORATORS)
    return HeadHandler.as_view()


def files(request: HttpRequest, rest: str) -> HttpResponse:
    return answer(request, "files", served=spec.served_path(rest))


def cors_answers_options() -> ViewFunction:
    """A class view: Django's View.options answers OPTIONS."""
    return view_class("cors-answers-options", "cors-answers-options").as_view()


def cors_drf() -> ViewFunction:
    return apiview_class("cors-drf", "cors-drf").as_view()
