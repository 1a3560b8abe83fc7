"""The request's own URL, and which proxy headers are believed when rebuilding it.

A DPoP proof names the URL it was made for (``htu``); comparing it with a URL built from
headers any client can set would let a proof made for another server pass here (the
``Host``/``X-Forwarded-Host`` bypass). So ``Forwarded`` and ``X-Forwarded-Proto/Host/Prefix``
count only when the request comes straight from an address in ``trusted_proxies``, and then
only the last value, the one that proxy wrote. With ``origins`` set, the host must be one of
this API's own. The same trust decides whether a client-certificate header is read.

URLs are compared in RFC 3986 §6.2.2 normal form: scheme and host in lower case, no default
port, percent-encoding decoded and re-encoded the same way, no dot-segments.
"""

from __future__ import annotations

import functools
import ipaddress
import posixpath
from typing import NamedTuple
from urllib.parse import quote, unquote, urlsplit

from audmw.request import IncomingRequest
from audmw.settings import Settings

__all__ = ["PROXY_HEADERS", "RequestURLs", "normalise_url"]

PROXY_HEADERS = (
    "forwarded",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-prefix",
)
"""The headers a trusted proxy may rebuild the URL with (lower case)."""

_DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 3986 pchar without "%": what stays literal in a normalised path.
_PATH_SAFE = "/!$&'()*+,;=:@-._~"


class Origin(NamedTuple):
    scheme: str
    host: str
    prefix: str


@functools.lru_cache(maxsize=1024)
def _normal_path(path: str, *, decoded_already: bool = False) -> str:
    decoded = path if decoded_already else unquote(path, errors="surrogateescape")
    if "/." in decoded or decoded.startswith("."):
        trailing = decoded.endswith("/")
        decoded = posixpath.normpath("/" + decoded.lstrip("/"))
        if decoded.startswith("//"):
            decoded = "/" + decoded.lstrip("/")
        if trailing and decoded != "/":
            decoded += "/"
    return quote(decoded, safe=_PATH_SAFE, errors="surrogateescape") or "/"


@functools.lru_cache(maxsize=256)
def _normal_authority(scheme: str, host: str) -> str | None:
    """``host[:port]`` in normal form, or None when it is no valid authority."""
    try:
        parts = urlsplit(f"{scheme}://{host}")
        port = parts.port
    except ValueError:
        return None
    hostname = parts.hostname
    if not hostname or parts.username is not None or parts.password is not None:
        return None
    if parts.path or parts.query or parts.fragment:
        return None
    if ":" in hostname:
        hostname = f"[{hostname}]"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        return f"{hostname}:{port}"
    return hostname


@functools.lru_cache(maxsize=1024)
def normalise_url(url: str) -> str | None:
    """``url`` without query and fragment in normal form; None when it is not http(s)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        return None
    authority = _normal_authority(scheme, parts.netloc)
    if authority is None:
        return None
    return f"{scheme}://{authority}{_normal_path(parts.path or '/')}"


def _last(value: str) -> str:
    return value.rsplit(",", 1)[-1].strip()


def _forwarded_pairs(value: str) -> dict[str, str]:
    """The parameters of the last element of a ``Forwarded`` header (RFC 7239)."""
    pairs: dict[str, str] = {}
    for pair in _last(value).split(";"):
        name, sep, found = pair.partition("=")
        if sep:
            pairs[name.strip().lower()] = found.strip().strip('"')
    return pairs


class RequestURLs:
    """Builds the URL a request was sent to, believing proxies as the settings say."""

    def __init__(self, settings: Settings) -> None:
        self._networks = tuple(
            ipaddress.ip_network(item, strict=False) for item in settings.trusted_proxies
        )
        self._origins: dict[str, str] = {}
        for origin in settings.origins:
            normal = normalise_url(origin)
            if normal is not None:
                self._origins[normal.rstrip("/")] = origin
        self.client_cert_header = settings.client_cert_header
        self.headers: frozenset[str] = frozenset(
            (*PROXY_HEADERS, settings.client_cert_header) if self._networks else ()
        )
        """The headers adapters put in ``IncomingRequest.proxy``: none without trusted
        proxies, as nothing would read them."""

    def trusted(self, request: IncomingRequest) -> bool:
        """The request comes straight from a trusted proxy."""
        if not self._networks or not request.peer:
            return False
        try:
            address = ipaddress.ip_address(request.peer.strip("[]"))
        except ValueError:
            return False
        return any(address in network for network in self._networks)

    def proxy_header(self, request: IncomingRequest, name: str) -> str | None:
        """A header a trusted proxy set, or None (also when the peer is not trusted)."""
        if not self.trusted(request):
            return None
        for found, value in request.proxy:
            if found == name:
                return value
        return None

    def origin(self, request: IncomingRequest) -> Origin:
        scheme, host, prefix = request.scheme, request.host, ""
        if self.trusted(request):
            headers = dict(request.proxy)
            forwarded = headers.get("forwarded")
            if forwarded is not None:
                pairs = _forwarded_pairs(forwarded)
                scheme = pairs.get("proto", scheme)
                host = pairs.get("host", host)
            else:
                if "x-forwarded-proto" in headers:
                    scheme = _last(headers["x-forwarded-proto"])
                if "x-forwarded-host" in headers:
                    host = _last(headers["x-forwarded-host"])
            if "x-forwarded-prefix" in headers:
                prefix = _last(headers["x-forwarded-prefix"]).rstrip("/")
        scheme = scheme.lower()
        # A WebSocket handshake is an HTTP GET: its proof names the http(s) URL.
        scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
        return Origin(scheme, host, prefix)

    def url(self, request: IncomingRequest) -> tuple[str | None, str]:
        """The request's normalised URL without query (None when it has no valid one), and
        why not, for the operator."""
        scheme, host, prefix = self.origin(request)
        if scheme not in _DEFAULT_PORTS:
            return None, f"the request's scheme {scheme[:16]!r} is not http or https"
        authority = _normal_authority(scheme, host)
        if authority is None:
            return None, f"the request's host {host[:80]!r} is not a valid authority"
        origin = f"{scheme}://{authority}"
        if self._origins and origin not in self._origins:
            return None, (
                f"the request's origin {origin[:80]!r} is not among origins "
                f"({', '.join(self._origins.values())}); a trusted proxy must say the public "
                "host, or the Host header was forged"
            )
        # The framework's path is percent-decoded already; the prefix and root path are not.
        root = (
            _normal_path(prefix + request.root_path).rstrip("/")
            if prefix or request.root_path
            else ""
        )
        return origin + root + _normal_path(request.path, decoded_already=True), ""
