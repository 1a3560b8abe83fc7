"""What audmw knows about each provider, one module per provider.

Each module of this package defines ``PROVIDER``, a ``Provider``: its settings preset (a few
provider facts such as tenant, domain or user pool turned into ordinary ``Settings`` values),
how ``audmw inspect`` recognises its tokens and which pitfalls it names, and the
provider-specific parts of the fixes in refusal logs. The package finds its modules itself,
so a new provider is one new module.

Nothing here is special-cased in the validator: a preset only sets ordinary settings, so an
unlisted provider is described with the same settings. Presets are used through
``Settings.for_provider``, ``AUDMW_PROVIDER`` or ``AUDMW = {"PROVIDER": ...}``; any explicit
setting overrides the preset's value.
"""

from __future__ import annotations

import enum
import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from audmw.errors import ConfigurationError
from audmw.values import close_names

Preset = Callable[..., dict[str, Any]]


class Evidence(enum.IntEnum):
    """How strongly a token points at a provider; the strongest recognition wins."""

    ISSUER_HOST = 0  # the issuer's host belongs to the provider
    ISSUER_PATH = 1  # the issuer's path has the provider's shape (/realms/<realm>)
    TOKEN_SHAPE = 2  # only claims or headers look like the provider's


@dataclass(frozen=True)
class UnverifiedToken:
    """What a token shows before any check: its ``iss`` (and that URL's parts), header, claims."""

    iss: str | None
    header: Mapping[str, Any]
    claims: Mapping[str, Any]
    host: str = field(init=False)
    path: str = field(init=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.iss or "")
        object.__setattr__(self, "host", (parts.hostname or "").lower())
        object.__setattr__(self, "path", parts.path)


@dataclass(frozen=True)
class Recognition:
    """The provider a token points at (for ``audmw inspect``), and its usual pitfalls."""

    id: str
    name: str
    why: str
    pitfalls: tuple[str, ...] = ()
    evidence: Evidence = Evidence.ISSUER_HOST


@dataclass(frozen=True)
class KindHint:
    """A provider's own kind of token (a token for its own API), for ``audmw inspect``."""

    label: str
    reason: str


def _no_recognition(token: UnverifiedToken) -> Recognition | None:
    return None


def _no_kind(token: UnverifiedToken) -> KindHint | None:
    return None


def _no_header_hint(header: Mapping[str, Any]) -> str | None:
    return None


def _no_issuer_hint(iss: str, expected: tuple[str, ...]) -> str | None:
    return None


def _no_audience_hint(audiences: tuple[str, ...]) -> str | None:
    return None


def _no_typ_hint(typ: str) -> str | None:
    return None


@dataclass(frozen=True)
class Provider:
    """Everything audmw knows about one provider. Only ``name`` and ``preset`` are required.

    The hints explain a refusal; none of them decides one. Each returns None when the token
    does not concern this provider.
    """

    name: str  # the preset's name: Settings.for_provider(name), AUDMW_PROVIDER=name
    preset: Preset  # keyword options -> Settings keyword arguments
    recognize: Callable[[UnverifiedToken], Recognition | None] = _no_recognition
    # A kind of token only this provider issues (e.g. a token for its own API).
    kind: Callable[[UnverifiedToken], KindHint | None] = _no_kind
    # Why a token with this header cannot be verified here (a signature or issuer refusal).
    header_hint: Callable[[Mapping[str, Any]], str | None] = _no_header_hint
    # Why this iss is not among the expected ones.
    issuer_hint: Callable[[str, tuple[str, ...]], str | None] = _no_issuer_hint
    # Why these audiences do not name this API.
    audience_hint: Callable[[tuple[str, ...]], str | None] = _no_audience_hint
    # What to do about a token without aud, with this provider ("Keycloak: add ...").
    missing_audience_hint: str | None = None
    # What this JOSE typ means, when it is this provider's own.
    typ_hint: Callable[[str], str | None] = _no_typ_hint

    @property
    def parameters(self) -> tuple[str, ...]:
        """The names of the preset's own options (besides the ordinary settings)."""
        return tuple(inspect.signature(self.preset).parameters)


