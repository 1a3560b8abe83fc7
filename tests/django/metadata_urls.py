"""The URLconf of the resource-metadata tests: the API of ``resource_metadata_checks``."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views import View

from audmw_django import public, require_any_scope, require_scopes


@public
def open_route(request: HttpRequest) -> JsonResponse:
    return JsonResponse({})


def me(request: HttpRequest) -> JsonResponse:
    return JsonResponse({})


@require_scopes("notes:read")
def notes(request: HttpRequest) -> JsonResponse:
    return JsonResponse({})


class Admin(View):
    @require_scopes("notes:read", "admin")
    def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse({})


@require_any_scope("x:one", "x:two")
def either(request: HttpRequest) -> JsonResponse:
    return JsonResponse({})


urlpatterns = [
    path("public", open_route),
    path("api/me", me),
    path("api/notes", notes),
    path("api/admin", Admin.as_view()),
    path("api/either", either),
]
