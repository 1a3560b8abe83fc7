"""System checks: a bad ``AUDMW`` is reported by ``manage.py check``, each problem with a hint.

Every message comes from the core ``Settings`` validation; here each one is only attributed
to the key that causes it, by validating that key alone next to placeholder values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from audmw import ConfigurationError, Settings
from audmw.settings import DECLARED, mapping_keys
from audmw.values import close_names
from audmw_django.conf import DJANGO_OPTIONS, split

MIDDLEWARE = "audmw_django.middleware.AudienceMiddleware"
CSRF_MIDDLEWARE = "django.middleware.csrf.CsrfViewMiddleware"
# Valid values that stand in for the required keys while another key is checked alone.
_PLACEHOLDERS = {"ISSUER": "https://issuer.invalid/", "AUDIENCE": "https://api.invalid"}
_EXAMPLE = 'AUDMW = {"ISSUER": "https://YOUR_ISSUER/", "AUDIENCE": "https://YOUR_API"}'


def _text(error: Exception) -> str:
    """The settings message in Django's terms: ``AUDMW["AUDIENCE"]``, not ``audience=`` or
    ``AUDMW_AUDIENCE``, which name the keyword and the environment variable."""
    text = str(error).removeprefix("audmw: ")
    for setting in DECLARED:
        key = f'AUDMW["{setting.name.upper()}"]'
        for spelt in (
            f"{setting.name}= (or AUDMW_{setting.name.upper()})",
            f"{setting.name}= (AUDMW_{setting.name.upper()})",
        ):
            text = text.replace(spelt, key)
        text = re.sub(rf"\bAUDMW_{setting.name.upper()}\b", key, text)
        text = re.sub(rf"(?<![\w.]){setting.name}=(?!\w)", key, text)
        if "_" in setting.name:  # jwks_uri, allowed_tenants: names, never plain words
            text = re.sub(rf"(?<![\w.\[\"']){setting.name}\b", key, text)
    return text


def _obj(key: str) -> str:
    return f"settings.AUDMW[{key!r}]"


@register(Tags.security)
def check_settings(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    """``audmw.E001``-``E008``: the ``AUDMW`` setting can protect an API."""
    if not hasattr(settings, "AUDMW"):
        return [
            Error(
                "settings.AUDMW is missing: no issuer or audience to check tokens against.",
                hint=f"Add {_EXAMPLE} to settings.py.",
                id="audmw.E001",
            )
        ]
    value = settings.AUDMW
    try:
        core, _ = split(value)
    except ConfigurationError as error:
        is_mapping = isinstance(value, Mapping)
        key = "USER" if "AUDMW['USER']" in str(error) else "TOKEN_USER"
        hints = {
            "TOKEN_USER": "TOKEN_USER=True makes request.user a TokenUser for the token's subject.",
            "USER": "USER names a function from the AccessToken to one of your users, e.g. "
            "'audmw_django.user.get_or_create_user'.",
        }
        return [
            Error(
                _text(error),
                hint=hints[key] if is_mapping else f"Write it as {_EXAMPLE}.",
                obj=_obj(key) if is_mapping else "settings.AUDMW",
                id="audmw.E008" if is_mapping else "audmw.E002",
            )
        ]
    if isinstance(core, Settings):
        return []
    return _check_mapping(core)


def _check_mapping(core: Mapping[str, Any]) -> list[CheckMessage]:
    try:
        Settings.from_mapping(core, adapter_keys=DJANGO_OPTIONS)
    except ConfigurationError as error:
        whole = error
    else:
        return []
    if "PROVIDER" in core:
        # A provider preset derives values from its own keys: report the core's message as is.
        return [
            Error(
                _text(whole),
                hint="Check PROVIDER and the options its preset needs (see audmw.providers).",
                obj="settings.AUDMW",
                id="audmw.E007",
            )
        ]
    known = mapping_keys()
    problems: list[CheckMessage] = []
    for key in core:
        if key not in known:
            close = close_names(key, known | set(DJANGO_OPTIONS))
            maybe = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(
                Error(
                    f"unknown key {key!r} in settings.AUDMW{maybe}; a misspelt key would leave "
                    "a check at its default.",
                    hint="Known keys: " + ", ".join(sorted(known | set(DJANGO_OPTIONS))) + ".",
                    obj=_obj(key),
                    id="audmw.E003",
                )
            )
    hints = {
        "ISSUER": (
            "audmw.E004",
            "Set ISSUER to the exact 'iss' of your provider's access tokens (https://).",
        ),
        "AUDIENCE": (
            "audmw.E005",
            "Set AUDIENCE to this API's identifier as it appears in the tokens' 'aud'.",
        ),
    }
    for key, (check_id, hint) in hints.items():
        try:
            Settings.from_mapping({**_PLACEHOLDERS, key: core.get(key)})
        except ConfigurationError as error:
            problems.append(Error(_text(error), hint=hint, obj=_obj(key), id=check_id))
    for key, value in core.items():
        if key in _PLACEHOLDERS or key not in known:
            continue
        try:
            Settings.from_mapping({**_PLACEHOLDERS, key: value})
        except ConfigurationError as error:
            problems.append(
                Error(
                    _text(error),
                    hint=f"Fix or remove AUDMW[{key!r}]; leaving it out keeps the safe default.",
                    obj=_obj(key),
                    id="audmw.E006",
                )
            )
    if not problems:
        problems.append(
            Error(
                _text(whole),
                hint="Each value is valid alone, but not together with the others.",
                obj="settings.AUDMW",
                id="audmw.E007",
            )
        )
    return problems


@register(Tags.security)
def check_middleware_order(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """``audmw.W001``: bearer requests can skip CSRF only if the token is checked first."""
    middleware = list(getattr(settings, "MIDDLEWARE", None) or ())
    if (
        MIDDLEWARE in middleware
        and CSRF_MIDDLEWARE in middleware
        and middleware.index(CSRF_MIDDLEWARE) < middleware.index(MIDDLEWARE)
    ):
        return [
            Warning(
                f"{CSRF_MIDDLEWARE} comes before {MIDDLEWARE}: POST requests authenticated "
                "only by a bearer token (no cookies) will be refused by the CSRF check.",
                hint=f"Move {MIDDLEWARE} above {CSRF_MIDDLEWARE} in MIDDLEWARE.",
                id="audmw.W001",
            )
        ]
    return []
