"""One frozen description of how tokens are checked, from code, the environment or a framework.

Each setting is declared once, as a field of ``Settings``: its name, type and default, and in
the field's metadata its meaning and the parser that turns input (a string from the
environment; a list, bool or number from code) into the value. Everything else that lists
settings (keyword construction, ``AUDMW_*`` names, Django's ``AUDMW`` keys, the options of
``audmw check``, the README table) comes from that declaration.
"""

from __future__ import annotations

import importlib
import ipaddress
import json
import os
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlsplit

from audmw import providers
from audmw.errors import ConfigurationError
from audmw.rules import Rule, compile_path_pattern
from audmw.values import (
    TENANT_PLACEHOLDER,
    close_names,
    comma_strings,
    flag,
    number,
    optional_text,
    strings,
)

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "AUTHORIZATION_HEADER",
    "CLIENT_AUTH_METHODS",
    "DECLARED",
    "DEFAULT_ALGORITHMS",
    "DEFAULT_SCOPE_CLAIMS",
    "DPOP_ALGORITHMS",
    "DPOP_MODES",
    "ENV_PREFIX",
    "HMAC_ALGORITHMS",
    "INTROSPECTION_MODES",
    "PROVIDER_SETTING",
    "TENANT_PLACEHOLDER",
    "TOOL_VARIABLES",
    "IssuerIntrospection",
    "Setting",
    "Settings",
    "mapping_keys",
    "markdown_table",
]

DEFAULT_ALGORITHMS: tuple[str, ...] = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
    "Ed25519",  # RFC 9864's fully specified names for EdDSA on one curve
    "Ed448",
)
ASYMMETRIC_ALGORITHMS = frozenset(DEFAULT_ALGORITHMS)
DPOP_ALGORITHMS: tuple[str, ...] = ("ES256", "ES384", "ES512", "EdDSA", "PS256", "RS256")
DEFAULT_SCOPE_CLAIMS = ("scope", "scp")
ENV_PREFIX = "AUDMW_"
# AUDMW_* variables that configure the command-line tools, not the validator.
TOOL_VARIABLES = frozenset({"STATE_DIR"})
# Read from the environment only, by ``audmw token`` and the example apps: never settings.
ENVIRONMENT_ONLY = frozenset({"CLIENT_SECRET", "DOCS_TOKEN_URL"})
HMAC_ALGORITHMS = {"HS256": 32, "HS384": 48, "HS512": 64}  # minimum key bytes, RFC 7518 §3.2
AUTHORIZATION_HEADER = "authorization"
# Letters, digits and '-': a name with '_' shares its WSGI/CGI key (HTTP_X_Y) with the '-' one.
_HEADER_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_DECLARATION = "audmw"  # the key of a field's metadata that holds its Setting
_CURVE_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
# RFC 6750 §3 scope tokens: %x21 / %x23-5B / %x5D-7E.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")

Parser = Callable[[Any, str], Any]


@dataclass(frozen=True)
class Setting:
    """One setting as declared: name, default, meaning, and how input becomes its value."""

    name: str
    default: Any
    meaning: str  # Markdown, one line: the README table and the command-line help show it
    parse: Parser  # (input, name) -> the normalised value; raises ConfigurationError
    required: bool = False
    default_text: str | None = None  # the default in words, where the value does not say it
    unit: str = ""  # of a number, for the README ("s")
    env_form: str = ""  # how the value is written in the environment, when not a plain list
    cli_option: str | None = None  # the ``audmw check`` option that sets it

    @property
    def key(self) -> str:
        """The key in Django's ``AUDMW`` dict (``ISSUER``)."""
        return self.name.upper()

    @property
    def env_name(self) -> str:
        """The environment variable and Flask config key (``AUDMW_ISSUER``)."""
        return ENV_PREFIX + self.key

    @property
    def shown_default(self) -> str:
        """The default as the README shows it."""
        if self.required:
            return "required"
        if self.default_text is not None:
            return self.default_text
        value = self.default
        if value is None or value == ():
            return "none"
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, (int, float)):
            return f"{value:g}" + (f" {self.unit}" if self.unit else "")
        if isinstance(value, tuple):
            return ", ".join(str(item) for item in value)
        return f"`{value}`"

    @property
    def help(self) -> str:
        """The meaning as plain text, for ``--help``."""
        return f"{self.meaning.replace('`', '')} ({self.env_name})"


def _declare(
    default: Any,
    parse: Parser,
    meaning: str,
    *,
    shown: bool = True,
    required: bool = False,
    default_text: str | None = None,
    unit: str = "",
    env_form: str = "",
    cli_option: str | None = None,
) -> Any:
    """A ``Settings`` field carrying its declaration; ``shown=False`` keeps it out of repr."""
    declaration = Setting(
        "", default, meaning, parse, required, default_text, unit, env_form, cli_option
    )
    return field(default=default, repr=shown, metadata={_DECLARATION: declaration})


# -- parsers: input from code or the environment -> the normalised value ----------------------


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _has_scheme(identifier: str) -> bool:
    return bool(urlsplit(identifier).scheme)


def _check_url(url: str, name: str) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- urlsplit checks the port only when it is read
    except ValueError:
        raise ConfigurationError(f"audmw: {name} {url!r} is not a valid URL") from None
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and _is_loopback(parts.hostname):
        return
    if parts.scheme == "http":
        raise ConfigurationError(
            f"audmw: {name} {url!r} uses http://; keys fetched over plain HTTP can be replaced "
            "by anyone on the path. Use https:// (http:// is allowed only for 127.0.0.1/localhost)"
        )
    raise ConfigurationError(f"audmw: {name} {url!r} is not an https:// URL")


def _algorithms(value: Any, name: str) -> tuple[str, ...]:
    return strings(value, name) or DEFAULT_ALGORITHMS


def _jwks_uri(value: Any, name: str) -> str | None:
    uri = optional_text(value, name)
    if uri is not None:
        _check_url(uri, name)
    return uri


def _leeway(value: Any, name: str) -> float:
    seconds = number(value, name)
    if seconds < 0:
        raise ConfigurationError(f"audmw: {name} must be zero or a positive number of seconds")
    return seconds


def _positive(value: Any, name: str) -> float:
    result = number(value, name)
    if result <= 0:
        raise ConfigurationError(f"audmw: {name} must be positive")
    return result


