"""One frozen description of how tokens are checked, from code, the environment or a framework."""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit

from audmw.errors import ConfigurationError
from audmw.rules import Rule

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
)
ASYMMETRIC_ALGORITHMS = frozenset(DEFAULT_ALGORITHMS)
# AUDMW_* variables that configure the command-line tools, not the validator.
TOOL_VARIABLES = frozenset({"STATE_DIR"})
HMAC_ALGORITHMS = {"HS256": 32, "HS384": 48, "HS512": 64}  # minimum key bytes, RFC 7518 §3.2
# In an issuer, stands for the token's ``tid`` claim (Entra ID multi-tenant issuers).
TENANT_PLACEHOLDER = "{tenantid}"
AUTHORIZATION_HEADER = "authorization"
# Letters, digits and '-': a name with '_' shares its WSGI/CGI key (HTTP_X_Y) with the '-' one.
_HEADER_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def _strings(value: Any, name: str) -> tuple[str, ...]:
    """A comma/space list from the environment, or any iterable of strings from code."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part for part in value.replace(",", " ").split() if part)
    if isinstance(value, Iterable):
        items = tuple(value)
        if not all(isinstance(item, str) for item in items):
            raise ConfigurationError(f"audmw: {name} must be a string or a list of strings")
        return tuple(item.strip() for item in items if item.strip())
    raise ConfigurationError(f"audmw: {name} must be a string or a list of strings")


def _comma_strings(value: Any, name: str) -> tuple[str, ...]:
    """Like _strings, but only commas separate (issuers and audiences are URIs)."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return _strings(value, name)


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise ConfigurationError(f"audmw: {name} must be a number of seconds, not {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"audmw: {name} must be a number, not {value!r}") from None


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"", "0", "false", "no", "off"}:
        return False
    raise ConfigurationError(f"audmw: {name} must be true or false, not {value!r}")


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


ClaimValue = str | int | float | bool


def _required_claims(value: Any) -> tuple[tuple[str, tuple[ClaimValue, ...]], ...]:
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


