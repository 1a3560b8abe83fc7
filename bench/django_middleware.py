"""Per-request cost of audmw's Django middleware and DRF authentication, as ratios in one run.

    .venv/bin/python -m bench.django_middleware [--seconds 0.3]

Every figure is a whole request through Django's test client (sync, and the async client),
for the same RS256 token from a local issuer whose keys are already fetched:
- a plain view without authentication, then with ``AudienceMiddleware`` (the verified-token
  cache on, and off so that every request verifies the signature);
- a DRF view without authentication, with ``AudienceAuthentication`` (cache on and off), and
  with ``djangorestframework-simplejwt`` configured for the same key, issuer and audience
  (its stateless ``JWTStatelessUserAuthentication``: no database lookup, like audmw);
- the floor on the DRF view: an authentication class that reads the header and checks the
  RS256 signature, and nothing else (no JSON, no claims: it would accept any token the
  issuer ever signed).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from base64 import urlsafe_b64decode
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import django
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from django.conf import settings

from audmw.testing import LocalIssuer

AUDIENCE = "https://api.example.com"
MIDDLEWARE = "audmw_django.middleware.AudienceMiddleware"


def configure(issuer: LocalIssuer) -> None:
    public_pem = (
        issuer.key_for("RS256")
        .private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    settings.configure(
        SECRET_KEY="bench-only-" + "x" * 40,
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "rest_framework",
            "audmw_django",
        ],
        MIDDLEWARE=[],
        ROOT_URLCONF=__name__,
        DATABASES={},
        USE_TZ=True,
        AUDMW={"ISSUER": issuer.issuer, "AUDIENCE": AUDIENCE},
        REST_FRAMEWORK={
            "DEFAULT_AUTHENTICATION_CLASSES": [],
            "DEFAULT_PERMISSION_CLASSES": [],
            "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
            "UNAUTHENTICATED_USER": None,
        },
        SIMPLE_JWT={
            "ALGORITHM": "RS256",
            "VERIFYING_KEY": public_pem,
            "SIGNING_KEY": None,
            "AUDIENCE": AUDIENCE,
            "ISSUER": issuer.issuer,
            "AUTH_HEADER_TYPES": ("Bearer",),
        },
    )
    django.setup()
    SignatureOnly.public_key = issuer.key_for("RS256").private_key.public_key()


class Signed:
    is_authenticated = True


class SignatureOnly:
    """The least any validator must do per request: find the token, check its signature."""

    public_key: Any = None

    def authenticate(self, request: Any) -> tuple[Signed, None]:
        value = request.META["HTTP_AUTHORIZATION"]
        signing_input, _, signature = value[7:].rpartition(".")
        self.public_key.verify(
            urlsafe_b64decode(signature + "=" * (-len(signature) % 4)),
            signing_input.encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
        return Signed(), None

    def authenticate_header(self, request: Any) -> str:
        return "Bearer"


def _views() -> list[Any]:
    from django.http import HttpRequest, JsonResponse
    from django.urls import path
    from rest_framework.permissions import IsAuthenticated
    from rest_framework.request import Request
    from rest_framework.response import Response
    from rest_framework.views import APIView
    from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication

    from audmw_django.rest_framework import AudienceAuthentication

    def plain(request: HttpRequest) -> JsonResponse:
        return JsonResponse({"ok": True})

    async def plain_async(request: HttpRequest) -> JsonResponse:
        return JsonResponse({"ok": True})

    class Open(APIView):
        def get(self, request: Request) -> Response:
            return Response({"ok": True})

    class WithAudmw(Open):
        authentication_classes = (AudienceAuthentication,)
        permission_classes = (IsAuthenticated,)

    class WithSimpleJWT(Open):
        authentication_classes = (JWTStatelessUserAuthentication,)
        permission_classes = (IsAuthenticated,)

    class WithSignatureOnly(Open):
        authentication_classes = (SignatureOnly,)
        permission_classes = (IsAuthenticated,)

    return [
        path("plain", plain),
        path("plain-async", plain_async),
        path("drf/open", Open.as_view()),
        path("drf/audmw", WithAudmw.as_view()),
        path("drf/simplejwt", WithSimpleJWT.as_view()),
        path("drf/floor", WithSignatureOnly.as_view()),
    ]


urlpatterns: list[Any] = []


Sender = Callable[[], Any]
Scenario = tuple[str, Callable[[], AbstractContextManager[Any]], Callable[[], Sender], bool]


def timed(send: Sender, is_async: bool, number: int) -> float:
    """Seconds per request over ``number`` requests (after a few untimed ones)."""
    if not is_async:
        for _ in range(5):
            send()
        start = time.perf_counter()
        for _ in range(number):
            send()
        return (time.perf_counter() - start) / number

    async def run() -> float:
        for _ in range(5):
            await send()
        start = time.perf_counter()
        for _ in range(number):
            await send()
        return (time.perf_counter() - start) / number

    return asyncio.run(run())


def measure(scenarios: list[Scenario], seconds: float, rounds: int) -> dict[str, float]:
    """Best-of-``rounds`` microseconds per request; scenarios take turns within each round,
    so that a slower or busier moment of the machine does not favour one of them."""
    numbers = {}
    for name, context, make, is_async in scenarios:
        with context():
            numbers[name] = max(20, int(seconds / timed(make(), is_async, 50)))
    best = dict.fromkeys(numbers, float("inf"))
    for _ in range(rounds):
        for name, context, make, is_async in scenarios:
            with context():
                best[name] = min(best[name], timed(make(), is_async, numbers[name]))
    return {name: value * 1e6 for name, value in best.items()}


@contextmanager
def audmw(*, middleware: bool, cache: bool) -> Iterator[None]:
    from django.test import override_settings

    value = {**settings.AUDMW, "TOKEN_CACHE_SIZE": 10_000 if cache else 0}
    with override_settings(AUDMW=value, MIDDLEWARE=[MIDDLEWARE] if middleware else []):
        yield


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=0.05, help="time per scenario in each round"
    )
    parser.add_argument("--rounds", type=int, default=25, help="the best round counts")
    args = parser.parse_args(argv)

    with LocalIssuer() as issuer:
        configure(issuer)
        urlpatterns.extend(_views())
        from django.test import AsyncClient, Client

        token = issuer.mint(
            aud=AUDIENCE, scopes="read:messages", token_type="access", user_id="user-123"
        )
        auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
        async_auth = {"Authorization": f"Bearer {token}"}

        def sync(path: str, headers: dict[str, str]) -> Callable[[], Any]:
            client = Client()

            def send() -> Any:
                response = client.get(path, **headers)
                assert response.status_code == 200, (path, response.status_code)

            return send

        def asynchronous(path: str, headers: dict[str, str]) -> Callable[[], Awaitable[Any]]:
            client = AsyncClient()

            async def send() -> Any:
                response = await client.get(path, headers=headers)
                assert response.status_code == 200, (path, response.status_code)

            return send

        def plain() -> AbstractContextManager[Any]:
            return audmw(middleware=False, cache=True)

        def cached_mw() -> AbstractContextManager[Any]:
            return audmw(middleware=True, cache=True)

        def uncached_mw() -> AbstractContextManager[Any]:
            return audmw(middleware=True, cache=False)

        def cached() -> AbstractContextManager[Any]:
            return audmw(middleware=False, cache=True)

        def uncached() -> AbstractContextManager[Any]:
            return audmw(middleware=False, cache=False)

        # Every variant gets the same request, token header included: the app without auth
        # receives it too and ignores it.
        scenarios: list[Scenario] = [
            ("plain", plain, lambda: sync("/plain", auth), False),
            ("mw cached", cached_mw, lambda: sync("/plain", auth), False),
            ("mw uncached", uncached_mw, lambda: sync("/plain", auth), False),
            ("async plain", plain, lambda: asynchronous("/plain-async", async_auth), True),
            ("async mw cached", cached_mw, lambda: asynchronous("/plain-async", async_auth), True),
            (
                "async mw uncached",
                uncached_mw,
                lambda: asynchronous("/plain-async", async_auth),
                True,
            ),
            ("drf open", plain, lambda: sync("/drf/open", auth), False),
            ("drf simplejwt", plain, lambda: sync("/drf/simplejwt", auth), False),
            ("drf audmw cached", cached, lambda: sync("/drf/audmw", auth), False),
            ("drf audmw uncached", uncached, lambda: sync("/drf/audmw", auth), False),
            ("drf signature only", plain, lambda: sync("/drf/floor", auth), False),
        ]
        results = measure(scenarios, args.seconds, args.rounds)

    for name, micros in results.items():
        print(f"{name:<22} {micros:8.1f} us/request")

    def overhead(name: str, base: str) -> float:
        return results[name] / results[base] - 1

    simplejwt_added = results["drf simplejwt"] - results["drf open"]
    print()
    print(f"middleware, cached token:     +{overhead('mw cached', 'plain'):.1%} over no auth")
    print(f"middleware, cached (async):   +{overhead('async mw cached', 'async plain'):.1%}")
    print(f"middleware, uncached:         +{overhead('mw uncached', 'plain'):.1%}")
    print(f"middleware, uncached (async): +{overhead('async mw uncached', 'async plain'):.1%}")
    print(f"simplejwt on a DRF view:      {results['drf simplejwt'] / results['drf open']:.2f}x")
    for name, base in (("drf audmw uncached", "drf open"), ("mw uncached", "plain")):
        added = results[name] - results[base]
        print(
            f"added cost, simplejwt / {name}: "
            f"{simplejwt_added:.0f} us / {added:.0f} us = {simplejwt_added / added:.2f}x"
        )
    floor = results["drf signature only"] - results["drf open"]
    for name in ("drf simplejwt", "drf audmw uncached"):
        added = results[name] - results["drf open"]
        print(f"{name} added cost: {added / floor:.2f}x the floor's (signature only)")
    added = results["drf audmw cached"] - results["drf open"]
    print(f"added cost, simplejwt / drf audmw cached: {simplejwt_added / added:.2f}x")


if __name__ == "__main__":
    main()