# -- helpers for the presets' options ---------------------------------------------------------


def required_option(value: Any, provider: str, name: str, example: str) -> str:
    """A preset option that must be given, as stripped text."""
    text = str(value).strip() if value is not None else ""
    if not text:
        raise ConfigurationError(
            f"audmw: the {provider} preset needs {name}= (AUDMW_{name.upper()}), e.g. {example}"
        )
    return text


def host_option(value: Any, provider: str, name: str, example: str) -> str:
    """``tenant.auth0.com`` from ``tenant.auth0.com``, ``https://tenant.auth0.com/`` or similar."""
    text = required_option(value, provider, name, example)
    parts = urlsplit(text if "://" in text else f"https://{text}")
    if parts.scheme != "https" or not parts.hostname or parts.path.strip("/"):
        raise ConfigurationError(f"audmw: {name} {text!r} is not a host name, e.g. {example}")
    return parts.netloc


# -- the registry -------------------------------------------------------------------------------


def discover() -> dict[str, Provider]:
    """Every provider module of this package (any directory on its ``__path__``), by name."""
    found: dict[str, Provider] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        provider = getattr(module, "PROVIDER", None)
        if not isinstance(provider, Provider):
            raise TypeError(f"{module.__name__} must define PROVIDER, an audmw.providers.Provider")
        if provider.name in found:
            raise TypeError(f"{module.__name__}: a provider named {provider.name!r} exists already")
        found[provider.name] = provider
    return found


def get(name: str) -> Provider:
    """The provider named ``name`` (``google_iap`` and ``Google-IAP`` name ``google-iap``)."""
    provider = PROVIDERS.get(name.strip().lower().replace("_", "-"))
    if provider is None:
        close = close_names(name.strip().replace("_", "-"), PROVIDERS)
        maybe = f" (did you mean {' or '.join(close)}?)" if close else ""
        raise ConfigurationError(
            f"audmw: unknown provider {name!r}{maybe}; choose from {', '.join(PROVIDERS)}"
        )
    return provider


def names() -> tuple[str, ...]:
    """The providers' names, as ``AUDMW_PROVIDER`` takes them."""
    return tuple(PROVIDERS)


def parameters(name: str) -> tuple[str, ...]:
    """The names of a preset's own parameters (besides the ordinary settings)."""
    return get(name).parameters


def settings_values(
    name: str, options: Mapping[str, Any], setting_names: Iterable[str]
) -> dict[str, Any]:
    """Keyword arguments for ``Settings``: the preset's values, overridden by ``options``."""
    provider = get(name)
    own = set(provider.parameters)
    known = set(setting_names)
    unknown = sorted(k for k in options if k not in own and k not in known)
    if unknown:
        close = close_names(unknown[0], own | known)
        maybe = f" (did you mean {' or '.join(close)}?)" if close else ""
        raise ConfigurationError(
            f"audmw: unknown option {', '.join(unknown)} for provider {name!r}{maybe}; its own "
            f"options are {', '.join(sorted(own)) or 'none'}, besides every setting"
        )
    values = provider.preset(**{k: v for k, v in options.items() if k in own})
    values.update((k, v) for k, v in options.items() if k not in own)
    return values


def refresh() -> None:
    """Find the provider modules again, e.g. after a directory was added to ``__path__``."""
    found = discover()
    _providers.clear()
    _providers.update(found)
    _presets.clear()
    _presets.update((name, provider.preset) for name, provider in found.items())


_providers: dict[str, Provider] = {}
_presets: dict[str, Preset] = {}
# Read-only views that stay current through refresh().
PROVIDERS: Mapping[str, Provider] = MappingProxyType(_providers)
PRESETS: Mapping[str, Preset] = MappingProxyType(_presets)
# The provider modules import the names above from this package, so discovery comes last.
refresh()