def _positive_int(value: Any, name: str) -> int:
    return int(_positive(value, name))


def _cache_size(value: Any, name: str) -> int:
    size = int(number(value, name))
    if size < 0:
        raise ConfigurationError(f"audmw: {name} must be 0 (off) or positive")
    return size


def _scope_claims(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_SCOPE_CLAIMS  # an explicit empty list, though, is refused below
    claims = strings(value, name)
    if not claims:
        raise ConfigurationError(f"audmw: {name} must name at least one claim")
    return claims


def _exempt_paths(value: Any, name: str) -> tuple[str, ...]:
    paths = strings(value, name)
    for path in paths:
        try:
            compile_path_pattern(path)  # refuses a pattern that could never match as written
        except ConfigurationError as error:
            raise ConfigurationError(
                f"audmw: in {name}, {str(error).removeprefix('audmw: ')}"
            ) from None
    return paths


def _audience_claim(value: Any, name: str) -> str:
    claim = optional_text(value, name)
    if claim is None:
        raise ConfigurationError(f"audmw: {name} must name a claim (usually 'aud')")
    return claim


def _hmac_secret(value: Any, name: str) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    raise ConfigurationError(f"audmw: {name} must be a string or bytes")


def _token_header(value: Any, name: str) -> str:
    header = (optional_text(value, name) or AUTHORIZATION_HEADER).lower()
    if not _HEADER_NAME.fullmatch(header):
        raise ConfigurationError(
            f"audmw: {name} {header!r} is not a header name of letters, "
            "digits and '-' (e.g. authorization, x-goog-iap-jwt-assertion)"
        )
    return header


DPOP_MODES = ("off", "allowed", "required")


def _dpop_mode(value: Any, name: str) -> str:
    mode = (optional_text(value, name) or "allowed").lower()
    if mode not in DPOP_MODES:
        raise ConfigurationError(f"audmw: {name} must be off, allowed or required, not {value!r}")
    return mode


INTROSPECTION_MODES = ("off", "opaque", "all")


def _introspection_mode(value: Any, name: str) -> str:
    mode = (optional_text(value, name) or "off").lower()
    if mode not in INTROSPECTION_MODES:
        raise ConfigurationError(f"audmw: {name} must be off, opaque or all, not {value!r}")
    return mode


CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")


def _client_auth(value: Any, name: str) -> str:
    method = (optional_text(value, name) or "client_secret_basic").lower()
    if method not in CLIENT_AUTH_METHODS:
        raise ConfigurationError(
            f"audmw: {name} must be {', '.join(CLIENT_AUTH_METHODS)}, not {value!r}"
        )
    return method


def _client_key(value: Any, name: str) -> bytes | None:
    """A PEM private key given as its text, or as the path of a file holding it."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and "-----BEGIN" not in value:
        try:
            with open(value, "rb") as pem_file:
                value = pem_file.read()
        except OSError as error:
            raise ConfigurationError(
                f"audmw: {name} is neither PEM text nor a readable file ({error.strerror})"
            ) from None
    key = _signing_key(value, name)
    if key is None:
        raise ConfigurationError(f"audmw: {name} is empty")
    return key


def _token_prefix(value: Any, name: str) -> str | None:
    prefix = optional_text(value, name)
    if prefix is not None and (not prefix.isascii() or not prefix.isprintable() or " " in prefix):
        raise ConfigurationError(
            f"audmw: {name} {prefix!r} must be printable ASCII without spaces (a token's start)"
        )
    return prefix


@dataclass(frozen=True)
class IssuerIntrospection:
    """How one issuer's tokens are introspected. In ``introspection_issuers`` a value left
    None takes the ``introspection_<name>`` setting's; ``Settings.introspection_targets``
    holds them with every value filled in."""

    issuer: str
    endpoint: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    client_auth: str | None = None
    client_key: bytes | None = field(default=None, repr=False)
    client_key_id: str | None = None
    client_key_alg: str | None = None
    token_prefix: str | None = None
    """An opaque token starting with it is this issuer's; one without it is never sent here."""


# Each per-issuer value and the parser of its ``introspection_<name>`` setting.
_PER_ISSUER: dict[str, Parser] = {
    "endpoint": _jwks_uri,
    "client_id": optional_text,
    "client_secret": optional_text,
    "client_auth": _client_auth,
    "client_key": _client_key,
    "client_key_id": optional_text,
    "client_key_alg": optional_text,
    "token_prefix": _token_prefix,
}


def _introspection_issuers(value: Any, name: str) -> tuple[IssuerIntrospection, ...]:
    """``{"https://a/": {"token_prefix": "a_", "client_id": "api"}, ...}`` (JSON in the
    environment), or a list (comma list) of issuers that take every value from the
    ``introspection_*`` settings."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except ValueError:
                raise ConfigurationError(f"audmw: {name} is not valid JSON") from None
        else:
            value = comma_strings(text, name)
    if isinstance(value, Mapping):
        entries: list[IssuerIntrospection] = []
        for issuer, options in value.items():
            if options is None:
                options = {}
            if not isinstance(issuer, str) or not isinstance(options, Mapping):
                raise ConfigurationError(
                    f"audmw: {name} must map each issuer to an object of its values"
                )
            unknown = [key for key in options if key not in _PER_ISSUER]
            if unknown:
                raise ConfigurationError(
                    f"audmw: {name}[{issuer!r}] has no value {unknown[0]!r}"
                    f"{_did_you_mean(str(unknown[0]), _PER_ISSUER, repr)}; known: "
                    f"{', '.join(_PER_ISSUER)}"
                )
            parsed = {
                key: _PER_ISSUER[key](raw, f"{name}[{issuer!r}].{key}")
                for key, raw in options.items()
                if raw is not None
            }
            entries.append(IssuerIntrospection(issuer, **parsed))
        return _distinct(tuple(entries), name)
    if isinstance(value, (list, tuple)):
        return _distinct(
            tuple(
                item if isinstance(item, IssuerIntrospection) else IssuerIntrospection(str(item))
                for item in value
            ),
            name,
        )
    raise ConfigurationError(f"audmw: {name} must be a mapping of issuers, or a list of them")


def _distinct(
    entries: tuple[IssuerIntrospection, ...], name: str
) -> tuple[IssuerIntrospection, ...]:
    issuers = [entry.issuer for entry in entries]
    if len(set(issuers)) != len(issuers):
        raise ConfigurationError(f"audmw: {name} names an issuer twice")
    return entries


def _dpop_algorithms(value: Any, name: str) -> tuple[str, ...]:
    algorithms = strings(value, name) or DPOP_ALGORITHMS
    for alg in algorithms:
        if alg not in ASYMMETRIC_ALGORITHMS:
            raise ConfigurationError(
                f"audmw: {name}: {alg!r} is not an asymmetric algorithm; a DPoP proof is signed "
                f"by the client's own key pair ({', '.join(DPOP_ALGORITHMS)})"
            )
    return algorithms


def _origins(value: Any, name: str) -> tuple[str, ...]:
    result = []
    for origin in comma_strings(value, name):
        parts = urlsplit(origin)
        try:
            parts.port  # noqa: B018 -- urlsplit checks the port only when it is read
        except ValueError:
            raise ConfigurationError(f"audmw: {name}: {origin!r} has a bad port") from None
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/"):
            raise ConfigurationError(
                f"audmw: {name}: {origin!r} is not an origin such as https://api.example.com"
            )
        result.append(origin.rstrip("/"))
    return tuple(result)


def _networks(value: Any, name: str) -> tuple[str, ...]:
    items = strings(value, name)
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ConfigurationError(
                f"audmw: {name}: {item!r} is not an IP address or network (10.0.0.0/8)"
            ) from None
    return items


def _header_name(value: Any, name: str) -> str:
    header = (optional_text(value, name) or "").lower()
    if not _HEADER_NAME.fullmatch(header):
        raise ConfigurationError(
            f"audmw: {name} {header!r} is not a header name of letters, digits and '-'"
        )
    return header


def _store_url(value: Any, name: str) -> str:
    url = optional_text(value, name) or "memory"
    if url == "memory":
        return url
    scheme = urlsplit(url).scheme
    if scheme not in ("redis", "rediss", "unix"):
        raise ConfigurationError(
            f"audmw: {name} must be memory or a redis://, rediss:// or unix:// URL"
        )
    return url


def _resource(value: Any, name: str) -> str | None:
    """The resource identifier (RFC 9728 §1.2, RFC 8707 §2): an https URL (loopback http in
    development) without fragment, query or user info, exactly as tokens and clients spell it."""
    resource = optional_text(value, name)
    if resource is None:
        return None
    if not resource.isascii() or not resource.isprintable() or any(c in resource for c in ' "\\'):
        raise ConfigurationError(
            f"audmw: {name} {resource!r} has spaces, quotes, backslashes or non-ASCII characters"
        )
    _check_url(resource, name)
    parts = urlsplit(resource)
    if "#" in resource or parts.query or "?" in resource or "@" in parts.netloc:
        raise ConfigurationError(
            f"audmw: {name} {resource!r} must be an https:// URL without query, fragment or user "
            "info (RFC 9728 §1.2), e.g. https://api.example.com or https://example.com/mcp"
        )
    return resource


def _urls(value: Any, name: str) -> tuple[str, ...]:
    urls = comma_strings(value, name)
    for url in urls:
        _check_url(url, name)
    return urls


def _optional_url(value: Any, name: str) -> str | None:
    url = optional_text(value, name)
    if url is not None:
        _check_url(url, name)
    return url


def _scopes_supported(value: Any, name: str) -> tuple[str, ...] | None:
    if value is None:
        return None  # derived from the app's marks and rules
    scopes = strings(value, name)
    for scope in scopes:
        if not _SCOPE_TOKEN.fullmatch(scope):
            raise ConfigurationError(
                f"audmw: {name}: {scope!r} is not a valid scope (no spaces, quotes or backslashes)"
            )
    return tuple(dict.fromkeys(scopes))


def _bearer_methods(value: Any, name: str) -> tuple[str, ...]:
    methods = strings(value, name) if value is not None else ("header",)
    for method in methods:
        if method != "header":
            raise ConfigurationError(
                f"audmw: {name} may list only 'header' (or nothing): audmw refuses tokens sent in "
                f"a form body or the query (RFC 9700 §4.3.2), so it must not advertise {method!r}"
            )
    return tuple(dict.fromkeys(methods))


def _signing_key(value: Any, name: str) -> bytes | None:
    """A PEM private key (RSA of 2048 bits or more, EC P-256/384/521, Ed25519)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = value.encode()
    if not isinstance(value, bytes):
        raise ConfigurationError(f"audmw: {name} must be a PEM private key (text or bytes)")
    signing_algorithm(value, None, name)  # refuses what cannot sign
    return value


def signing_algorithm(pem: bytes, alg: str | None, name: str = "metadata_signing_key") -> str:
    """The JWS algorithm ``pem`` (a private key) signs with: ``alg`` when it fits the key,
    else the key's usual one (RS256, ES256/384/512, EdDSA)."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise ConfigurationError(f"audmw: {name} is not an unencrypted PEM private key") from None
    fits: tuple[str, ...]
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise ConfigurationError(f"audmw: {name} is a {key.key_size}-bit RSA key; use 2048+")
        fits = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
    elif isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in _CURVE_ALGORITHMS:
        fits = (_CURVE_ALGORITHMS[key.curve.name],)
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        fits = ("EdDSA",)
    else:
        raise ConfigurationError(
            f"audmw: {name} must be an RSA, EC (P-256, P-384, P-521) or Ed25519 private key"
        )
    if alg is None:
        return fits[0]
    if alg not in fits:
        raise ConfigurationError(
            f"audmw: the algorithm {alg!r} does not fit {name}; use {' or '.join(fits)}"
        )
    return alg


ClaimValue = str | int | float | bool


def _required_claims(value: Any, setting: str) -> tuple[tuple[str, tuple[ClaimValue, ...]], ...]:
    """``{"token_use": "access", "email": ["a@x", "b@x"]}``, JSON, or ``token_use=access,...``."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except ValueError:
                raise ConfigurationError("audmw: required_claims is not valid JSON") from None
        else:
            pairs: dict[str, list[str]] = {}
            for item in text.split(","):
                name, sep, wanted = item.partition("=")
                if not sep or not name.strip():
                    raise ConfigurationError(
                        "audmw: required_claims must be name=value pairs separated by commas, "
                        'e.g. token_use=access, or a JSON object such as {"token_use": "access"}'
                    )
                pairs.setdefault(name.strip(), []).append(wanted.strip())
            value = pairs
    if isinstance(value, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in value):
        value = dict(value)  # the normalised form, as dataclasses.replace passes it back
    if not isinstance(value, Mapping):
        raise ConfigurationError("audmw: required_claims must map claim names to values")
    result = []
    for name, wanted in value.items():
        options = tuple(wanted) if isinstance(wanted, (list, tuple, set, frozenset)) else (wanted,)
        if not isinstance(name, str) or not options:
            raise ConfigurationError(f"audmw: required_claims entry {name!r} has no value")
        for option in options:
            if not isinstance(option, (str, int, float, bool)):
                raise ConfigurationError(
                    f"audmw: required_claims[{name!r}] values must be strings, numbers or booleans"
                )
        result.append((name, options))
    return tuple(sorted(result, key=lambda item: item[0]))


def _decision_hook(value: Any, name: str) -> Callable[..., Any] | None:
    """A callable, or the ``module:function`` (or dotted) path of one."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        path = value.strip()
        module, sep, attribute = path.partition(":")
        if not sep:
            module, _, attribute = path.rpartition(".")
        try:
            value = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError, ValueError) as error:
            raise ConfigurationError(
                f"audmw: {name} {path!r} cannot be imported ({error}); give a callable or its "
                "path, such as 'myapp.observability:record_decision'"
            ) from None
    if not callable(value):
        raise ConfigurationError(
            f"audmw: {name} must be a function taking one audmw.observe.Decision, not {value!r}"
        )
    return value  # type: ignore[no-any-return]


def _rules(value: Any, setting: str) -> tuple[Rule, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ConfigurationError(
                'audmw: rules must be JSON, e.g. [{"methods": ["GET"], "path": "/reports/**", '
                '"scopes": ["read:reports"]}]'
            ) from None
    if not isinstance(value, Iterable) or isinstance(value, Mapping):
        raise ConfigurationError("audmw: rules must be a list of rules")
    return tuple(item if isinstance(item, Rule) else Rule.from_mapping(item) for item in value)


@dataclass(frozen=True, init=False)
class Settings:
    """How this API checks its access tokens.

    Only ``issuer`` and ``audience`` are required; every other value has a safe default.
    Construction validates everything and raises ``ConfigurationError`` saying what to fix.
    """

    issuer: tuple[str, ...] = _declare(
        (),
        comma_strings,
        "exact `iss`; several allowed (comma list), each with its own keys",
        required=True,
        cli_option="--issuer",
    )
    audience: tuple[str, ...] = _declare(
        (),
        comma_strings,
        "the token's `aud` must contain one of these (comma list)",
        required=True,
        cli_option="--audience",
    )
    jwks_uri: str | None = _declare(
        None,
        _jwks_uri,
        "the issuer's key set (JWKS) URL, instead of discovering it",
        default_text="discovered",
        cli_option="--jwks-uri",
    )
    algorithms: tuple[str, ...] = _declare(
        DEFAULT_ALGORITHMS,
        _algorithms,
        "allow-list; `none` never; `HS*` only with `hmac_secret`",
        cli_option="--algorithms",
    )
    leeway: float = _declare(
        30.0,
        _leeway,
        "clock skew allowed for exp / nbf / iat, in seconds",
        unit="s",
        cli_option="--leeway",
    )
    require_at_jwt: bool = _declare(
        False,
        flag,
        "strict RFC 9068: accept only `typ: at+jwt`",
        cli_option="--require-at-jwt",
    )
    scope_claims: tuple[str, ...] = _declare(
        DEFAULT_SCOPE_CLAIMS,
        _scope_claims,
        "claims feeding `AccessToken.scopes` (string or array; dotted paths such as "
        "`realm_access.roles`)",
        cli_option="--scope-claims",
    )
    exempt_paths: tuple[str, ...] = _declare(
        (),
        _exempt_paths,
        "paths needing no token; `*` is one segment, `/**` everything below",
    )
    realm: str | None = _declare(None, optional_text, "`realm` in challenges")
    rules: tuple[Rule, ...] = _declare(
        (),
        _rules,
        '`[{"methods": ["GET"], "path": "/reports/**", "scopes": ["read:reports"]}]` for '
        'routes you cannot decorate; `"any_scopes"`, `"acr_values"`, `"max_age"`, '
        '`"authorization_details"` (types), `"token_kind"` (`"user"`, `"app"`), `"public": '
        "true` too. A rule for `GET` "
        "also holds for `HEAD`, and a rule asking for scopes matches its path with or without "
        "a trailing slash; public rules and `exempt_paths` match exactly as written",
        env_form="JSON",
    )
    client_ids: tuple[str, ...] = _declare(
        (),
        comma_strings,
        "your clients' ids: a token whose `aud` is one of them is an ID token, refused as such",
        cli_option="--client-ids",
    )
    audience_claim: str = _declare(
        "aud", _audience_claim, "the claim holding the audience (Cognito: `client_id`)"
    )
    required_claims: tuple[tuple[str, tuple[ClaimValue, ...]], ...] = _declare(
        (),
        _required_claims,
        'exact values, `{"token_use": "access"}` or `token_use=access`',
        env_form="JSON or name=value",
    )
    require_any_claim: tuple[str, ...] = _declare(
        (), strings, "at least one of these claims must be present"
    )
    allowed_tenants: tuple[str, ...] = _declare(
        (),
        strings,
        f"tenants (`tid`) accepted by a `{TENANT_PLACEHOLDER}` issuer template",
        default_text="any",
    )
    accept_id_tokens: bool = _declare(
        False,
        flag,
        "accept OpenID Connect ID tokens (services called with them, such as Cloud Run)",
    )
    hmac_secret: bytes | None = _declare(
        None,
        _hmac_secret,
        "shared secret for HS256/384/512 (at least the hash size)",
        shown=False,
    )
    token_header: str = _declare(
        AUTHORIZATION_HEADER,
        _token_header,
        "the header carrying the token; any other header holds the raw token (no `Bearer` "
        "scheme) and `Authorization` is then not read",
    )
    max_token_bytes: int = _declare(
        16 * 1024,
        _positive_int,
        "longest token read, in bytes; a longer one is refused before any decoding",
    )
    token_cache_size: int = _declare(
        10_000,
        _cache_size,
        "verified tokens kept by SHA-256 digest until `exp`; 0 disables",
    )
    jwks_ttl: float = _declare(
        600.0,
        _positive,
        "key-set lifetime; `Cache-Control: max-age` wins, kept between 60 s and 24 h",
        unit="s",
    )
    jwks_refresh_cooldown: float = _declare(
        30.0,
        _positive,
        "at most one refetch per cooldown for unknown `kid`s",
        unit="s",
    )
    jwks_retry_after: float = _declare(
        5.0,
        _positive,
        "after a failed fetch, wait this long before the next (503s say `Retry-After`)",
        unit="s",
    )
    http_timeout: float = _declare(
        5.0,
        _positive,
        "time limit of one key refresh (discovery and JWKS), from connect to last byte",
        unit="s",
        cli_option="--timeout",
    )
    jwks_max_bytes: int = _declare(
        256 * 1024, _positive_int, "size cap on discovery and JWKS responses, in bytes"
    )
    prefetch_keys: bool = _declare(
        False,
        flag,
        "fetch every issuer's discovery document and keys when the app starts (each worker), "
        "so that the first requests do not wait for them; an issuer that cannot be reached "
        "then is logged (`prefetch_failed`) and does not stop the start",
    )
    cors_preflight: bool = _declare(
        False,
        flag,
        "Let CORS preflight requests (OPTIONS with Origin and Access-Control-Request-Method) "
        "through without a token when no view of the app would answer them: the framework or "
        "a CORS middleware answers them. A view that answers OPTIONS itself still needs a "
        "token.",
    )
    resource: str | None = _declare(
        None,
        _resource,
        "this API's resource identifier (RFC 8707/9728), an https URL: the app serves its "
        "metadata at `/.well-known/oauth-protected-resource` and every 401 points to it; "
        "`audience` defaults to it",
        cli_option="--resource",
    )
    authorization_servers: tuple[str, ...] = _declare(
        (),
        _urls,
        "the issuers a client may ask for tokens, listed in the metadata (comma list)",
        default_text="the issuers",
    )
    scopes_supported: tuple[str, ...] | None = _declare(
        None,
        _scopes_supported,
        "scopes listed in the metadata",
        default_text="the scopes the app's marks and rules require",
    )
    resource_name: str | None = _declare(
        None, optional_text, "`resource_name` in the metadata, for people"
    )
    resource_documentation: str | None = _declare(
        None, _optional_url, "`resource_documentation` in the metadata: a URL for developers"
    )
    bearer_methods_supported: tuple[str, ...] = _declare(
        ("header",),
        _bearer_methods,
        "`bearer_methods_supported` in the metadata: `header`, or nothing to leave it out",
    )
    metadata_signing_key: bytes | None = _declare(
        None,
        _signing_key,
        "a PEM private key: the metadata then carries `signed_metadata`, a JWT of its members "
        "signed with it (`iss` the resource)",
        shown=False,
    )
    metadata_signing_alg: str | None = _declare(
        None,
        optional_text,
        "the algorithm of `signed_metadata`",
        default_text="the key's (RS256, ES256/384/512, EdDSA)",
    )

    dpop: str = _declare(
        "allowed",
        _dpop_mode,
        "DPoP (RFC 9449): `allowed` accepts `Authorization: DPoP` with a valid proof and plain "
        "Bearer tokens, `required` only DPoP, `off` no DPoP; a DPoP-bound token (`cnf.jkt`) "
        "always needs its proof",
    )
    dpop_algorithms: tuple[str, ...] = _declare(
        DPOP_ALGORITHMS,
        _dpop_algorithms,
        "algorithms a DPoP proof may be signed with (asymmetric only)",
    )
    dpop_max_age: float = _declare(
        300.0,
        _positive,
        "how old a DPoP proof's `iat` may be; its `jti` is remembered this long (plus leeway)",
        unit="s",
    )
    dpop_leeway: float = _declare(
        5.0,
        _leeway,
        "clock skew allowed for a DPoP proof's `iat` in the future",
        unit="s",
    )
    dpop_nonce: bool = _declare(
        False,
        flag,
        "DPoP proofs must carry a nonce this API issued (`use_dpop_nonce` with `DPoP-Nonce`)",
    )
    dpop_nonce_secret: bytes | None = _declare(
        None,
        _hmac_secret,
        "key that signs DPoP nonces; give every process serving the API the same one "
        "(at least 32 bytes)",
        shown=False,
        default_text="random per process",
    )
    dpop_nonce_lifetime: float = _declare(
        300.0,
        _positive,
        "a new DPoP nonce every this many seconds; the previous one is still accepted",
        unit="s",
    )
    origins: tuple[str, ...] = _declare(
        (),
        _origins,
        "this API's public origins (`https://api.example.com`); when set, a DPoP proof's "
        "`htu` must name one of them, whatever `Host` says",
        default_text="the request's `Host`",
    )
    trusted_proxies: tuple[str, ...] = _declare(
        (),
        _networks,
        "addresses or networks of proxies whose `Forwarded`, `X-Forwarded-Proto/Host/Prefix` "
        "and client-certificate header are believed",
    )
    client_cert_header: str = _declare(
        "client-cert",
        _header_name,
        "the header a trusted proxy puts the client certificate in (RFC 9440 `Client-Cert`, "
        "or PEM/base64 DER)",
    )
    client_certificates: bool = _declare(
        False,
        flag,
        "the server or a trusted proxy passes TLS client certificates to the app: the metadata "
        "then says `tls_client_certificate_bound_access_tokens` (certificate-bound tokens are "
        "checked whatever this says)",
    )
    replay_store: str = _declare(
        "memory",
        _store_url,
        "where DPoP proofs' `jti`s are remembered: `memory` (one process) or a "
        "`redis://` / `rediss://` URL shared by every process (extra `redis`)",
        shown=False,  # the URL may hold the server's password
    )
    replay_store_size: int = _declare(
        200_000,
        _positive_int,
        "most `jti`s the in-memory store holds; when full, new proofs are refused with 503",
    )
    # _declare returns a dataclasses.field(), as for every setting.
    decision_hook: Callable[..., Any] | None = _declare(  # noqa: RUF009
        None,
        _decision_hook,
        "called once per decision with an `audmw.observe.Decision` (outcome, reason, issuer, "
        "route, latency, ...; never the token); a callable or its `module:function` path. Its "
        "exceptions are logged, never a refusal",
        env_form="module:function",
    )

    introspection: str = _declare(
        "off",
        _introspection_mode,
        "which tokens are checked at an issuer's introspection endpoint (RFC 7662): `off`, "
        "`opaque` (those that are not JWTs; JWTs are verified locally) or `all` (a JWT goes "
        "to the issuer its `iss` names, when that issuer introspects). An opaque token goes to "
        "the one issuer that introspects, or to the one whose `token_prefix` it starts with",
        cli_option="--introspection",
    )
    introspection_issuers: tuple[IssuerIntrospection, ...] = _declare(
        (),
        _introspection_issuers,
        "the issuers whose tokens are introspected, each with its own values: "
        '`{"https://a.example/": {"token_prefix": "a_", "client_id": "api"}}` (`endpoint`, '
        "`client_id`, `client_secret`, `client_auth`, `client_key`, `client_key_id`, "
        "`client_key_alg`, `token_prefix`; the `introspection_*` settings are the defaults). "
        "With several, each needs a distinct `token_prefix`",
        default_text="the issuer, when there is one",
        env_form="JSON, or a comma list",
        shown=False,  # it may hold secrets
    )
    introspection_endpoint: str | None = _declare(
        None,
        _jwks_uri,
        "the introspection endpoint, when one issuer introspects",
        default_text="the discovery document's `introspection_endpoint`",
        cli_option="--introspection-endpoint",
    )
    introspection_client_id: str | None = _declare(
        None,
        optional_text,
        "the API's client id at the introspection endpoint",
        cli_option="--introspection-client-id",
    )
    introspection_client_secret: str | None = _declare(
        None,
        optional_text,
        "its secret, for `client_secret_basic` and `client_secret_post`",
        shown=False,
        cli_option="--introspection-client-secret",
    )
    introspection_client_auth: str = _declare(
        "client_secret_basic",
        _client_auth,
        "how the API authenticates there: `client_secret_basic`, `client_secret_post` or "
        "`private_key_jwt` (RFC 7523, with `introspection_client_key`)",
        cli_option="--introspection-client-auth",
    )
    introspection_client_key: bytes | None = _declare(
        None,
        _client_key,
        "the PEM private key that signs `private_key_jwt` assertions, or the path of its file",
        shown=False,
        cli_option="--introspection-client-key",
    )
    introspection_client_key_id: str | None = _declare(
        None, optional_text, "the `kid` of that key, as registered at the issuer"
    )
    introspection_client_key_alg: str | None = _declare(
        None,
        optional_text,
        "the algorithm of the assertions",
        default_text="the key's (RS256, ES256/384/512, EdDSA)",
    )
    introspection_cache_ttl: float = _declare(
        60.0,
        _positive,
        "how long an active introspection answer is reused (never past `exp`): the revocation "
        "window, the longest a revoked token is still accepted",
        unit="s",
    )
    introspection_negative_ttl: float = _declare(
        5.0,
        _positive,
        "how long an inactive answer is reused, so that a bad token cannot make every request "
        "call the endpoint",
        unit="s",
    )
    introspection_timeout: float = _declare(
        5.0,
        _positive,
        "time limit of one introspection request, from connect to last byte; one retry after "
        "a failed connection or a 5xx",
        unit="s",
    )
    introspection_cache: str = _declare(
        "memory",
        _store_url,
        "where introspection answers are kept: `memory` (one process) or a `redis://` / "
        "`rediss://` URL shared by every worker and host (extra `redis`)",
        shown=False,  # the URL may hold the server's password
    )

    def __init__(self, **options: Any) -> None:
        """Keyword arguments by setting name, each in any form its parser takes."""
        unknown = [name for name in options if name not in _BY_NAME]
        if unknown:
            raise ConfigurationError(_unknown_keyword(unknown[0]))
        for setting in DECLARED:
            value = options.get(setting.name, setting.default)
            object.__setattr__(self, setting.name, setting.parse(value, setting.name))
        if not self.audience and self.resource is not None:
            # RFC 8707: the authorization server puts the resource the client asked for in aud.
            object.__setattr__(self, "audience", (self.resource,))
        self._validate()

    def _validate(self) -> None:
        """What no value can decide alone: required values, and values that need each other."""
        if not self.issuer:
            raise ConfigurationError(
                "audmw: no issuer configured. Set issuer= (or AUDMW_ISSUER) to the exact 'iss' "
                "your provider puts in access tokens, e.g. https://YOUR_TENANT.auth0.com/"
            )
        for issuer in self.issuer:
            if _has_scheme(issuer):
                _check_url(issuer, "issuer")
            elif self.jwks_uri is None:
                # An identifier such as Google's legacy "accounts.google.com": compared exactly,
                # never fetched, so its keys must come from an explicit jwks_uri.
                raise ConfigurationError(
                    f"audmw: issuer {issuer!r} is not an https:// URL, so its keys cannot be "
                    "discovered. Give the issuer as an https:// URL; or, if the provider writes "
                    "iss without a scheme (Google's legacy accounts.google.com), set jwks_uri to "
                    "its key set"
                )
            elif not issuer.isprintable() or " " in issuer:
                raise ConfigurationError(
                    f"audmw: issuer {issuer!r} has spaces or control characters"
                )
            if "{" in issuer.replace(TENANT_PLACEHOLDER, ""):
                raise ConfigurationError(
                    f"audmw: issuer {issuer!r} has a placeholder other than {TENANT_PLACEHOLDER}"
                )
        if self.issuer_templates and self.jwks_uri is None:
            raise ConfigurationError(
                f"audmw: an issuer with {TENANT_PLACEHOLDER} cannot be discovered by its own URL; "
                "set jwks_uri (Entra ID: "
                "https://login.microsoftonline.com/common/discovery/v2.0/keys)"
            )
        if self.allowed_tenants and not self.issuer_templates:
            raise ConfigurationError(
                f"audmw: allowed_tenants applies only to issuers containing {TENANT_PLACEHOLDER}"
            )
        if not self.audience:
            raise ConfigurationError(
                "audmw: no audience configured. Set audience= (or AUDMW_AUDIENCE) to this API's "
                "identifier as it appears in the token's 'aud', e.g. https://api.example.com. "
                "Without it, a token your provider issued for any other API would be accepted "
                "(setting only resource= makes it the audience)"
            )
        if self.metadata_signing_key is not None:
            object.__setattr__(
                self,
                "metadata_signing_alg",
                signing_algorithm(self.metadata_signing_key, self.metadata_signing_alg),
            )
        elif self.metadata_signing_alg is not None:
            raise ConfigurationError(
                "audmw: metadata_signing_alg is set but no metadata_signing_key to sign with"
            )
        if self.resource is not None and not self.metadata_authorization_servers:
            raise ConfigurationError(
                "audmw: the resource metadata must name an authorization server, and no issuer "
                "can be named as one (a {tenantid} template, or no https:// URL): set "
                "authorization_servers"
            )
        for alg in self.algorithms:
            if alg.lower() == "none":
                raise ConfigurationError(
                    "audmw: algorithm 'none' means unsigned tokens and is never allowed"
                )
            if alg in HMAC_ALGORITHMS:
                if self.hmac_secret is None:
                    raise ConfigurationError(
                        f"audmw: {alg} is a shared-secret algorithm; it needs hmac_secret= "
                        "(AUDMW_HMAC_SECRET). Remove it from algorithms if your provider signs "
                        "with RS256/ES256"
                    )
                if len(self.hmac_secret) < HMAC_ALGORITHMS[alg]:
                    raise ConfigurationError(
                        f"audmw: hmac_secret is {len(self.hmac_secret)} bytes; {alg} needs at "
                        f"least {HMAC_ALGORITHMS[alg]} (RFC 7518 §3.2)"
                    )
            elif alg not in ASYMMETRIC_ALGORITHMS:
                raise ConfigurationError(
                    f"audmw: unknown algorithm {alg!r}; choose from "
                    f"{', '.join(DEFAULT_ALGORITHMS + tuple(HMAC_ALGORITHMS))} "
                    "(names are case-sensitive)"
                )
        if self.hmac_secret is not None and not any(a in HMAC_ALGORITHMS for a in self.algorithms):
            raise ConfigurationError(
                "audmw: hmac_secret is set but no HS256/HS384/HS512 algorithm is allowed; "
                "add one to algorithms or remove the secret"
            )
        if self.introspection != "off":
            object.__setattr__(self, "_targets", self._introspection_targets())
        elif self.introspection_issuers:
            raise ConfigurationError(
                "audmw: introspection_issuers is set but introspection is off; set "
                "introspection to opaque or all"
            )
        if self.dpop_nonce_secret is not None and len(self.dpop_nonce_secret) < 32:
            raise ConfigurationError("audmw: dpop_nonce_secret must be at least 32 bytes")

    @property
    def introspection_targets(self) -> tuple[IssuerIntrospection, ...]:
        """The issuers whose tokens are introspected, every value filled in; empty when
        ``introspection`` is off. Not a setting: made from ``introspection_issuers`` and the
        ``introspection_*`` settings."""
        targets: tuple[IssuerIntrospection, ...] = self.__dict__.get("_targets", ())
        return targets

    def _introspection_targets(self) -> tuple[IssuerIntrospection, ...]:
        """Each introspected issuer with its values, or the reason the settings leave an
        opaque token's issuer (or an issuer's credentials) open."""
        entries = self.introspection_issuers
        if not entries:
            if len(self.issuer) != 1:
                raise ConfigurationError(
                    "audmw: introspection is on and there are several issuers: an opaque token "
                    "does not say who issued it, and sending it to another issuer gives the "
                    "token away. Set introspection_issuers to the issuer(s) that introspect; "
                    "for several, give each a distinct token_prefix"
                )
            entries = (IssuerIntrospection(self.issuer[0]),)
        elif self.introspection_endpoint is not None and len(entries) != 1:
            raise ConfigurationError(
                "audmw: introspection_endpoint names one issuer's endpoint, and several "
                "introspect: give each its endpoint in introspection_issuers (or none: from "
                "its discovery document)"
            )
        targets = []
        for entry in entries:
            issuer = entry.issuer
            if issuer not in self.issuer:
                raise ConfigurationError(
                    f"audmw: introspection_issuers names {issuer!r}, which is not one of the "
                    "issuers; list it in issuer too"
                )
            if TENANT_PLACEHOLDER in issuer:
                raise ConfigurationError(
                    f"audmw: introspection is not offered for {TENANT_PLACEHOLDER} issuers"
                )
            target = IssuerIntrospection(
                issuer,
                endpoint=_either(entry.endpoint, self.introspection_endpoint),
                client_id=_either(entry.client_id, self.introspection_client_id),
                client_secret=_either(entry.client_secret, self.introspection_client_secret),
                client_auth=_either(entry.client_auth, self.introspection_client_auth),
                client_key=_either(entry.client_key, self.introspection_client_key),
                client_key_id=_either(entry.client_key_id, self.introspection_client_key_id),
                client_key_alg=_either(entry.client_key_alg, self.introspection_client_key_alg),
                token_prefix=entry.token_prefix,
            )
            where = f" (for {issuer})" if len(entries) > 1 else ""
            if target.client_id is None:
                raise ConfigurationError(
                    "audmw: introspection needs the API's own client credentials at the "
                    f"issuer: set introspection_client_id{where}"
                )
            if target.endpoint is None and not _has_scheme(issuer):
                raise ConfigurationError(
                    "audmw: an issuer that is not an https:// URL has no discovery "
                    f"document; set introspection_endpoint{where}"
                )
            if target.client_key is not None:
                signing_algorithm(
                    target.client_key, target.client_key_alg, "introspection_client_key"
                )
            targets.append(target)
        if len(targets) > 1:
            prefixes = [target.token_prefix for target in targets]
            if None in prefixes:
                raise ConfigurationError(
                    "audmw: several issuers introspect, so each needs a token_prefix in "
                    "introspection_issuers: the start of its opaque tokens, which says where "
                    "one is sent. Without it an opaque token's issuer is a guess"
                )
            for one in targets:
                for other in targets:
                    if one is not other and str(other.token_prefix).startswith(
                        str(one.token_prefix)
                    ):
                        raise ConfigurationError(
                            f"audmw: the token_prefix {one.token_prefix!r} of {one.issuer} "
                            f"also starts {other.token_prefix!r} of {other.issuer}: a token "
                            "must belong to one issuer only"
                        )
        return tuple(targets)

    @property
    def metadata_authorization_servers(self) -> tuple[str, ...]:
        """The ``authorization_servers`` of the resource metadata: as set, else the issuers
        that are URLs a client can discover (not templates)."""
        if self.authorization_servers:
            return self.authorization_servers
        return tuple(
            issuer
            for issuer in self.issuer
            if TENANT_PLACEHOLDER not in issuer and _has_scheme(issuer)
        )

    @property
    def issuer_templates(self) -> tuple[str, ...]:
        """The issuers that contain ``{tenantid}``."""
        return tuple(issuer for issuer in self.issuer if TENANT_PLACEHOLDER in issuer)

    @classmethod
    def from_mapping(
        cls,
        mapping: Mapping[str, Any],
        prefix: str = "",
        *,
        adapter_keys: Collection[str] = (),
        **overrides: Any,
    ) -> Settings:
        """Read upper-case keys (``ISSUER``, or ``AUDMW_ISSUER`` with a prefix) from any mapping.

        Django passes ``settings.AUDMW``, Flask ``app.config`` with prefix ``AUDMW_``, and
        ``from_env`` the process environment. Unknown ``AUDMW_*`` keys are refused, with the
        key probably meant, so that a typo does not silently leave a check at its default.
        ``adapter_keys`` are keys the caller reads itself (``TOKEN_USER``): skipped here, and
        suggested for a misspelt key like the settings are.
        """
        known = {setting.key: setting.name for setting in DECLARED}
        provider = overrides.pop("provider", None) or mapping.get(prefix + PROVIDER_KEY) or None
        if provider is not None:
            # The preset's own parameters (TENANT_ID, DOMAIN...) are settings here too.
            known.update({name.upper(): name for name in providers.parameters(str(provider))})
        skipped = TOOL_VARIABLES | {PROVIDER_KEY} | set(adapter_keys)
        kwargs: dict[str, Any] = {}
        for key, value in mapping.items():
            if not key.startswith(prefix):
                continue
            name = key[len(prefix) :]
            if name in skipped:
                continue
            if name not in known:
                raise ConfigurationError(_unknown_key(key, prefix, [*known, *skipped]))
            kwargs[known[name]] = value
        kwargs.update(overrides)
        if provider is not None:
            return cls.for_provider(str(provider), **kwargs)
        return cls(**kwargs)

    @classmethod
    def for_provider(cls, provider: str, **options: Any) -> Settings:
        """Settings preset for a provider, e.g. ``for_provider("auth0", domain=..., audience=...)``.

        ``provider`` is one of ``audmw.providers.names()`` (``auth0``, ``entra``, ``okta``...);
        its module in ``audmw.providers`` documents its options. Any setting given here
        (``audience``, ``jwks_uri``, ``scope_claims``...) overrides the preset's value.
        """
        return cls(**providers.settings_values(provider, options, _BY_NAME))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``AUDMW_*`` environment variables; keyword arguments take precedence."""
        return cls.from_mapping(
            os.environ if environ is None else environ,
            ENV_PREFIX,
            adapter_keys=ENVIRONMENT_ONLY,
            **overrides,
        )


