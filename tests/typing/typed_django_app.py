"""Django and DRF views as their user writes them under ``mypy --strict``."""

from __future__ import annotations

from typing import ClassVar

from django.http import HttpRequest, JsonResponse
from django.views import View
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audmw import AccessToken, Settings
from audmw_django import access_token, public, require_access_token, require_scopes
from audmw_django.rest_framework import HasAnyScope, HasScopes

# settings.py
AUDMW = Settings(issuer="https://login.example.com/", audience="https://api.example.com")


@public
def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


@require_scopes("read:messages")
def messages(request: HttpRequest) -> JsonResponse:
    token: AccessToken = require_access_token(request)
    return JsonResponse({"sub": token.subject, "scopes": sorted(token.scopes)})


def me(request: HttpRequest) -> JsonResponse:
    token = access_token(request)
    if token is None:  # not reached behind the middleware: the view needs a token
        return JsonResponse({"error": "no token"}, status=500)
    return JsonResponse({"sub": token.subject, "aud": list(token.audience)})


@require_scopes("messages")
class Messages(View):
    @require_scopes("write:messages")
    def post(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse({"created_by": require_access_token(request).subject}, status=201)


class Reports(APIView):
    permission_classes = (HasScopes,)
    required_scopes: ClassVar[dict[str, list[str]]] = {
        "GET": ["read:reports"],
        "POST": ["write:reports"],
    }

    def get(self, request: Request) -> Response:
        return Response({"reader": require_access_token(request).subject})


class Audit(APIView):
    permission_classes = (HasAnyScope,)
    required_scopes = ("admin", "support")

    def get(self, request: Request) -> Response:
        token = access_token(request)
        return Response({"client": token.client_id if token is not None else None})
