"""``IncomingRequest``: what the core needs to know of one HTTP request, whatever the framework.

Each adapter builds it in one small function (from an ASGI scope, a WSGI environ, a Django
``HttpRequest``) and hands it to ``Guard``. The helpers below are the parts of that reading
that must be the same everywhere: a token sent as a query or form parameter besides the
header, and what a CORS preflight is.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

from audmw import diagnostics
from audmw.errors import InvalidRequest

__all__ = [
    "FORM_CONTENT_TYPE",
    "MAX_FORM_BYTES",
    "IncomingRequest",
    "asgi_client_certificate",
    "check_form_size",
    "environ_request",
    "is_form",
    "is_preflight",
    "new_request",
    "token_in_form",
    "token_in_query",
]

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 1024 * 1024
"""A form body is read for an ``access_token`` field up to this size; a larger one is refused."""

new_request = tuple.__new__
"""``new_request(IncomingRequest, (every field, in order))``: the request without the Python
``__new__`` of a named tuple, for adapters that build one on every request."""

_TOKEN_FIELD = "access_token"  # noqa: S105 -- the parameter name, not a secret


class IncomingRequest(NamedTuple):
    """One request as the core sees it; immutable, cheap to build on every request."""

    method: str
    """The request method as sent (upper case for every real client)."""
    path: str
    """The path as the framework's router matches it: percent-decoded, without the root path."""
    credentials: tuple[str, ...] | tuple[bytes, ...] = ()
    """Every value of the token header (``Authorization`` unless ``token_header`` names
    another), as the server gave them; a server that folds repeated headers gives one."""
    token_in_query: bool = False
    """An ``access_token`` query parameter is present (RFC 6750 §2.3, refused)."""
    token_in_body: bool = False
    """A form body carries an ``access_token`` field (RFC 6750 §2.2, refused)."""
    preflight: bool = False
    """A CORS preflight: OPTIONS with ``Origin`` and ``Access-Control-Request-Method``."""
    scheme: str = ""
    host: str = ""
    """Filled in when a check needs the absolute URL (``Guard.wants_url``), else empty."""
    root_path: str = ""
    """Where the app is mounted; with ``scheme`` and ``host`` it gives the absolute URL (also
    left out by WSGI adapters until a check needs it)."""
    dpop: tuple[str, ...] | tuple[bytes, ...] = ()
    """Every value of the ``DPoP`` header (RFC 9449)."""
    client_certificate: str | None = None
    """The TLS client certificate (PEM) where the server exposes one (RFC 8705)."""
    peer: str = ""
    """The address the connection comes from (to tell a trusted proxy), when ``dpop``
    is filled in."""
    proxy: tuple[tuple[str, str], ...] = ()
    """The headers a trusted proxy may set (``Forwarded``, ``X-Forwarded-*``, the client
    certificate), lower-case names, when ``Guard.proxy_headers`` asks for them."""
    route_of: Callable[[Any], str | None] | None = None
    """How the adapter names the route template the request matched, from ``native``; asked
    only for a refusal's log line (``audmw_route``), so accepted requests never pay for it."""
    native: Any = None
    """The framework's own request (an ASGI scope, a Django or Flask request) for
    ``route_of``."""

    def route(self) -> str | None:
        """The route template (``/items/{item_id}``), never the raw path; None when the adapter
        does not tell or no route matched. Never raises: a refusal must still be answered."""
        route_of = self.route_of
        if route_of is None:
            return None
        try:
            return route_of(self.native)
        except Exception:
            return None

    @property
    def url(self) -> str:
        """The absolute URL without query, as far as the adapter knows scheme and host."""
        return f"{self.scheme}://{self.host}{self.root_path}{self.path}"


