"""Strict parsing of a compact JWS (RFC 7515 §7.1) with C-speed primitives.

No Python loop over characters: the decoder refuses any byte outside the alphabet while it
decodes, so the token is scanned once more only to explain a refusal. The decoder is
``pybase64`` (SIMD, the ``speedups`` extra) when it is installed, else the standard library's
``binascii`` in strict mode; both refuse exactly the same segments (``use_base64`` switches,
for tests and benchmarks that compare them).
"""

from __future__ import annotations

import binascii
import json
import re
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

from audmw.errors import InvalidToken

_BASE64URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_BASE64URL_PARTS = re.compile(rb"[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)*")
_STANDARD_ALPHABET = _BASE64URL_ALPHABET.translate(bytes.maketrans(b"-_", b"+/"))
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_PADDING = (b"", b"", b"==", b"=")
# The last character of a segment whose length is 2 or 3 modulo 4 carries 4 or 2 unused low
# bits; only the characters with those bits zero are canonical (RFC 4648 §3.5, RFC 7515 §2).
_CANONICAL_LAST = (b"", b"", frozenset(b"AQgw"), frozenset(b"AEIMQUYcgkosw048"))
_MEMO_SIZE = 64
_JSON_WHITESPACE = " \t\n\r"


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


# The C scanner behind json.loads, called directly: two Python frames fewer per object.
_decoder = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
_scan: Callable[[str, int], tuple[Any, int]] = _decoder.scan_once  # type: ignore[attr-defined]


def b64decode(segment: bytes) -> bytes:
    """base64url without padding; ``ValueError`` (``binascii.Error`` is one) for anything else:
    bytes outside the alphabet, ``+``, ``/``, ``=``, an impossible length, unused bits that
    are not zero (else one token has several spellings, each a cache entry and a fingerprint
    of its own)."""
    if b"+" in segment or b"/" in segment or b"=" in segment:
        raise ValueError("not base64url: + / or = ")
    return _decode(segment)


def _decode(segment: bytes) -> bytes:
    """``b64decode`` of a segment known to hold no ``+``, ``/`` or ``=``: both decoders would
    take those for standard base64 (``parse`` refuses them in the whole token at once)."""
    remainder = len(segment) % 4
    if remainder == 1:
        raise ValueError("impossible base64url length")
    if remainder and segment[-1] not in _CANONICAL_LAST[remainder]:
        raise ValueError("non-zero unused bits: not the canonical base64url spelling")
    return _a2b(segment, _PADDING[remainder])


if sys.version_info >= (3, 11):

    def _binascii_a2b(segment: bytes, padding: bytes) -> bytes:
        return binascii.a2b_base64(segment.translate(_TO_STANDARD) + padding, strict_mode=True)

else:  # binascii skips foreign bytes unless told not to (3.11+): refuse them first

    def _binascii_a2b(segment: bytes, padding: bytes) -> bytes:
        data = segment.translate(_TO_STANDARD)
        if data.translate(None, _STANDARD_ALPHABET):
            raise binascii.Error("Only base64 data is allowed")
        return binascii.a2b_base64(data + padding)


_pybase64_decode: Callable[..., bytes] | None
try:
    from pybase64 import b64decode as _pybase64_decode
except ImportError:  # the speedups extra is not installed
    _pybase64_decode = None


def _pybase64_a2b(segment: bytes, padding: bytes) -> bytes:
    assert _pybase64_decode is not None
    return _pybase64_decode(segment + padding, altchars=b"-_", validate=True)


_DECODERS: dict[str, Callable[[bytes, bytes], bytes]] = {"binascii": _binascii_a2b}
if _pybase64_decode is not None:
    _DECODERS["pybase64"] = _pybase64_a2b
BASE64_DECODERS: tuple[str, ...] = tuple(_DECODERS)
"""The decoders available here: ``binascii`` always, ``pybase64`` with the speedups extra."""
base64_decoder = BASE64_DECODERS[-1]
"""The decoder in use: ``pybase64`` when it is installed."""
_a2b = _DECODERS[base64_decoder]


def use_base64(name: str) -> str:
    """Decode with ``name`` (one of ``BASE64_DECODERS``) from now on; returns the previous one."""
    global _a2b, base64_decoder
    previous = base64_decoder
    _a2b = _DECODERS[name]
    base64_decoder = name
    return previous


def _json_object(segment: bytes, what: str) -> dict[str, Any]:
    try:
        text = _decode(segment).decode("utf-8")
        start = len(text) - len(text.lstrip(_JSON_WHITESPACE))
        value, end = _scan(text, start)
        if text[end:].strip(_JSON_WHITESPACE):
            raise ValueError("data after the JSON value")
    except (ValueError, binascii.Error, UnicodeDecodeError, StopIteration, RecursionError):
        # RecursionError: JSON nested deeper than the interpreter's recursion limit.
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


def parse(token: bytes, headers: dict[bytes, dict[str, Any]] | None = None) -> CompactJWS:
    """Split and decode; raises ``InvalidToken`` for anything but a strict compact JWS.

    ``headers`` memoises decoded headers: the tokens of one issuer and key share the same
    header segment byte for byte. The returned header must then be treated as read-only.
    """
    # Three non-empty parts, found with memchr rather than split into a list.
    first = token.find(b".")
    second = token.find(b".", first + 1)
    if (
        first < 1
        or second <= first + 1
        or second == len(token) - 1
        or token.find(b".", second + 1) != -1
        # What base64 decoding of the base64url segments would let through.
        or b"+" in token
        or b"/" in token
        or b"=" in token
    ):
        raise _not_a_jws(token)
    header_b64 = token[:first]
    payload_b64 = token[first + 1 : second]
    signature_b64 = token[second + 1 :]
    try:
        header = None if headers is None else headers.get(header_b64)
        if header is None:
            header = _json_object(header_b64, "header")
            if headers is not None:
                if len(headers) >= _MEMO_SIZE:
                    headers.clear()  # varied headers are unusual; start over, don't track age
                headers[header_b64] = header
        payload = _json_object(payload_b64, "payload")
        try:
            signature = _decode(signature_b64)
        except ValueError:
            raise InvalidToken("malformed_jwt", hint="the JWT signature is not base64url") from None
    except InvalidToken:
        if token.translate(None, _BASE64URL_ALPHABET) != b"..":
            raise _not_a_jws(token) from None  # a byte outside base64url: not a JWS at all
        raise
    return CompactJWS(header, payload, token[:second], signature)


def _not_a_jws(token: bytes) -> InvalidToken:
    return InvalidToken("not_a_jwt", hint=describe_non_jws(token))
