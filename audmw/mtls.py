"""Certificate-bound access tokens (RFC 8705 §3): the token's ``cnf["x5t#S256"]`` must be the
SHA-256 thumbprint of the TLS client certificate the request came with.

The certificate comes from the server (the ASGI ``tls`` extension's ``client_cert_chain``)
or, when the request comes straight from a proxy in ``trusted_proxies``, from the header that
proxy sets (``client_cert_header``; RFC 9440 ``Client-Cert: :<base64 DER>:``, or a PEM,
URL-encoded or not, as nginx's ``$ssl_client_escaped_cert`` gives it). The server or proxy
has already checked the chain; here only the binding is checked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from urllib.parse import unquote

from audmw.errors import InvalidToken
from audmw.forwarded import RequestURLs
from audmw.request import IncomingRequest

__all__ = ["CertificateBinding", "certificate_der", "certificate_thumbprint"]

_MAX_CERTIFICATE_CHARS = 16 * 1024
_PEM_BEGIN = "-----BEGIN CERTIFICATE-----"
_PEM_END = "-----END CERTIFICATE-----"


def certificate_der(text: str) -> bytes | None:
    """The DER bytes of a certificate given as PEM, RFC 9440 byte sequence or base64 DER."""
    text = text.strip()
    if not text or len(text) > _MAX_CERTIFICATE_CHARS:
        return None
    if "%" in text:
        text = unquote(text)
    if text.startswith(":") and text.endswith(":") and len(text) > 1:
        body = text[1:-1]
    elif _PEM_BEGIN in text:
        start = text.index(_PEM_BEGIN) + len(_PEM_BEGIN)
        end = text.find(_PEM_END, start)
        if end < 0:
            return None
        body = text[start:end]
    else:
        body = text
    body = "".join(body.split())
    try:
        der = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return None
    # A DER certificate is one SEQUENCE (0x30); the server or proxy validated the rest.
    return der if der[:1] == b"\x30" else None


def certificate_thumbprint(der: bytes) -> str:
    """``x5t#S256``: base64url(SHA-256(DER)) without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode("ascii")


class CertificateBinding:
    """Checks ``cnf["x5t#S256"]`` against the request's client certificate."""

    def __init__(self, urls: RequestURLs) -> None:
        self._urls = urls

    def certificate(self, request: IncomingRequest) -> tuple[str | None, str]:
        """The client certificate's text and where it came from, or None."""
        if request.client_certificate:
            return request.client_certificate, "the TLS connection"
        header = self._urls.proxy_header(request, self._urls.client_cert_header)
        if header is not None:
            return header, f"the {self._urls.client_cert_header} header of a trusted proxy"
        return None, ""

    def check(self, request: IncomingRequest, x5t: object) -> None:
        if not isinstance(x5t, str) or not x5t:
            raise InvalidToken("cnf_invalid", hint='cnf["x5t#S256"] is not a string')
        text, source = self.certificate(request)
        if text is None:
            raise InvalidToken(
                "client_certificate_missing",
                hint="the token is bound to a client certificate (cnf x5t#S256) but the request "
                "came without one; serve TLS with client certificates, or list the proxy that "
                "terminates it in trusted_proxies",
            )
        der = certificate_der(text)
        if der is None:
            raise InvalidToken(
                "client_certificate_invalid", hint=f"the certificate from {source} is not one"
            )
        if not hmac.compare_digest(certificate_thumbprint(der), x5t):
            raise InvalidToken(
                "client_certificate_mismatch",
                hint=f"the certificate from {source} is not the one the token is bound to "
                '(cnf["x5t#S256"])',
            )
