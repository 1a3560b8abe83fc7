from django.http import HttpRequest, JsonResponse
from django.views import View

from audmw_django import public, require_scopes


@public
async def public_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"message": "public: no token needed"})


async def me(request: HttpRequest) -> JsonResponse:
    token = request.access_token  # type: ignore[attr-defined]
    return JsonResponse(
        {"sub": token.subject, "scopes": sorted(token.scopes), "aud": list(token.audience)}
    )


class Messages(View):
    @require_scopes("read:messages")
    async def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse({"messages": [{"id": 1, "text": "hello"}]})

    @require_scopes("write:messages")
    async def post(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse({"id": 2, "created": True}, status=201)


@require_scopes("read:messages", "admin")
async def admin(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"admin": True})
