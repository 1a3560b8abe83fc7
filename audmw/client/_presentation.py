"""How an issued token is put on requests: as a bearer token, or bound to a key.

A sender-constrained scheme (DPoP) is one more ``Presentation``: it adds its proof to the
token request and to each API request, and accepts its own ``token_type``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import httpx

if TYPE_CHECKING:
    from audmw.client._grants import IssuedToken


class Presentation(Protocol):
    """What a grant asks of the way its tokens are presented.

    Two members are optional: ``binding`` (a string naming what its tokens are bound to, part
    of the cache key, so tokens bound to different keys, or none, never share an entry) and
    ``answered(request, status, headers, error) -> bool`` (told of every answer, from the
    token endpoint with its OAuth ``error`` and from the API with its challenge's ``error``;
    True asks for the request once more, freshly prepared: a DPoP server's nonce).
    """

    @property
    def token_types(self) -> tuple[str, ...]:
        """The ``token_type`` values (lower case) it can present."""
        ...

    def prepare_token_request(self, request: httpx.Request) -> None:
        """Add what the token request needs (a proof of possession), if anything."""
        ...

    def present(self, request: httpx.Request, token: IssuedToken) -> None:
        """Put ``token`` on the API ``request``."""
        ...


class BearerPresentation:
    """RFC 6750: ``Authorization: Bearer <token>``, nothing on the token request."""

    token_types = ("bearer",)
    binding = "bearer"

    def prepare_token_request(self, request: httpx.Request) -> None:
        pass

    def present(self, request: httpx.Request, token: IssuedToken) -> None:
        request.headers["Authorization"] = f"Bearer {token.access_token}"

    def __repr__(self) -> str:
        return "BearerPresentation()"
