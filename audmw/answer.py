"""The one place that turns a refusal into status, headers and body, for every adapter."""

from __future__ import annotations

import json
import re
from typing import NamedTuple

from audmw.errors import (
    AuthError,
    InsufficientScope,
    InsufficientUserAuthentication,
    KeysUnavailable,
    UseDPoPNonce,
)

# RFC 6750 §3: error and error_description are limited to %x20-21 / %x23-5B / %x5D-7E.
_UNSAFE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")
# The realm is a plain RFC 9110 quoted-string: '"' and '\' are escaped, controls dropped.
_NOT_PRINTABLE = re.compile(r"[^\x20-\x7e]")


class Answer(NamedTuple):
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def _quoted(value: str) -> str:
    """An RFC 9110 quoted-string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _params(
    error: AuthError, realm: str | None, resource_metadata: str | None, *, with_error: bool
) -> list[str]:
    params = []
    if realm:
        params.append(f"realm={_quoted(_NOT_PRINTABLE.sub('', realm))}")
    if with_error and error.error is not None:
        params.append(f'error="{error.error}"')
        params.append(f'error_description="{_UNSAFE.sub("", error.description)}"')
        if isinstance(error, InsufficientScope) and error.scope:
            params.append(f'scope="{" ".join(error.scope)}"')
        if isinstance(error, InsufficientUserAuthentication):
            # RFC 9470 §3; the values were checked when the requirement was made.
            if error.acr_values:
                params.append(f'acr_values="{" ".join(error.acr_values)}"')
            if error.max_age is not None:
                params.append(f'max_age="{error.max_age}"')
    if resource_metadata:
        params.append(f"resource_metadata={_quoted(_NOT_PRINTABLE.sub('', resource_metadata))}")
    return params


def challenge(
    error: AuthError,
    realm: str | None = None,
    resource_metadata: str | None = None,
    *,
    dpop_algs: tuple[str, ...] | None = None,
    bearer: bool = True,
) -> str | None:
    """The ``WWW-Authenticate`` value for ``error``, or None when none belongs (503).

    ``resource_metadata`` is the URL of the API's RFC 9728 metadata (§5.1), named in every
    challenge when the API has one, also in the bare challenge of a request without a token.
    ``dpop_algs`` (when DPoP is accepted) adds the ``DPoP`` challenge with its ``algs``
    (RFC 9449 §7.1) beside the ``Bearer`` one, or alone when ``bearer`` is False; the error
    goes on the challenge of the scheme the request used.
    """
    if isinstance(error, KeysUnavailable):
        return None
    challenges = []
    on_dpop = dpop_algs is not None and (error.dpop or not bearer)
    if bearer:
        params = _params(error, realm, resource_metadata, with_error=not on_dpop)
        challenges.append("Bearer" + (" " + ", ".join(params) if params else ""))
    if dpop_algs is not None:
        params = _params(error, realm, resource_metadata, with_error=on_dpop)
        params.append(f'algs="{" ".join(dpop_algs)}"')
        challenges.append("DPoP " + ", ".join(params))
    return ", ".join(challenges)


def answer(
    error: AuthError,
    realm: str | None = None,
    resource_metadata: str | None = None,
    *,
    dpop_algs: tuple[str, ...] | None = None,
    bearer: bool = True,
) -> Answer:
    """Status, headers and JSON body for a refused request (``challenge`` for the options)."""
    body: dict[str, str | int]
    if isinstance(error, KeysUnavailable):
        body = {
            "error": "temporarily_unavailable",
            "error_description": error.description,
        }
    elif error.error is None:
        body = {"error": "unauthorized", "error_description": error.description}
    else:
        body = {"error": error.error, "error_description": error.description}
        if isinstance(error, InsufficientScope) and error.scope:
            body["scope"] = " ".join(error.scope)
        if isinstance(error, InsufficientUserAuthentication):
            if error.acr_values:
                body["acr_values"] = " ".join(error.acr_values)
            if error.max_age is not None:
                body["max_age"] = error.max_age
    headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
    value = challenge(error, realm, resource_metadata, dpop_algs=dpop_algs, bearer=bearer)
    if value is not None:
        headers.append(("WWW-Authenticate", value))
    if isinstance(error, KeysUnavailable):
        headers.append(("Retry-After", str(error.retry_after)))
    if isinstance(error, UseDPoPNonce):
        headers.append(("DPoP-Nonce", error.nonce))
    return Answer(error.status, tuple(headers), json.dumps(body).encode())