def environ_request(
    environ: Mapping[str, Any],
    method: str,
    path: str,
    header_key: str = "HTTP_AUTHORIZATION",
    scheme: str | None = None,
    proxy_headers: Collection[str] = (),
    route_of: Callable[[Any], str | None] | None = None,
    native: Any = None,
) -> IncomingRequest:
    """The ``IncomingRequest`` of a WSGI environ (or Django's ``request.META``).

    ``path`` is the path the framework routes; ``header_key`` the token header's environ key
    (WSGI servers fold repeated headers into one value, so there is at most one);
    ``scheme``, when the absolute URL is wanted, the request's scheme as the framework
    reads it (host and root path then come from the environ, with the ``DPoP`` header and the
    peer address); ``proxy_headers`` the lower-case names of the proxy headers to read;
    ``route_of`` and ``native`` name the route for refusals' log lines.
    """
    value = environ.get(header_key)
    query = environ.get("QUERY_STRING")
    preflight = method == "OPTIONS" and is_preflight(
        method, environ.get("HTTP_ORIGIN"), environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")
    )
    url = scheme is not None
    incoming: IncomingRequest = new_request(
        IncomingRequest,
        (
            method,
            path,
            () if value is None else (value,),
            token_in_query(query) if query else False,
            False,
            preflight,
            scheme or "",
            (environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")) if url else "",
            environ.get("SCRIPT_NAME", "") if url else "",
            _environ_values(environ, "HTTP_DPOP") if url else (),
            None,
            environ.get("REMOTE_ADDR", "") if url else "",
            tuple(
                (name, environ[key])
                for name in proxy_headers
                if (key := "HTTP_" + name.upper().replace("-", "_")) in environ
            ),
            route_of,
            native,
        ),
    )
    return incoming


def asgi_client_certificate(scope: Mapping[str, Any]) -> str | None:
    """The client's certificate (PEM) from an ASGI scope's ``tls`` extension, when the
    server gives one."""
    tls = (scope.get("extensions") or {}).get("tls")
    if not isinstance(tls, Mapping):
        return None
    chain = tls.get("client_cert_chain")
    if not chain:
        return None
    first = next(iter(chain), None)
    return first if isinstance(first, str) else None


def _environ_values(environ: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = environ.get(key)
    return () if value is None else (value,)


def token_in_query(query: str | bytes) -> bool:
    """Whether a query string holds an ``access_token`` parameter, however its name is spelt.

    Frameworks decode parameter names (``access%5Ftoken`` is ``access_token`` to them), so any
    query with a percent sign is parsed; the rest need only the substring test.
    """
    if isinstance(query, bytes):
        if b"access" not in query and b"%" not in query:
            return False
        text = query.decode("latin-1")
    else:
        if "access" not in query and "%" not in query:
            return False
        text = query
    return any(name == _TOKEN_FIELD for name, _ in parse_qsl(text, keep_blank_values=True))


def is_form(content_type: str | bytes | None) -> bool:
    """Whether a ``Content-Type`` is the form encoding RFC 6750 §2.2 allows a token in."""
    if not content_type:
        return False
    if isinstance(content_type, bytes):
        content_type = content_type.decode("latin-1")
    return content_type.split(";", 1)[0].strip().lower() == FORM_CONTENT_TYPE


def check_form_size(size: int, request: IncomingRequest | None = None) -> None:
    """Refuse (400, logged) a form body too large to be read for an ``access_token`` field."""
    if size > MAX_FORM_BYTES:
        error = InvalidRequest(
            "form_too_large",
            hint=f"a form body over {MAX_FORM_BYTES} bytes is not read for credentials",
        )
        diagnostics.log_refusal(error, request=request)
        raise error


def token_in_form(body: bytes) -> bool:
    """Whether a form-encoded body holds an ``access_token`` field."""
    if b"access" not in body and b"%" not in body:
        return False
    return token_in_query(body)


def is_preflight(method: str, origin: object, request_method: object) -> bool:
    """A CORS preflight: OPTIONS with both ``Origin`` and ``Access-Control-Request-Method``."""
    return method == "OPTIONS" and bool(origin) and bool(request_method)
