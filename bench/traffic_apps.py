"""The apps that ``bench.traffic`` serves: one per framework and variant, each in its own server.

    BENCH_FRAMEWORK=flask BENCH_VARIANT=pyjwt BENCH_ISSUER=... BENCH_PORT=... \\
        python -m bench.traffic_apps

Every app answers the same three routes the same way: ``GET /api/me`` (a valid token),
``GET /api/messages`` (``read:messages``) and ``GET /api/admin`` (``read:messages`` and
``admin``), 401 for a token that is not valid for this API, 403 for one without the scopes.
The ``no-auth`` variant answers 200 to everything: it is the floor the others are measured
against.

The peers are configured as their documentation recommends for production: the audience, the
issuer and the expiry checked, the algorithms listed, the keys fetched from the issuer's JWKS
and cached as far as the peer allows. The hand-written middlewares are what a user writes with
a JWT library: read the header, find the key by ``kid``, decode, check the route's scopes.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import jwt

AUDIENCE = "https://api.example.com"
ALGORITHMS = ["RS256", "ES256", "EdDSA"]
KEY_ALGORITHMS = {"RSA": ["RS256"], "EC": ["ES256"], "OKP": ["EdDSA"]}
ROUTE_SCOPES: dict[str, tuple[str, ...]] = {
    "/api/me": (),
    "/api/messages": ("read:messages",),
    "/api/admin": ("read:messages", "admin"),
}
FRAMEWORKS = ("starlette", "fastapi", "flask", "django-wsgi", "django-asgi")
# Per framework: the variants a user would pick, the baseline first and audmw second.
VARIANTS: dict[str, tuple[str, ...]] = {
    "starlette": ("no-auth", "audmw", "pyjwt", "oxyjwt", "webtoken"),
    "fastapi": (
        "no-auth",
        "audmw",
        "audmw + RequireScopes",
        "pyjwt",
        "azure-style dependency",
        "oxyjwt",
        "webtoken",
    ),
    "flask": (
        "no-auth",
        "audmw",
        "pyjwt",
        "authlib",
        "flask-jwt-extended",
        "oxyjwt",
        "webtoken",
    ),
    "django-wsgi": ("no-auth", "audmw", "pyjwt", "simplejwt", "oxyjwt", "webtoken"),
    "django-asgi": ("no-auth", "audmw", "pyjwt", "simplejwt", "oxyjwt", "webtoken"),
}
# What a variant cannot express: the algorithms it can be given, and why. Its tokens are signed
# with those only (clients in turn, as for the others) and its run says so beside its figures.
LIMITS: dict[str, tuple[tuple[str, ...], str]] = {
    "simplejwt": (("RS256",), "one ALGORITHM per configuration: served RS256 tokens only"),
    "authlib": (
        ("RS256", "ES256"),
        "its validator decodes with joserfc's default algorithms, EdDSA not among them: "
        "served RS256 and ES256 tokens only",
    ),
}
# The package each peer needs; a variant whose package is missing is left out of the run.
PACKAGES = {
    "pyjwt": "jwt",
    "oxyjwt": "oxyjwt",
    "webtoken": "webtoken",
    "authlib": "authlib",
    "flask-jwt-extended": "flask_jwt_extended",
    "simplejwt": "rest_framework_simplejwt",
}
# The WSGI server: waitress (4 threads, keep-alive), or gunicorn's sync worker (one process,
# one request per connection: under this load it spends its time accepting connections and
# its figures say more about that than about auth); ``BENCH_WSGI`` chooses.
WSGI_SERVERS = ("waitress", "gunicorn")
ASGI_SERVER = "uvicorn (httptools, uvloop)"


def server_of(framework: str, wsgi: str | None = None) -> str:
    if framework in ("flask", "django-wsgi"):
        return wsgi or os.environ.get("BENCH_WSGI", "waitress")
    return ASGI_SERVER


class Refused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def bearer(header: str | None) -> str:
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Refused(401)
    return token


def check_scopes(path: str, claims: Mapping[str, Any]) -> None:
    needed = ROUTE_SCOPES.get(path, ())
    if needed:
        granted = str(claims.get("scope", "")).split()
        if not all(scope in granted for scope in needed):
            raise Refused(403)


# -- the JWT libraries, each with its keys cached ----------------------------------------------


class PyJWTVerifier:
    """PyJWT as its documentation shows for a JWKS: ``PyJWKClient`` (keys cached) and
    ``jwt.decode`` with the audience, issuer and algorithms."""

    def __init__(self, issuer: str, jwks_uri: str) -> None:
        self.issuer = issuer
        self.client = jwt.PyJWKClient(jwks_uri, cache_keys=True, lifespan=300)

    def __call__(self, token: str) -> dict[str, Any]:
        try:
            key = self.client.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=AUDIENCE,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except (jwt.InvalidTokenError, jwt.PyJWKClientError):
            raise Refused(401) from None
        return claims


class OxyJWTVerifier:
    """oxyjwt (Rust), PyJWT's API: its own ``PyJWKClient`` with the keys cached. It takes
    only algorithms that fit the key, so the key's type names the one allowed."""

    def __init__(self, issuer: str, jwks_uri: str) -> None:
        import oxyjwt
        from oxyjwt.jwks_client import PyJWKClient

        self.oxyjwt = oxyjwt
        # The local issuer serves over plain HTTP on 127.0.0.1; a real one over HTTPS.
        warnings.filterwarnings("ignore", "JWKS URI is using unencrypted HTTP")
        self.issuer = issuer
        self.client = PyJWKClient(jwks_uri, cache_keys=True, lifespan=300)

    def __call__(self, token: str) -> dict[str, Any]:
        try:
            key = self.client.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = self.oxyjwt.decode(
                token,
                key.key,
                KEY_ALGORITHMS[key.key_type],
                audience=AUDIENCE,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except Exception:  # its errors and its key client's have no common base
            raise Refused(401) from None
        return claims


class WebtokenVerifier:
    """webtoken (Rust), PyJWT's API without a JWKS client: the keys by ``kid``, fetched once
    and again (at most every 30 s) when a token names a ``kid`` not yet known."""

    def __init__(self, issuer: str, jwks_uri: str) -> None:
        import webtoken

        self.webtoken = webtoken
        self.issuer, self.jwks_uri = issuer, jwks_uri
        self.keys: dict[str, Any] = {}
        self.fetched = 0.0
        self.lock = threading.Lock()

    def key(self, kid: str) -> Any:
        key = self.keys.get(kid)
        if key is None:
            with self.lock:
                if kid not in self.keys and time.monotonic() - self.fetched > 30:
                    self.fetched = time.monotonic()
                    document = httpx.get(self.jwks_uri, timeout=10).json()
                    self.keys = {jwk["kid"]: self.webtoken.PyJWK(jwk) for jwk in document["keys"]}
            key = self.keys.get(kid)
        if key is None:
            raise Refused(401)
        return key

    def __call__(self, token: str) -> dict[str, Any]:
        try:
            kid = self.webtoken.get_unverified_header(token).get("kid")
            claims: dict[str, Any] = self.webtoken.decode(
                token,
                self.key(str(kid)),
                algorithms=ALGORITHMS,
                audience=AUDIENCE,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except Refused:
            raise
        except Exception:  # its errors have no common base
            raise Refused(401) from None
        return claims


VERIFIERS: dict[str, Callable[[str, str], Callable[[str], dict[str, Any]]]] = {
    "pyjwt": PyJWTVerifier,
    "oxyjwt": OxyJWTVerifier,
    "webtoken": WebtokenVerifier,
}


def settings(issuer: str) -> Any:
    from audmw import Settings

    return Settings(issuer=issuer, audience=AUDIENCE)


# -- Starlette and FastAPI ---------------------------------------------------------------------


def hand_written_asgi(verify: Callable[[str], dict[str, Any]]) -> Any:
    """A pure ASGI middleware around a JWT library, as one writes it by hand."""
    from starlette.responses import PlainTextResponse

    def middleware(app: Any) -> Any:
        async def guarded(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                header = None
                for name, value in scope["headers"]:
                    if name == b"authorization":
                        header = value.decode("latin-1")
                try:
                    claims = verify(bearer(header))
                    check_scopes(scope["path"], claims)
                except Refused as refused:
                    answer = PlainTextResponse(
                        "refused", refused.status, {"WWW-Authenticate": "Bearer"}
                    )
                    await answer(scope, receive, send)
                    return
                scope.setdefault("state", {})["claims"] = claims
            await app(scope, receive, send)

        return guarded

    return middleware


def starlette_app(variant: str, issuer: str, jwks_uri: str) -> Any:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from audmw.starlette import AudienceMiddleware, require_scopes

    async def me(request: Request) -> JSONResponse:
        return JSONResponse({"sub": "user"})

    async def messages(request: Request) -> JSONResponse:
        return JSONResponse({"messages": []})

    async def admin(request: Request) -> JSONResponse:
        return JSONResponse({"admin": True})

    middleware: list[Middleware] = []
    if variant == "audmw":
        messages = require_scopes("read:messages")(messages)
        admin = require_scopes("read:messages", "admin")(admin)
        middleware = [Middleware(AudienceMiddleware, settings(issuer))]
    elif variant in VERIFIERS:
        guard = hand_written_asgi(VERIFIERS[variant](issuer, jwks_uri))
        routes = [
            Route("/api/me", me),
            Route("/api/messages", messages),
            Route("/api/admin", admin),
        ]
        return guard(Starlette(routes=routes))
    routes = [Route("/api/me", me), Route("/api/messages", messages), Route("/api/admin", admin)]
    return Starlette(routes=routes, middleware=middleware)


# -- Flask ---------------------------------------------------------------------------------------


def flask_app(variant: str, issuer: str, jwks_uri: str) -> Any:
    from flask import Flask, request

    app = Flask(__name__)

    def me() -> dict[str, Any]:
        return {"sub": "user"}

    def messages() -> dict[str, Any]:
        return {"messages": []}

    def admin() -> dict[str, Any]:
        return {"admin": True}

    views: dict[str, Callable[[], Any]] = {
        "/api/me": me,
        "/api/messages": messages,
        "/api/admin": admin,
    }
    if variant == "audmw":
        from audmw_flask import require_scopes

        views["/api/messages"] = require_scopes("read:messages")(messages)
        views["/api/admin"] = require_scopes("read:messages", "admin")(admin)
    elif variant in VERIFIERS:
        verify = VERIFIERS[variant](issuer, jwks_uri)

        @app.before_request
        def guard() -> Any:
            try:
                check_scopes(request.path, verify(bearer(request.headers.get("Authorization"))))
            except Refused as refused:
                return "refused", refused.status, {"WWW-Authenticate": "Bearer"}
            return None

    elif variant == "authlib":
        from authlib.integrations.flask_oauth2 import ResourceProtector
        from authlib.oauth2.rfc9068 import JWTBearerTokenValidator
        from joserfc.jwk import KeySet

        class Validator(JWTBearerTokenValidator):  # type: ignore[misc]
            """Its documentation's shape: the issuer's keys downloaded once and cached."""

            keys: Any = None

            def get_jwks(self) -> Any:
                if self.keys is None:
                    self.keys = KeySet.import_key_set(httpx.get(jwks_uri, timeout=10).json())
                return self.keys

        protect = ResourceProtector()
        protect.register_token_validator(Validator(issuer=issuer, resource_server=AUDIENCE))
        views = {
            "/api/me": protect()(me),
            "/api/messages": protect("read:messages")(messages),
            "/api/admin": protect("read:messages admin")(admin),
        }
    elif variant == "flask-jwt-extended":
        from flask_jwt_extended import JWTManager, get_jwt, jwt_required

        app.config.update(
            JWT_DECODE_ALGORITHMS=ALGORITHMS,
            JWT_ALGORITHM="RS256",
            JWT_DECODE_AUDIENCE=AUDIENCE,
            JWT_DECODE_ISSUER=issuer,
            JWT_TOKEN_LOCATION=["headers"],
            JWT_SECRET_KEY="unused-for-decoding-" + "x" * 32,
        )
        manager = JWTManager(app)
        keys = jwt.PyJWKClient(jwks_uri, cache_keys=True, lifespan=300)

        @manager.decode_key_loader
        def key_for(header: dict[str, Any], payload: dict[str, Any]) -> Any:
            return keys.get_signing_key(header.get("kid", "")).key

        def refused(*args: Any) -> Any:
            return {"msg": "refused"}, 401

        manager.invalid_token_loader(refused)
        manager.expired_token_loader(refused)
        manager.unauthorized_loader(refused)

        def scoped(view: Callable[[], Any]) -> Callable[[], Any]:
            def checked() -> Any:
                try:
                    check_scopes(request.path, get_jwt())
                except Refused as refusal:
                    return {"msg": "insufficient scope"}, refusal.status
                return view()

            checked.__name__ = view.__name__
            return jwt_required()(checked)

        views = {path: scoped(view) for path, view in views.items()}

    for path, view in views.items():
        app.add_url_rule(path, view_func=view, methods=["GET"])
    if variant == "audmw":
        from audmw_flask import Audmw

        Audmw(app, settings=settings(issuer))
    return app


# -- Django ------------------------------------------------------------------------------------


def configure_django(variant: str, issuer: str, jwks_uri: str, *, asgi: bool) -> None:
    import django
    from django.conf import settings as django_settings

    middleware = []
    apps = ["django.contrib.auth", "django.contrib.contenttypes"]
    if variant == "audmw":
        middleware = ["audmw_django.middleware.AudienceMiddleware"]
        apps.append("audmw_django")
    elif variant in VERIFIERS:
        middleware = ["bench.traffic_apps.HandWrittenDjango"]
    elif variant == "simplejwt":
        apps.append("rest_framework")
    django_settings.configure(
        SECRET_KEY="bench-only-" + "x" * 40,
        DEBUG=False,
        ALLOWED_HOSTS=["127.0.0.1"],
        INSTALLED_APPS=apps,
        MIDDLEWARE=middleware,
        ROOT_URLCONF="bench.traffic_apps",
        DATABASES={},
        USE_TZ=True,
        AUDMW={"ISSUER": issuer, "AUDIENCE": AUDIENCE},
        REST_FRAMEWORK={
            "DEFAULT_AUTHENTICATION_CLASSES": [
                "rest_framework_simplejwt.authentication.JWTStatelessUserAuthentication"
            ],
            "DEFAULT_PERMISSION_CLASSES": ["bench.traffic_apps.ScopesPermission"],
            "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
            "UNAUTHENTICATED_USER": None,
        },
        SIMPLE_JWT={
            "ALGORITHM": "RS256",
            "JWK_URL": jwks_uri,
            "SIGNING_KEY": None,
            "AUDIENCE": AUDIENCE,
            "ISSUER": issuer,
            "AUTH_HEADER_TYPES": ("Bearer",),
            "USER_ID_CLAIM": "sub",
            "TOKEN_TYPE_CLAIM": None,
            "JTI_CLAIM": None,
        },
    )
    django.setup()
    global urlpatterns
    urlpatterns = django_urls(variant, issuer, jwks_uri, asgi=asgi)


class ScopesPermission:
    """DRF: a token, and the scopes the route lists."""

    def has_permission(self, request: Any, view: Any) -> bool:
        if request.auth is None:
            return False
        try:
            check_scopes(request.path, request.auth.payload)
        except Refused:
            return False
        return True

    def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
        return True


class HandWrittenDjango:
    """A Django middleware around a JWT library, as one writes it by hand (sync and async)."""

    sync_capable = True
    async_capable = True
    verify: Callable[[str], dict[str, Any]] | None = None

    def __init__(self, get_response: Any) -> None:
        from asgiref.sync import iscoroutinefunction, markcoroutinefunction

        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def refusal(self, request: Any) -> Any:
        from django.http import HttpResponse

        assert self.verify is not None
        try:
            claims = self.verify(bearer(request.headers.get("Authorization")))
            check_scopes(request.path, claims)
        except Refused as refused:
            answer = HttpResponse("refused", status=refused.status)
            answer["WWW-Authenticate"] = "Bearer"
            return answer
        request.claims = claims
        return None

    def __call__(self, request: Any) -> Any:
        if self.is_async:
            return self.__acall__(request)
        return self.refusal(request) or self.get_response(request)

    async def __acall__(self, request: Any) -> Any:
        return self.refusal(request) or await self.get_response(request)


urlpatterns: list[Any] = []


def django_urls(variant: str, issuer: str, jwks_uri: str, *, asgi: bool) -> list[Any]:
    from django.http import HttpRequest, JsonResponse
    from django.urls import path

    if variant == "simplejwt":
        from rest_framework.response import Response
        from rest_framework.views import APIView

        class Me(APIView):
            def get(self, request: Any) -> Response:
                return Response({"sub": "user"})

        class Messages(APIView):
            def get(self, request: Any) -> Response:
                return Response({"messages": []})

        class Admin(APIView):
            def get(self, request: Any) -> Response:
                return Response({"admin": True})

        return [
            path("api/me", Me.as_view()),
            path("api/messages", Messages.as_view()),
            path("api/admin", Admin.as_view()),
        ]
    if variant in VERIFIERS:
        HandWrittenDjango.verify = VERIFIERS[variant](issuer, jwks_uri)

    views: dict[str, Any]
    if asgi:

        async def me(request: HttpRequest) -> JsonResponse:
            return JsonResponse({"sub": "user"})

        async def messages(request: HttpRequest) -> JsonResponse:
            return JsonResponse({"messages": []})

        async def admin(request: HttpRequest) -> JsonResponse:
            return JsonResponse({"admin": True})

        views = {"me": me, "messages": messages, "admin": admin}
    else:

        def me_sync(request: HttpRequest) -> JsonResponse:
            return JsonResponse({"sub": "user"})

        def messages_sync(request: HttpRequest) -> JsonResponse:
            return JsonResponse({"messages": []})

        def admin_sync(request: HttpRequest) -> JsonResponse:
            return JsonResponse({"admin": True})

        views = {"me": me_sync, "messages": messages_sync, "admin": admin_sync}
    if variant == "audmw":
        from audmw_django import require_scopes

        views["messages"] = require_scopes("read:messages")(views["messages"])
        views["admin"] = require_scopes("read:messages", "admin")(views["admin"])
    return [path(f"api/{name}", view) for name, view in views.items()]


# -- the server ---------------------------------------------------------------------------------


def build(framework: str, variant: str, issuer: str, jwks_uri: str) -> Any:
    if framework == "starlette":
        return starlette_app(variant, issuer, jwks_uri)
    if framework == "fastapi":
        from bench.traffic_fastapi import fastapi_app

        return fastapi_app(variant, issuer, jwks_uri)
    if framework == "flask":
        return flask_app(variant, issuer, jwks_uri)
    asgi = framework == "django-asgi"
    configure_django(variant, issuer, jwks_uri, asgi=asgi)
    if asgi:
        from django.core.asgi import get_asgi_application

        return get_asgi_application()
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


def serve(framework: str, variant: str, issuer: str, jwks_uri: str, port: int) -> None:
    app = build(framework, variant, issuer, jwks_uri)
    server = server_of(framework)
    if server == "gunicorn":
        from gunicorn.app.base import BaseApplication

        class Gunicorn(BaseApplication):  # type: ignore[misc]
            def load_config(self) -> None:
                self.cfg.set("bind", f"127.0.0.1:{port}")
                self.cfg.set("workers", 1)
                self.cfg.set("worker_class", "sync")
                self.cfg.set("loglevel", "warning")

            def load(self) -> Any:
                return app

        Gunicorn().run()
    elif server == "waitress":
        import logging

        import waitress

        # Its "Task queue depth" warnings: the load keeps more connections busy than threads.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        waitress.serve(app, host="127.0.0.1", port=port, threads=4, _quiet=True)
    else:
        import uvicorn

        uvicorn.run(
            app,
            host="127.0.0.1",
            port=port,
            http="httptools",
            loop="uvloop",
            log_level="warning",
            access_log=False,
        )


def profiled(run: Callable[[], None], path: str) -> None:
    """``run`` with every thread profiled (waitress answers on threads of its own); the
    statistics of all of them written to ``path`` when the server stops."""
    import cProfile
    import pstats

    profiles: list[cProfile.Profile] = []

    def start_thread(*args: Any) -> None:
        threading.setprofile(None)
        sys.setprofile(None)
        profile = cProfile.Profile()
        profiles.append(profile)
        profile.enable()

    threading.setprofile(start_thread)
    main = cProfile.Profile()
    profiles.append(main)
    main.enable()
    try:
        run()
    finally:
        main.disable()
        for profile in profiles:
            profile.disable()
        stats = pstats.Stats(profiles[0])
        for profile in profiles[1:]:
            stats.add(profile)
        stats.dump_stats(path)


if __name__ == "__main__":
    # Through the module's own name, so that Django's ROOT_URLCONF finds the routes set here.
    from bench import traffic_apps

    def run() -> None:
        traffic_apps.serve(
            os.environ["BENCH_FRAMEWORK"],
            os.environ["BENCH_VARIANT"],
            os.environ["BENCH_ISSUER"],
            os.environ["BENCH_JWKS"],
            int(os.environ["BENCH_PORT"]),
        )

    try:
        if os.environ.get("BENCH_PROFILE"):  # where to write the server's profile
            traffic_apps.profiled(run, os.environ["BENCH_PROFILE"])
        else:
            run()
    except KeyboardInterrupt:
        sys.exit(0)