DECLARED: tuple[Setting, ...] = tuple(
    replace(f.metadata[_DECLARATION], name=f.name) for f in fields(Settings)
)
_BY_NAME: Mapping[str, Setting] = {setting.name: setting for setting in DECLARED}

# Not a field: it chooses a preset, whose values and own options become the settings.
PROVIDER_KEY = "PROVIDER"
PROVIDER_SETTING = Setting(
    "provider",
    None,
    "a preset ("
    + ", ".join(f"`{name}`" for name in providers.names())
    + ") with its options; see [Provider presets](#provider-presets)",
    optional_text,
)


def mapping_keys() -> frozenset[str]:
    """The keys ``from_mapping`` reads without a provider: ``ISSUER``, ``PROVIDER``, ..."""
    return frozenset(setting.key for setting in DECLARED) | {PROVIDER_KEY} | TOOL_VARIABLES


def _did_you_mean(name: str, known: Iterable[str], quote: Callable[[str], str]) -> str:
    close = close_names(name, known)
    return f" (did you mean {' or '.join(quote(c) for c in close)}?)" if close else ""


def _unknown_keyword(name: str) -> str:
    if name == "provider":
        return (
            "audmw: Settings() takes no provider; use Settings.for_provider(provider, ...), or "
            "PROVIDER in from_env/from_mapping"
        )
    return (
        f"audmw: unknown setting {name!r}{_did_you_mean(name, _BY_NAME, repr)}; "
        f"known: {', '.join(sorted(_BY_NAME))}"
    )


def _unknown_key(key: str, prefix: str, known: Iterable[str]) -> str:
    names = sorted(prefix + name for name in known)
    if prefix:
        return (
            f"audmw: unknown setting {key}{_did_you_mean(key, names, str)}; "
            f"known: {', '.join(names)}"
        )
    return (
        f"audmw: unknown setting {key!r}{_did_you_mean(key, names, repr)}; "
        f"known: {', '.join(names)}"
    )


def _either(value: Any, default: Any) -> Any:
    return default if value is None else value


# -- the README table --------------------------------------------------------------------------

TABLE_HEADER = ("| setting | env / Flask key | default | meaning |", "|---|---|---|---|")


def markdown_table() -> str:
    """The README's settings table, one row per declared setting, then ``provider``."""
    rows = list(TABLE_HEADER)
    for setting in (*DECLARED, PROVIDER_SETTING):
        env = f"`{setting.env_name}`" + (f" ({setting.env_form})" if setting.env_form else "")
        cells = (setting.name, env, setting.shown_default, setting.meaning)
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows) + "\n"
