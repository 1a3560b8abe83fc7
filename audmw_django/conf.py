"""``settings.AUDMW`` read once into the core ``Guard``, and read again when it changes.

``AUDMW`` is a dict of the core's setting names in upper case (``ISSUER``, ``AUDIENCE``,
``EXEMPT_PATHS``, ``RULES``, ...; ``audmw.settings.mapping_keys()``) plus the options only
Django has (``DJANGO_OPTIONS``: ``TOKEN_USER``), or an ``audmw.Settings`` (e.g.
``Settings.from_env()``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from audmw import AccessToken, ConfigurationError, Guard, Settings

# Keys of settings.AUDMW that belong to this adapter, not to the core Settings.
DJANGO_OPTIONS: Mapping[str, object] = {"TOKEN_USER": True, "USER": None}

UserFromToken = Callable[[AccessToken], Any]


@dataclass(frozen=True)
class Options:
    """What the Django adapter does besides checking tokens."""

    token_user: bool = True
    user: UserFromToken | None = None
    """Maps a verified token to a ``User`` (``AUDMW["USER"]``): request.user is then that
    user instead of a ``TokenUser``."""


@dataclass(frozen=True)
class Config:
    guard: Guard
    options: Options


def split(value: Any) -> tuple[Mapping[str, Any] | Settings, Options]:
    """The core part of ``settings.AUDMW`` and the adapter's options, type-checked."""
    if isinstance(value, Settings):
        return value, Options()
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            'audmw: settings.AUDMW must be a dict such as {"ISSUER": ..., "AUDIENCE": ...} '
            f"or an audmw.Settings, not {type(value).__name__}"
        )
    token_user = value.get("TOKEN_USER", DJANGO_OPTIONS["TOKEN_USER"])
    if not isinstance(token_user, bool):
        raise ConfigurationError(
            f"audmw: AUDMW['TOKEN_USER'] must be True or False, not {token_user!r}"
        )
    core = {key: item for key, item in value.items() if key not in DJANGO_OPTIONS}
    return core, Options(token_user=token_user, user=_user_hook(value.get("USER")))


def _user_hook(value: Any) -> UserFromToken | None:
    """``AUDMW["USER"]``: a callable, or the dotted path of one, from token to user."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = import_string(value)
        except ImportError as error:
            raise ConfigurationError(
                f"audmw: AUDMW['USER'] {value!r} cannot be imported ({error}); give the dotted "
                "path of a function taking the AccessToken and returning a user, such as "
                "'audmw_django.user.get_or_create_user'"
            ) from None
    if not callable(value):
        raise ConfigurationError(
            "audmw: AUDMW['USER'] must be a function taking the AccessToken and returning a "
            f"user, or its dotted path, not {value!r}"
        )
    return cast(UserFromToken, value)


def build(value: Any) -> Config:
    """A ``Config`` from the value of ``settings.AUDMW``; raises ``ConfigurationError``."""
    core, options = split(value)
    built = (
        core
        if isinstance(core, Settings)
        else Settings.from_mapping(core, adapter_keys=DJANGO_OPTIONS)
    )
    return Config(Guard(built), options)


_lock = threading.Lock()
_current: Config | None = None


def current() -> Config:
    """The configuration in force, built on first use.

    A bad configuration raises ``ImproperlyConfigured`` on every request it would serve (the
    request is answered 500 by Django, never let through); ``manage.py check`` reports the
    same problems with hints before the server starts.
    """
    config = _current
    if config is not None:
        return config
    return _load()


def _load() -> Config:
    global _current
    with _lock:
        if _current is None:
            value = getattr(settings, "AUDMW", None)
            if value is None:
                raise ImproperlyConfigured(
                    'audmw: settings.AUDMW is missing; add AUDMW = {"ISSUER": "https://...", '
                    '"AUDIENCE": "https://..."} to settings.py'
                )
            try:
                _current = build(value)
            except ConfigurationError as error:
                raise ImproperlyConfigured(f"{error} (see manage.py check)") from None
        return _current


def reset() -> None:
    """Forget the built configuration (and its key and token caches)."""
    global _current
    with _lock:
        _current = None


@receiver(setting_changed)
def _setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "AUDMW":
        reset()
