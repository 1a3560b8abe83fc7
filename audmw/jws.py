"""Strict parsing of a compact JWS (RFC 7515 §7.1) with C-speed primitives.

One regular expression checks the whole alphabet and the three-part shape at once, instead of
a Python loop over each character; ``base64`` and ``json`` do the rest.
"""

from __future__ import annotations

import binascii
import json
import re
from base64 import urlsafe_b64decode
from typing import Any, NamedTuple

from audmw.errors import InvalidToken

_COMPACT_JWS = re.compile(rb"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)")
_BASE64URL_PARTS = re.compile(rb"[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)*")
_PADDING = (b"", b"", b"==", b"=")


class CompactJWS(NamedTuple):
    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")  # RFC 7519 §4: reject, don't pick one
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_decoder = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constants)


def b64decode(segment: bytes) -> bytes:
    if len(segment) % 4 == 1:
        raise ValueError("impossible base64url length")
    return urlsafe_b64decode(segment + _PADDING[len(segment) % 4])


def _json_object(segment: bytes, what: str) -> dict[str, Any]:
    try:
        value = _decoder.decode(b64decode(segment).decode("utf-8"))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidToken("malformed_jwt", hint=f"the JWT {what} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise InvalidToken("malformed_jwt", hint=f"the JWT {what} is not a JSON object")
    return value


def describe_non_jws(token: bytes) -> str:
    """Why a token is not a compact JWS, phrased as the operator's fix."""
    parts = token.count(b".") + 1
    if parts == 5 and _BASE64URL_PARTS.fullmatch(token):
        return (
            "token is a JWE (encrypted, 5 parts), not a signed JWT; providers issue these when "
            "the token is requested without an audience (Auth0: add audience=<API identifier>) "
            "or when token encryption is configured for this API"
        )
    if parts == 1:
        return (
            "token is opaque (not a JWT); request it with an audience/resource parameter naming "
            "this API so the provider issues a JWT access token"
        )
    return "token is not a compact JWS (three base64url parts separated by dots)"


def parse(token: bytes) -> CompactJWS:
    """Split and decode; raises ``InvalidToken`` for anything but a strict compact JWS."""
    match = _COMPACT_JWS.fullmatch(token)
    if match is None:
        raise InvalidToken("not_a_jwt", hint=describe_non_jws(token))
    header_b64, payload_b64, signature_b64 = match.groups()
    header = _json_object(header_b64, "header")
    payload = _json_object(payload_b64, "payload")
    try:
        signature = b64decode(signature_b64)
    except (ValueError, binascii.Error):
        raise InvalidToken("malformed_jwt", hint="the JWT signature is not base64url") from None
    return CompactJWS(header, payload, token[: match.end(2)], signature)
