"""Tokens with exactly the header and payload a test needs."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterable
from typing import Any

from audmw.request import IncomingRequest
from audmw.testing import LocalIssuer, SigningKey, sign_compact

from .conftest import AUDIENCE


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: Any) -> str:
    """A base64url JSON segment (``bytes`` are encoded as they are)."""
    return b64(value if isinstance(value, bytes) else json.dumps(value).encode())


def claims_for(issuer: LocalIssuer, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer.issuer,
        "sub": "user-123",
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        "client_id": "test-client",
    }
    claims.update(changes)
    return claims


def craft(
    issuer: LocalIssuer,
    header: dict[str, Any] | None = None,
    payload: dict[str, Any] | bytes | None = None,
    key: SigningKey | None = None,
) -> str:
    """A token with exactly this header and payload, signed by ``key`` (the issuer's RS256).

    A header value of ``...`` leaves that member out.
    """
    signing = key or issuer.key_for("RS256")
    full_header = {"alg": "RS256", "typ": "at+jwt", "kid": signing.kid}
    full_header.update(header or {})
    full_header = {k: v for k, v in full_header.items() if v is not ...}
    body = claims_for(issuer) if payload is None else payload
    return sign_compact(full_header, body, signing.private_key)


def sent(
    values: Iterable[str | bytes], *, token_in_query: bool = False, token_in_body: bool = False
) -> IncomingRequest:
    """A request to ``GET /`` whose token header had ``values``."""
    return IncomingRequest(
        "GET",
        "/",
        tuple(values),  # type: ignore[arg-type]
        token_in_query=token_in_query,
        token_in_body=token_in_body,
    )