def _rules(value: Any) -> tuple[Rule, ...]:
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

    issuer: tuple[str, ...]
    audience: tuple[str, ...]
    jwks_uri: str | None = None
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    leeway: float = 30.0
    require_at_jwt: bool = False
    scope_claims: tuple[str, ...] = ("scope", "scp")
    exempt_paths: tuple[str, ...] = ()
    realm: str | None = None
    rules: tuple[Rule, ...] = ()
    client_ids: tuple[str, ...] = ()
    audience_claim: str = "aud"
    required_claims: tuple[tuple[str, tuple[ClaimValue, ...]], ...] = ()
    require_any_claim: tuple[str, ...] = ()
    allowed_tenants: tuple[str, ...] = ()
    accept_id_tokens: bool = False
    hmac_secret: bytes | None = field(default=None, repr=False)
    token_header: str = AUTHORIZATION_HEADER
    max_token_bytes: int = 16 * 1024
    token_cache_size: int = 10_000
    jwks_ttl: float = 600.0
    jwks_refresh_cooldown: float = 30.0
    jwks_retry_after: float = 5.0
    http_timeout: float = 5.0
    jwks_max_bytes: int = 256 * 1024
    cors_preflight: bool = False

    def __init__(
        self,
        *,
        issuer: str | Iterable[str] | None = None,
        audience: str | Iterable[str] | None = None,
        jwks_uri: str | None = None,
        algorithms: str | Iterable[str] | None = None,
        leeway: float | str = 30.0,
        require_at_jwt: bool | str = False,
        scope_claims: str | Iterable[str] | None = None,
        exempt_paths: str | Iterable[str] | None = None,
        realm: str | None = None,
        rules: str | Iterable[Rule | Mapping[str, Any]] | None = None,
        client_ids: str | Iterable[str] | None = None,
        audience_claim: str = "aud",
        required_claims: str | Mapping[str, Any] | None = None,
        require_any_claim: str | Iterable[str] | None = None,
        allowed_tenants: str | Iterable[str] | None = None,
        accept_id_tokens: bool | str = False,
        hmac_secret: str | bytes | None = None,
        token_header: str = AUTHORIZATION_HEADER,
        max_token_bytes: int | str = 16 * 1024,
        token_cache_size: int | str = 10_000,
        jwks_ttl: float | str = 600.0,
        jwks_refresh_cooldown: float | str = 30.0,
        jwks_retry_after: float | str = 5.0,
        http_timeout: float | str = 5.0,
        jwks_max_bytes: int | str = 256 * 1024,
        cors_preflight: bool | str = False,
    ) -> None:
        values: dict[str, Any] = {
            "issuer": _comma_strings(issuer, "issuer"),
            "audience": _comma_strings(audience, "audience"),
            "jwks_uri": (jwks_uri or "").strip() or None,
            "algorithms": _strings(algorithms, "algorithms") or DEFAULT_ALGORITHMS,
            "leeway": _number(leeway, "leeway"),
            "require_at_jwt": _flag(require_at_jwt, "require_at_jwt"),
            "scope_claims": ("scope", "scp")
            if scope_claims is None
            else _strings(scope_claims, "scope_claims"),
            "exempt_paths": _strings(exempt_paths, "exempt_paths"),
            "realm": realm or None,
            "rules": _rules(rules),
            "client_ids": _comma_strings(client_ids, "client_ids"),
            "audience_claim": (audience_claim or "").strip(),
            "required_claims": _required_claims(required_claims),
            "require_any_claim": _strings(require_any_claim, "require_any_claim"),
            "allowed_tenants": _strings(allowed_tenants, "allowed_tenants"),
            "accept_id_tokens": _flag(accept_id_tokens, "accept_id_tokens"),
            "hmac_secret": hmac_secret.encode() if isinstance(hmac_secret, str) else hmac_secret,
            "token_header": str(token_header or "").strip().lower() or AUTHORIZATION_HEADER,
            "max_token_bytes": int(_number(max_token_bytes, "max_token_bytes")),
            "token_cache_size": int(_number(token_cache_size, "token_cache_size")),
            "jwks_ttl": _number(jwks_ttl, "jwks_ttl"),
            "jwks_refresh_cooldown": _number(jwks_refresh_cooldown, "jwks_refresh_cooldown"),
            "jwks_retry_after": _number(jwks_retry_after, "jwks_retry_after"),
            "http_timeout": _number(http_timeout, "http_timeout"),
            "jwks_max_bytes": int(_number(jwks_max_bytes, "jwks_max_bytes")),
            "cors_preflight": _flag(cors_preflight, "cors_preflight"),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)
        self._validate()

    def _validate(self) -> None:
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
        if not _HEADER_NAME.fullmatch(self.token_header):
            raise ConfigurationError(
                f"audmw: token_header {self.token_header!r} is not a header name of letters, "
                "digits and '-' (e.g. authorization, x-goog-iap-jwt-assertion)"
            )
        if not self.audience_claim:
            raise ConfigurationError("audmw: audience_claim must name a claim (usually 'aud')")
        if not self.audience:
            raise ConfigurationError(
                "audmw: no audience configured. Set audience= (or AUDMW_AUDIENCE) to this API's "
                "identifier as it appears in the token's 'aud', e.g. https://api.example.com. "
                "Without it, a token your provider issued for any other API would be accepted"
            )
        if self.jwks_uri is not None:
            _check_url(self.jwks_uri, "jwks_uri")
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
        if self.leeway < 0:
            raise ConfigurationError("audmw: leeway must be zero or a positive number of seconds")
        if not self.scope_claims:
            raise ConfigurationError("audmw: scope_claims must name at least one claim")
        for path in self.exempt_paths:
            if not path.startswith("/"):
                raise ConfigurationError(f"audmw: exempt path {path!r} must start with '/'")
        numbers = {
            "max_token_bytes": self.max_token_bytes,
            "jwks_ttl": self.jwks_ttl,
            "jwks_refresh_cooldown": self.jwks_refresh_cooldown,
            "jwks_retry_after": self.jwks_retry_after,
            "http_timeout": self.http_timeout,
            "jwks_max_bytes": self.jwks_max_bytes,
        }
        for name, number in numbers.items():
            if number <= 0:
                raise ConfigurationError(f"audmw: {name} must be positive")
        if self.token_cache_size < 0:
            raise ConfigurationError("audmw: token_cache_size must be 0 (off) or positive")

    @property
    def issuer_templates(self) -> tuple[str, ...]:
        """The issuers that contain ``{tenantid}``."""
        return tuple(issuer for issuer in self.issuer if TENANT_PLACEHOLDER in issuer)

    @classmethod
    def from_mapping(
        cls, mapping: Mapping[str, Any], prefix: str = "", **overrides: Any
    ) -> Settings:
        """Read upper-case keys (``ISSUER``, or ``AUDMW_ISSUER`` with a prefix) from any mapping.

        Django passes ``settings.AUDMW``, Flask ``app.config`` with prefix ``AUDMW_``, and
        ``from_env`` the process environment. Unknown ``AUDMW_*`` keys are refused so that a
        typo does not silently leave a check at its default.
        """
        known = {f.name.upper(): f.name for f in fields(cls)}
        provider = overrides.pop("provider", None) or mapping.get(prefix + "PROVIDER") or None
        if provider is not None:
            from audmw import providers

            # The preset's own parameters (TENANT_ID, DOMAIN...) are settings here too.
            known.update({name.upper(): name for name in providers.parameters(str(provider))})
        kwargs: dict[str, Any] = {}
        for key, value in mapping.items():
            if not key.startswith(prefix):
                continue
            name = key[len(prefix) :]
            if name in TOOL_VARIABLES or name == "PROVIDER":
                continue
            if name not in known:
                if prefix:
                    raise ConfigurationError(
                        f"audmw: unknown setting {key}; known: "
                        f"{', '.join(prefix + k for k in sorted(known))}"
                    )
                raise ConfigurationError(
                    f"audmw: unknown setting {key!r}; known: {', '.join(sorted(known))}"
                )
            kwargs[known[name]] = value
        kwargs.update(overrides)
        if provider is not None:
            return cls.for_provider(str(provider), **kwargs)
        return cls(**kwargs)

    @classmethod
    def for_provider(cls, provider: str, **options: Any) -> Settings:
        """Settings preset for a provider, e.g. ``for_provider("auth0", domain=..., audience=...)``.

        Providers: ``entra``, ``auth0``, ``okta``, ``keycloak``, ``cognito``, ``google``,
        ``google-iap``, ``rfc9068`` (see ``audmw.providers`` for each one's options). Any
        setting given here (``audience``, ``jwks_uri``, ``scope_claims``...) overrides the
        preset's value.
        """
        from audmw import providers

        return cls(**providers.settings_values(provider, options, (f.name for f in fields(cls))))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``AUDMW_*`` environment variables; keyword arguments take precedence."""
        return cls.from_mapping(os.environ if environ is None else environ, "AUDMW_", **overrides)
