"""The apps ``bench.workers`` serves: ``GET /api/me`` (a valid token) and ``GET /public``.

``starlette_app``, ``flask_app`` and ``django_app`` (WSGI) are made on first access, in each
worker process, from ``AUDMW_*``; with ``BENCH_AUTH=0`` the same app is made without audmw.
Both routes answer the worker's process id, so the benchmark can tell the workers apart.
"""

from __future__ import annotations

import os
from typing import Any

PID = str(os.getpid())


def _auth() -> bool:
    return os.environ.get("BENCH_AUTH", "1") != "0"


def _starlette() -> Any:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from audmw.starlette import AudienceMiddleware, public

    async def me(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(os.getpid()))

    @public
    async def public_route(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(os.getpid()))

    middleware = [Middleware(AudienceMiddleware)] if _auth() else []
    return Starlette(
        routes=[Route("/api/me", me), Route("/public", public_route)], middleware=middleware
    )


def _flask() -> Any:
    from flask import Flask

    from audmw_flask import Audmw, public

    app = Flask("bench_workers")

    @app.get("/api/me")
    def me() -> str:
        return str(os.getpid())

    @app.get("/public")
    @public
    def public_route() -> str:
        return str(os.getpid())

    if _auth():
        from audmw import Settings

        Audmw(app, settings=Settings.from_env())
    return app


def _django() -> Any:
    import django
    from django.conf import settings

    from audmw import Settings

    if not settings.configured:
        settings.configure(
            SECRET_KEY="bench-workers-only-" + "x" * 40,
            ALLOWED_HOSTS=["127.0.0.1", "localhost"],
            INSTALLED_APPS=["audmw_django"] if _auth() else [],
            MIDDLEWARE=["audmw_django.middleware.AudienceMiddleware"] if _auth() else [],
            ROOT_URLCONF="bench.worker_apps",
            AUDMW=Settings.from_env(),
            USE_TZ=True,
        )
        django.setup()
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


def _urlpatterns() -> list[Any]:
    from django.http import HttpRequest, HttpResponse
    from django.urls import path

    from audmw_django import public

    def answer() -> HttpResponse:
        body = str(os.getpid())
        # Django leaves Content-Length to CommonMiddleware, which this app leaves out.
        response = HttpResponse(body, content_type="text/plain")
        response["Content-Length"] = str(len(body))
        return response

    def me(request: HttpRequest) -> HttpResponse:
        return answer()

    @public
    def public_route(request: HttpRequest) -> HttpResponse:
        return answer()

    return [path("api/me", me), path("public", public_route)]


_MADE: dict[str, Any] = {}
_MAKERS = {
    "starlette_app": _starlette,
    "flask_app": _flask,
    "django_app": _django,
    "urlpatterns": _urlpatterns,
}


def __getattr__(name: str) -> Any:
    maker = _MAKERS.get(name)
    if maker is None:
        raise AttributeError(name)
    if name not in _MADE:
        _MADE[name] = maker()
    return _MADE[name]
