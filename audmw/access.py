"""Typed access to the verified token of a Starlette or FastAPI request or WebSocket.

``request.user.token`` is ``Any`` to a type checker (Starlette types ``request.user`` as
``Any``); these functions give an ``AccessToken``. Starlette is imported only when a
function runs, so the core keeps no framework dependency.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from audmw.token import AccessToken

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

__all__ = ["NoAccessToken", "access_token", "require_access_token"]


class NoAccessToken(LookupError):
    """Code asked for the verified token of a request that has none.

    A view that reads the token must not be public (``@public``, an exempt path, a public
    rule), and audmw must check its requests: a server error, not a refusal.
    """


def access_token(connection: HTTPConnection) -> AccessToken | None:
    """The token ``AudienceMiddleware`` verified for this request, or None (a public route,
    an exempt path, or no middleware)."""
    from audmw.starlette import TokenUser  # Starlette is there: it made ``connection``

    user = connection.scope.get("user")
    return user.token if isinstance(user, TokenUser) else None


def require_access_token(connection: HTTPConnection) -> AccessToken:
    """The verified token; raises ``NoAccessToken`` where there is none."""
    token = access_token(connection)
    if token is None:
        raise NoAccessToken(
            "audmw: this request has no verified access token: the route is public (@public, "
            "an exempt path or a public rule) or AudienceMiddleware does not wrap the app"
        )
    return token
