"""A URLconf whose marks cannot all take effect, for the start-up checks."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views import View
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from audmw_django import require_scopes


@api_view(["GET"])
@require_scopes("admin")  # below @api_view: DRF calls the function from a class of its own
def under_api_view(request: Request) -> Response:
    return Response({"view": "under api_view"})


@require_scopes("admin")  # above @api_view: takes effect
@api_view(["GET"])
def above_api_view(request: Request) -> Response:
    return Response({"view": "above api_view"})


def logged(view: Callable[..., Any]) -> Callable[..., Any]:
    """A decorator without functools.wraps: the wrapper carries none of the view's marks."""

    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        return view(request, *args, **kwargs)

    return wrapper


def wrapped(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        return view(request, *args, **kwargs)

    return wrapper


@logged
@require_scopes("reports")
def hidden_by_a_decorator(request: HttpRequest) -> HttpResponse:
    return HttpResponse("hidden")


@wrapped
@require_scopes("reports")
def kept_by_wraps(request: HttpRequest) -> HttpResponse:
    return HttpResponse("kept")


class Reports(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("reports")

    @require_scopes("admin")  # not a handler: Django never calls it for a request
    def export(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("export")


@require_scopes("admin")
def never_routed(request: HttpRequest) -> HttpResponse:
    return HttpResponse("never routed")


urlpatterns = [
    path("under", under_api_view),
    path("above", above_api_view),
    path("hidden", hidden_by_a_decorator),
    path("kept", kept_by_wraps),
    path("reports", Reports.as_view()),
]
