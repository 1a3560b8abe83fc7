"""FastAPI: ``Security`` dependencies that give the endpoint its ``AccessToken``.

``RequireScopes("read:messages")`` declares the scopes in the generated OpenAPI (a bearer or
OAuth2 security scheme) and hands the endpoint the token::

    app = FastAPI(middleware=[Middleware(AudienceMiddleware)])

    @app.get("/api/messages")
    async def messages(token: AccessToken = RequireScopes("read:messages")) -> dict: ...

With ``AudienceMiddleware`` installed the middleware reads these scopes from the route and
refuses before any dependency runs; the dependency then reuses the middleware's result.
Without the middleware the dependency validates the token itself (through a ``Guard``), and
a refusal is an ``AuthRefused`` HTTP exception; add ``refusal_handler`` for the exact body.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from fastapi import HTTPException, Security
from fastapi.openapi.models import (
    APIKey,
    APIKeyIn,
    HTTPBearer,
    OAuth2,
    OAuthFlowAuthorizationCode,
    OAuthFlowClientCredentials,
    OAuthFlows,
)
from fastapi.openapi.models import SecurityBase as SecuritySchemeModel
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from audmw.answer import Answer
from audmw.errors import AuthError, InsufficientScope
from audmw.guard import Guard
from audmw.marks import public, require_any_scope, require_scopes, requirement_of
from audmw.requirements import Requirement
from audmw.settings import AUTHORIZATION_HEADER, Settings
from audmw.starlette import GUARD_SCOPE_KEY, AudienceMiddleware, TokenUser, incoming_request
from audmw.token import AccessToken

__all__ = [
    "AccessToken",
    "AudienceMiddleware",
    "AuthRefused",
    "BearerToken",
    "RequireAnyScope",
    "RequireScopes",
    "bearer",
    "public",
    "refusal_handler",
    "require_any_scope",
    "require_scopes",
]


class AuthRefused(HTTPException):
    """A refusal from a dependency, carrying the core's answer (status, challenge, body)."""

    def __init__(self, answer: Answer) -> None:
        headers = {name: value for name, value in answer.headers if name != "Content-Type"}
        super().__init__(answer.status, "Not authenticated", headers)
        self.answer = answer


async def refusal_handler(request: Request, exc: Exception) -> Response:
    """Answer an ``AuthRefused`` with the core's exact JSON body instead of ``{"detail"}``."""
    if not isinstance(exc, AuthRefused):
        raise exc
    answer = exc.answer
    return Response(answer.body, answer.status, headers=dict(answer.headers))


class BearerToken(SecurityBase):
    """A dependency returning the request's verified ``AccessToken``, and its OpenAPI scheme.

    Use it with ``Security(bearer, scopes=[...])`` (or ``RequireScopes``). Without
    ``token_url`` the scheme is HTTP bearer; with it, OAuth2 client credentials, or
    authorization code when ``authorization_url`` is given too, listing ``scopes``
    (name -> description) for the docs. ``guard``/``settings`` (else the ``AUDMW_*``
    environment) are used when no ``AudienceMiddleware`` is installed, and when they differ
    from the middleware's: the token must then pass both. When they name another
    ``token_header`` (Google IAP), the scheme is an API key in that header.
    """

    audmw_bearer = True  # tells AudienceMiddleware to enforce these scopes before any dependency

    def __init__(
        self,
        *,
        scheme_name: str = "bearer",
        description: str | None = None,
        token_url: str | None = None,
        authorization_url: str | None = None,
        scopes: Mapping[str, str] | None = None,
        guard: Guard | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.scheme_name = scheme_name
        configured = guard.settings if guard is not None else settings
        header = configured.token_header if configured is not None else AUTHORIZATION_HEADER
        if header != AUTHORIZATION_HEADER:
            if token_url is not None:
                raise ValueError(
                    f"the token comes in the {header} header (token_header), not from an "
                    "OAuth2 flow: leave out token_url"
                )
            self.model: SecuritySchemeModel = APIKey.model_validate(
                {"in": APIKeyIn.header, "name": header, "description": description}
            )
        elif token_url is None:
            self.model = HTTPBearer(bearerFormat="JWT", description=description)
        else:
            described = dict(scopes or {})
            if authorization_url is None:
                flows = OAuthFlows(
                    clientCredentials=OAuthFlowClientCredentials(
                        tokenUrl=token_url, scopes=described
                    )
                )
            else:
                flows = OAuthFlows(
                    authorizationCode=OAuthFlowAuthorizationCode(
                        authorizationUrl=authorization_url, tokenUrl=token_url, scopes=described
                    )
                )
            self.model = OAuth2(flows=flows, description=description)
        self._guard = guard
        self._settings = settings
        self._configured = guard is not None or settings is not None

    def any_of(self, *scopes: str) -> BearerToken:
        """This scheme, also needing at least one of ``scopes``."""
        return require_any_scope(*scopes)(copy.copy(self))

    @property
    def guard(self) -> Guard:
        if self._guard is None:
            self._guard = Guard(self._settings)
        return self._guard

    async def __call__(
        self, connection: HTTPConnection, security_scopes: SecurityScopes
    ) -> AccessToken:
        requirement = Requirement.of(all_of=security_scopes.scopes) & (
            requirement_of(self) or Requirement()
        )
        user = connection.scope.get("user")
        if isinstance(user, TokenUser) and self._same_settings(connection):
            # AudienceMiddleware validated this request's token; do not validate it twice.
            try:
                return Guard.check_scopes(user.token, requirement)
            except InsufficientScope as error:
                raise AuthRefused(self._guard_for(connection).answer(error)) from None
        guard = self._guard_for(connection)
        try:
            return await guard.authorize_async(
                incoming_request(connection.scope, guard.token_header_bytes), requirement
            )
        except AuthError as error:
            raise AuthRefused(guard.answer(error)) from None

    def _same_settings(self, connection: HTTPConnection) -> bool:
        """Whether the middleware judged the token by this scheme's settings.

        A scheme given its own settings (another audience, issuer, ...) checks the token
        against them, not only against the middleware's.
        """
        if not self._configured:
            return True
        shared = connection.scope.get(GUARD_SCOPE_KEY)
        return isinstance(shared, Guard) and (
            shared is self._guard or shared.settings == self.guard.settings
        )

    def _guard_for(self, connection: HTTPConnection) -> Guard:
        shared = connection.scope.get(GUARD_SCOPE_KEY)
        if isinstance(shared, Guard) and not self._configured:
            return shared  # the middleware's settings and key cache
        return self.guard


bearer = BearerToken()
"""The default scheme: HTTP bearer, configured from the middleware or the environment."""


def RequireScopes(*scopes: str, scheme: BearerToken | None = None) -> Any:
    """A ``Security`` dependency giving the ``AccessToken`` of a token carrying all ``scopes``."""
    return Security(scheme or bearer, scopes=list(scopes))


def RequireAnyScope(*scopes: str, scheme: BearerToken | None = None) -> Any:
    """A ``Security`` dependency giving the ``AccessToken`` of a token with one of ``scopes``."""
    return Security((scheme or bearer).any_of(*scopes))
