"""Django REST framework classes, with or without ``AudienceMiddleware``.

::

    REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["audmw_django.rest_framework.AudienceAuthentication"],
        "DEFAULT_PERMISSION_CLASSES": ["audmw_django.rest_framework.HasScopes"],
    }

    class Reports(APIView):
        required_scopes = {"GET": ["read:reports"], "POST": ["write:reports"]}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from audmw import AccessToken, AuthError, Guard, MissingToken, Requirement
from audmw.errors import RequirementNotMet
from audmw_django.conf import current
from audmw_django.middleware import incoming_request, remember_refusal, view_for
from audmw_django.user import TokenUser

if TYPE_CHECKING:
    # Not at import time: DRF imports this module while importing rest_framework.views, when
    # the setting DEFAULT_AUTHENTICATION_CLASSES names it.
    from rest_framework.views import APIView


class TokenRefused(exceptions.APIException):
    """A refusal carrying the core's answer: its status, JSON body and ``WWW-Authenticate``.

    Given the request, it is also left on the Django request, so that ``AudienceMiddleware``
    sends the core's answer byte for byte (with ``Cache-Control: no-store``) instead of DRF's
    rendering of it.
    """

    def __init__(self, error: AuthError, request: Request | None = None) -> None:
        if request is not None:
            remember_refusal(request._request, error)
        status, headers, body = current().guard.answer(error)
        super().__init__(detail=json.loads(body))
        self.status_code = status
        values = dict(headers)
        # DRF's exception handler turns these two attributes into the response headers.
        self.auth_header = values.get("WWW-Authenticate")
        retry_after = values.get("Retry-After")
        self.wait = int(retry_after) if retry_after else None


def access_token_of(request: Request) -> AccessToken | None:
    """The token DRF authenticated, or the one ``AudienceMiddleware`` put on the request."""
    if isinstance(request.auth, AccessToken):
        return request.auth
    token = getattr(request._request, "access_token", None)
    return token if isinstance(token, AccessToken) else None


class AudienceAuthentication(BaseAuthentication):
    """``Authorization: Bearer`` access tokens for this API; ``request.auth`` is the token.

    With ``token_header`` set (Google IAP), the raw token of that header instead.

    A request without a bearer token is not authenticated by this class (another class may
    try); a bearer token that fails is refused with the exact RFC 6750 answer.
    """

    def authenticate(self, request: Request) -> tuple[TokenUser, AccessToken] | None:
        django_request = request._request
        token = getattr(django_request, "access_token", None)
        if isinstance(token, AccessToken):
            return TokenUser(token), token
        guard = current().guard
        incoming = incoming_request(
            django_request,
            guard.token_environ_key,
            guard.wants_url,
            guard.proxy_headers,
            named=True,
        )
        if not incoming.credentials and not incoming.token_in_query:
            return None
        match = django_request.resolver_match
        watch = None
        if guard.observer is not None:
            route = getattr(match, "route", None)
            watch = guard.observer.watch(incoming, route if isinstance(route, str) else None)
        try:
            if match is not None:
                view = view_for(match.func, incoming.method)
                if guard.requirement(incoming, view) is None:
                    return None  # audmw judges the view public: its token is not read
            token = guard.authorize(incoming) if watch is None else watch.authorize(guard, incoming)
        except MissingToken:
            return None  # another scheme (Basic, ...): not ours to judge
        except AuthError as error:
            if watch is not None:
                watch.refused(error)
            raise TokenRefused(error, request) from None
        if watch is not None:
            watch.accepted()
        django_request.access_token = token  # type: ignore[attr-defined]
        return TokenUser(token), token

    def authenticate_header(self, request: Request) -> str:
        """The bare challenge DRF sends with its 401 when no credentials came."""
        value = current().guard.challenge(MissingToken("no_token"))
        assert value is not None
        return value


def _scopes(value: Any, view: APIView) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, Iterable):
        return tuple(value)
    raise ImproperlyConfigured(
        f"{type(view).__name__}.required_scopes must be a list of scopes or a dict "
        "of HTTP method to scopes"
    )


def required_scopes(view: APIView, method: str) -> tuple[str, ...] | None:
    """``required_scopes_<method>``, else ``required_scopes`` (a list, or a dict by method).

    None when a dict does not list the method: such a request is refused.
    """
    method = method.upper()
    for name in (f"required_scopes_{method.lower()}", "required_scopes"):
        value = getattr(view, name, None)
        if value is None:
            continue
        if isinstance(value, Mapping):
            value = {key.upper(): scopes for key, scopes in value.items()}
            if method not in value and method == "HEAD":
                method = "GET"
            return _scopes(value[method], view) if method in value else None
        return _scopes(value, view)
    raise ImproperlyConfigured(
        f"{type(view).__name__} uses {view.permission_classes!r} but declares no "
        "required_scopes (or required_scopes_<method>)"
    )


class _ScopePermission(BasePermission):
    any_of = False

    def has_permission(self, request: Request, view: APIView) -> bool:
        token = access_token_of(request)
        if token is None:
            return False  # DRF answers 401 with AudienceAuthentication's challenge
        scopes = required_scopes(view, request.method or "GET")
        if scopes is None:
            return False
        requirement = (
            Requirement.of(any_of=scopes) if self.any_of and scopes else Requirement.of(scopes)
        )
        try:
            Guard.check_scopes(token, requirement, incoming_request(request._request, named=True))
        except RequirementNotMet as error:
            raise TokenRefused(error, request) from None
        return True


class HasScopes(_ScopePermission):
    """The token carries every scope of the view's ``required_scopes`` for this method."""


class HasAnyScope(_ScopePermission):
    """The token carries at least one scope of the view's ``required_scopes`` for this method."""

    any_of = True
