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

The OpenAPI document says what is enforced: each protected operation lists its 401 answer
(and 403 when it needs scopes), and scopes needed as one of several are alternative security
requirements. The
middleware sees to it; without it, call ``describe_security(app)``.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fastapi import FastAPI, HTTPException, Security
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
from starlette.types import Scope

from audmw.answer import Answer
from audmw.errors import AuthError, RequirementNotMet
from audmw.guard import Guard
from audmw.marks import (
    mark,
    public,
    require_any_scope,
    require_app,
    require_authentication,
    require_authorization_details,
    require_scopes,
    require_user,
    requirement_of,
)
from audmw.request import IncomingRequest
from audmw.requirements import DetailRequirement, Requirement
from audmw.settings import AUTHORIZATION_HEADER, Settings
from audmw.starlette import (
    GUARD_SCOPE_KEY,
    ApiOperation,
    AudienceMiddleware,
    TokenUser,
    api_operations,
    incoming_request,
    incoming_token,
    routed_template,
)
from audmw.token import AccessToken

__all__ = [
    "AccessToken",
    "AudienceMiddleware",
    "AuthRefused",
    "BearerToken",
    "RequireAnyScope",
    "RequireApp",
    "RequireAuthentication",
    "RequireAuthorizationDetails",
    "RequireScopes",
    "RequireUser",
    "bearer",
    "describe_security",
    "incoming_token",
    "public",
    "refusal_handler",
    "require_any_scope",
    "require_app",
    "require_authentication",
    "require_authorization_details",
    "require_scopes",
    "require_user",
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

    def requiring(self, requirement: Requirement) -> BearerToken:
        """This scheme, also needing ``requirement`` (the user's authentication,
        authorization details, the kind of token: what the marking decorators ask for)."""
        return mark(copy.copy(self), requirement)

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
                return Guard.check_scopes(user.token, requirement, _named(connection.scope))
            except RequirementNotMet as error:
                raise AuthRefused(self._guard_for(connection).answer(error)) from None
        guard = self._guard_for(connection)
        request = incoming_request(
            connection.scope, guard.token_header_bytes, guard.proxy_headers_bytes, routed_template
        )
        watch = None
        if guard.observer is not None:
            watch = guard.observer.watch(request, routed_template(connection.scope))
        try:
            if watch is None:
                return await guard.authorize_async(request, requirement)
            token = await watch.authorize_async(guard, request, requirement)
        except AuthError as error:
            if watch is not None:
                watch.refused(error)
            raise AuthRefused(guard.answer(error)) from None
        watch.accepted()
        return token

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


def RequireScopes(
    *scopes: str,
    scheme: BearerToken | None = None,
    acr_values: Iterable[str] | None = None,
    max_age: int | None = None,
) -> Any:
    """A ``Security`` dependency giving the ``AccessToken`` of a token carrying all ``scopes``
    (and, with ``acr_values`` or ``max_age``, the user's authentication they name)."""
    chosen = scheme or bearer
    if acr_values is not None or max_age is not None:
        chosen = chosen.requiring(Requirement.of(acr_values=acr_values, max_age=max_age))
    return Security(chosen, scopes=list(scopes))


def RequireAnyScope(*scopes: str, scheme: BearerToken | None = None) -> Any:
    """A ``Security`` dependency giving the ``AccessToken`` of a token with one of ``scopes``."""
    return Security((scheme or bearer).any_of(*scopes))


def RequireAuthentication(
    *,
    acr_values: Iterable[str] | None = None,
    max_age: int | None = None,
    scheme: BearerToken | None = None,
) -> Any:
    """A ``Security`` dependency giving the ``AccessToken`` of a token whose user
    authenticated with one of ``acr_values``, at most ``max_age`` seconds ago (RFC 9470)."""
    if acr_values is None and max_age is None:
        raise ValueError("RequireAuthentication() needs acr_values, max_age or both")
    requirement = Requirement.of(acr_values=acr_values, max_age=max_age)
    return Security((scheme or bearer).requiring(requirement))


def RequireAuthorizationDetails(
    type: str,
    where: Callable[[Mapping[str, Any]], bool] | None = None,
    *,
    scheme: BearerToken | None = None,
) -> Any:
    """A ``Security`` dependency giving the ``AccessToken`` of a token with an
    ``authorization_details`` entry of ``type`` for which ``where(entry)`` is True."""
    requirement = Requirement.of(details=[DetailRequirement(type, where)])
    return Security((scheme or bearer).requiring(requirement))


def RequireUser(*, scheme: BearerToken | None = None) -> Any:
    """A ``Security`` dependency giving the ``AccessToken`` of a token issued for a user."""
    return Security((scheme or bearer).requiring(Requirement.of(kind="user")))


def RequireApp(*, scheme: BearerToken | None = None) -> Any:
    """A ``Security`` dependency giving the ``AccessToken`` of a token a client obtained
    for itself (client credentials)."""
    return Security((scheme or bearer).requiring(Requirement.of(kind="app")))


# -- the OpenAPI document ------------------------------------------------------------------

logger = logging.getLogger("audmw")

_MAX_DEPTH = 32  # dependencies within dependencies, as the middleware reads them

REFUSAL_SCHEMA_NAME = "TokenRefusal"
"""The name of the refusal body's schema in ``components.schemas``."""

_REFUSAL_SCHEMA: dict[str, Any] = {
    "title": REFUSAL_SCHEMA_NAME,
    "type": "object",
    "properties": {
        "error": {
            "type": "string",
            "title": "Error",
            "description": "The RFC 6750 error code: invalid_token, invalid_request, "
            "insufficient_scope; insufficient_user_authentication (RFC 9470), "
            "insufficient_authorization_details; or unauthorized when no token was sent.",
        },
        "error_description": {
            "type": "string",
            "title": "Error Description",
            "description": "What was wrong, for the developer of the client.",
        },
        "scope": {
            "type": "string",
            "title": "Scope",
            "description": "With insufficient_scope: the scopes the operation needs, "
            "separated by spaces.",
        },
        "acr_values": {
            "type": "string",
            "title": "ACR Values",
            "description": "With insufficient_user_authentication: the authentication "
            "context classes that would do, separated by spaces.",
        },
        "max_age": {
            "type": "integer",
            "title": "Max Age",
            "description": "With insufficient_user_authentication: the greatest age, in "
            "seconds, of the user's authentication.",
        },
    },
    "required": ["error", "error_description"],
}

_CHALLENGE = {
    "WWW-Authenticate": {
        "description": "The Bearer challenge (RFC 6750 section 3), with the same error, "
        "error_description and scope as the body.",
        "schema": {"type": "string"},
    }
}

_REFUSALS = {
    "401": "No valid access token for this API: none was sent, or it is malformed, expired, "
    "not yet valid, for another audience, from another issuer or badly signed; or the "
    "user must authenticate again (insufficient_user_authentication).",
    "403": "The token is valid but lacks what this operation needs (insufficient_scope: "
    "the scope member names the scopes; insufficient_authorization_details).",
}


class _SecurityDocument:
    """``app.openapi`` that amends FastAPI's document with what audmw enforces.

    FastAPI keeps its own document in ``app.openapi_schema`` and makes it again when routes
    change; the amended copy is made again whenever FastAPI's document is a new one.
    """

    def __init__(
        self, app: FastAPI, openapi: Callable[[], dict[str, Any]], guard: Guard | None
    ) -> None:
        self.app = app
        self.openapi = openapi
        self.guard = guard
        self._source: dict[str, Any] | None = None
        self._document: dict[str, Any] = {}

    def __call__(self) -> dict[str, Any]:
        source = self.openapi()
        if source is not self._source:
            try:
                self._document = _described(source, self.app.routes, self.guard)
            except Exception:
                # A document that says less is better than docs that do not load at all.
                logger.exception("audmw: could not add what is enforced to the OpenAPI document")
                self._document = source
            self._source = source
        return self._document

    def forget(self) -> None:
        self._source = None


def describe_security(app: FastAPI, guard: Guard | None = None) -> None:
    """Make ``app.openapi()`` (and so ``/openapi.json`` and the docs) say what is enforced.

    Every operation that needs a token documents its 401 answer, and its 403 answer when it
    needs scopes (the JSON body ``{"error", "error_description", "scope"?}`` and the
    ``WWW-Authenticate`` challenge); public ones document neither. The security
    requirements of ``audmw.fastapi`` schemes list every scope needed, and scopes needed as
    one of several (``RequireAnyScope``) as alternative requirements, as OpenAPI reads a
    list of them: ``[{"bearer": ["a"]}, {"bearer": ["b"]}]``.

    ``AudienceMiddleware`` calls it with its ``guard`` when it starts; then which operations
    need a token, and which scopes, is what the middleware decides (marks, rules, exempt
    paths). Without a guard, the operations with an ``audmw.fastapi`` security dependency
    are those that need a token.
    """
    current = app.openapi
    if isinstance(current, _SecurityDocument):
        if guard is not None:
            current.guard = guard
            current.forget()
        return
    app.openapi = _SecurityDocument(app, current, guard)  # type: ignore[method-assign]


def _described(
    source: dict[str, Any], routes: Iterable[Any], guard: Guard | None
) -> dict[str, Any]:
    """A copy of FastAPI's OpenAPI ``source`` with what audmw enforces on ``routes``."""
    document = copy.deepcopy(source)
    paths = document.get("paths")
    if not isinstance(paths, dict):
        return document
    refusal: dict[str, Any] | None = None
    seen: set[tuple[str, str]] = set()
    for operation in api_operations(list(routes)):
        entry = paths.get(operation.path)
        if not isinstance(entry, dict):
            continue
        schemes = _audmw_schemes(operation.dependant)
        for method in sorted(operation.methods):
            described = entry.get(method.lower())
            if (operation.path, method) in seen or not isinstance(described, dict):
                continue
            seen.add((operation.path, method))  # the router serves the first route only
            needed = _needed(operation, method, guard)
            if needed is None:
                continue
            if schemes and isinstance(described.get("security"), list):
                described["security"] = _alternatives(described["security"], schemes, needed)
            if refusal is None:
                refusal = _refusal_schema(document)
            responses = described.setdefault("responses", {})
            for status, description in _REFUSALS.items():
                # A valid token is refused with 403 only for what it lacks (scopes,
                # authorization details, the kind of token); the user's authentication is 401.
                forbids = needed.all_of or needed.any_of or needed.details or needed.kinds
                if status not in responses and (status == "401" or forbids):
                    responses[status] = {
                        "description": description,
                        "headers": copy.deepcopy(_CHALLENGE),
                        "content": {"application/json": {"schema": copy.deepcopy(refusal)}},
                    }
    return document


def _needed(operation: ApiOperation, method: str, guard: Guard | None) -> Requirement | None:
    """What a request for ``operation`` must carry (None: no token), as audmw decides it."""
    if guard is None:
        return operation.security
    # Rules and exempt paths see the path template: a parameter is one segment of it.
    return guard.requirement(IncomingRequest(method, operation.path), operation.view)


def _audmw_schemes(dependant: Any, depth: int = 0) -> set[str]:
    """The scheme names of the ``BearerToken`` dependencies under ``dependant``."""
    names: set[str] = set()
    for sub in getattr(dependant, "dependencies", ()) if depth <= _MAX_DEPTH else ():
        call = sub.call
        if isinstance(call, BearerToken):
            names.add(call.scheme_name)
        names |= _audmw_schemes(sub, depth + 1)
    return names


def _alternatives(
    listed: list[Any], schemes: set[str], needed: Requirement
) -> list[dict[str, list[str]]]:
    """The operation's security requirements, one for each way of meeting ``needed``.

    Every security dependency of the operation runs, so every scheme is needed in each; the
    audmw schemes list the scopes FastAPI listed, the other scopes ``needed`` has, and one
    scope of each any-of group.
    """
    ours: dict[str, list[str]] = {}
    others: dict[str, list[str]] = {}
    for requirement in listed:
        for name, scopes in dict(requirement).items():
            found = (ours if name in schemes else others).setdefault(name, [])
            for scope in scopes:
                if scope not in found:
                    found.append(scope)
    if not ours:
        return listed
    for scopes in ours.values():
        scopes.extend(sorted(needed.all_of - set(scopes)))
    return [
        {
            **others,
            **{
                name: [*scopes, *(s for s in pick if s not in scopes)]
                for name, scopes in ours.items()
            },
        }
        for pick in _picks(needed)
    ]


def _picks(needed: Requirement) -> list[tuple[str, ...]]:
    """The smallest sets of scopes, one from each any-of group, that meet ``needed``."""
    picks = {frozenset[str]()}
    for group in needed.any_of:
        if not group & needed.all_of:  # else the all-of scopes meet it already
            picks = {pick | {scope} for pick in picks for scope in group}
    smallest = [pick for pick in picks if not any(other < pick for other in picks)]
    return sorted(tuple(sorted(pick)) for pick in smallest)


def _refusal_schema(document: dict[str, Any]) -> dict[str, Any]:
    """A reference to the refusal body's schema, added to ``document``'s components."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    if schemas.setdefault(REFUSAL_SCHEMA_NAME, copy.deepcopy(_REFUSAL_SCHEMA)) != _REFUSAL_SCHEMA:
        return copy.deepcopy(_REFUSAL_SCHEMA)  # the app has a schema of that name: inline
    return {"$ref": f"#/components/schemas/{REFUSAL_SCHEMA_NAME}"}


def _named(scope: Scope) -> IncomingRequest:
    """The request as far as a refusal's log line names it (its route template)."""
    return IncomingRequest(
        scope.get("method", "GET"), scope.get("path", ""), route_of=routed_template, native=scope
    )
