"""Views of every kind the middleware must judge; ``EFFECTS`` records which ones ran."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import View
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audmw_django import public, require_any_scope, require_scopes
from audmw_django.rest_framework import AudienceAuthentication, HasAnyScope, HasScopes

EFFECTS: list[str] = []


def _describe(request: HttpRequest, name: str) -> JsonResponse:
    EFFECTS.append(name)
    token = request.access_token  # type: ignore[attr-defined]
    return JsonResponse(
        {
            "view": name,
            "sub": token.subject if token else None,
            "user": str(request.user) if hasattr(request, "user") else None,
            "authenticated": bool(getattr(request, "user", None) and request.user.is_authenticated),
        }
    )


@public
def open_view(request: HttpRequest) -> JsonResponse:
    return _describe(request, "open")


def any_token(request: HttpRequest) -> JsonResponse:
    return _describe(request, "any")


@require_scopes("read:messages")
def read_messages(request: HttpRequest) -> JsonResponse:
    return _describe(request, "read")


@require_any_scope("alpha", "beta")
def either(request: HttpRequest) -> JsonResponse:
    return _describe(request, "either")


@require_scopes("write:messages")
def write_effect(request: HttpRequest) -> JsonResponse:
    return _describe(request, f"write {request.method}")


@require_scopes("read:messages")
async def async_read(request: HttpRequest) -> JsonResponse:
    return _describe(request, "async read")


def health(request: HttpRequest) -> HttpResponse:
    EFFECTS.append("health")
    return HttpResponse("ok")


def third_party(request: HttpRequest, name: str) -> HttpResponse:
    EFFECTS.append(f"third {name} {request.method}")
    return HttpResponse("third party")


def session_view(request: HttpRequest) -> HttpResponse:
    EFFECTS.append(f"session {request.method}")
    return HttpResponse(f"user={request.user}")


@require_scopes("items")
class ItemsView(View):
    """Class requirement ``items`` combined with each method's own."""

    @require_scopes("read:items")
    def get(self, request: HttpRequest) -> JsonResponse:
        return _describe(request, "items get")

    @require_scopes("write:items")
    def post(self, request: HttpRequest) -> JsonResponse:
        return _describe(request, "items post")

    @public
    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        EFFECTS.append("items options")
        return HttpResponse("options")


@public
class PublicPage(View):
    def get(self, request: HttpRequest) -> JsonResponse:
        return _describe(request, "public page")


class PlainView(View):
    def get(self, request: HttpRequest) -> JsonResponse:
        return _describe(request, "plain get")

    @require_any_scope("alpha", "beta")
    def delete(self, request: HttpRequest) -> JsonResponse:
        return _describe(request, "plain delete")


class AsyncItems(View):
    @require_scopes("read:items")
    async def get(self, request: HttpRequest) -> JsonResponse:
        return _describe(request, "async items get")


# -- Django REST framework ------------------------------------------------------------------


class DrfMessages(APIView):
    authentication_classes = (AudienceAuthentication,)
    permission_classes = (HasScopes,)
    required_scopes = MappingProxyType({"GET": ("read:messages",), "POST": ("write:messages",)})

    def get(self, request: Request) -> Response:
        EFFECTS.append("drf get")
        return Response({"sub": request.auth.subject, "user": str(request.user)})

    def post(self, request: Request) -> Response:
        EFFECTS.append("drf post")
        return Response({"created": True}, status=201)


class DrfEither(APIView):
    authentication_classes = (AudienceAuthentication,)
    permission_classes = (HasAnyScope,)
    required_scopes = ("alpha", "beta")
    required_scopes_delete = "admin"

    def get(self, request: Request) -> Response:
        EFFECTS.append("drf either get")
        return Response({"scopes": sorted(request.auth.scopes)})

    def delete(self, request: Request) -> Response:
        EFFECTS.append("drf either delete")
        return Response(status=204)


class DrfMiddlewareToken(APIView):
    """No DRF authentication class: the permission reads the middleware's token."""

    authentication_classes = ()
    permission_classes = (HasScopes,)
    required_scopes = ("read:messages",)

    def get(self, request: Request) -> Response:
        EFFECTS.append("drf middleware")
        return Response({"sub": request._request.access_token.subject})  # type: ignore[attr-defined]


@login_required
def members_only(request: HttpRequest) -> JsonResponse:
    EFFECTS.append("members only")
    user = request.user
    return JsonResponse({"user": user.get_username(), "model": user.__class__.__name__})


class DrfDefaults(APIView):
    """DRF's own default authentication classes and IsAuthenticated, behind the middleware."""

    from rest_framework.authentication import BasicAuthentication, SessionAuthentication
    from rest_framework.permissions import IsAuthenticated

    authentication_classes = (SessionAuthentication, BasicAuthentication)
    permission_classes = (IsAuthenticated,)

    def get(self, request: Request) -> Response:
        EFFECTS.append("drf defaults")
        return Response({"user": str(request.user)})


@require_scopes("admin")  # above @api_view: it marks the view Django resolves
@api_view(["GET"])
def drf_function(request: Request) -> Response:
    EFFECTS.append("drf function")
    return Response({"ok": True})


def incoming(request: HttpRequest) -> JsonResponse:
    from audmw_django import incoming_token

    return JsonResponse({"fingerprint": incoming_token(request).fingerprint})


@public
def incoming_public(request: HttpRequest) -> JsonResponse:
    from audmw_django import incoming_token

    try:
        return JsonResponse({"fingerprint": incoming_token(request).fingerprint})
    except LookupError:
        return JsonResponse({"fingerprint": None})


class DrfIncoming(APIView):
    authentication_classes = (AudienceAuthentication,)

    def get(self, request: Request) -> Response:
        from audmw_django import incoming_token

        return Response({"fingerprint": incoming_token(request).fingerprint})
