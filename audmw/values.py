"""Plain values shared by the settings and the provider presets, and by the log hints.

Parsers turn configuration input into normalised values: a string from the environment, or
a list, bool or number from code. Each raises ``ConfigurationError`` naming the setting.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from typing import Any

from audmw.errors import ConfigurationError

# In an issuer, stands for the token's ``tid`` claim (Entra ID multi-tenant issuers).
TENANT_PLACEHOLDER = "{tenantid}"
# How much of a value a token chose is shown in a log line or a hint.
SHOWN_CHARS = 80
SHOWN_ITEMS = 5

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def strings(value: Any, name: str) -> tuple[str, ...]:
    """A comma/space list from the environment, or any iterable of strings from code."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part for part in value.replace(",", " ").split() if part)
    if isinstance(value, Iterable) and not isinstance(value, bytes):
        items = tuple(value)
        if not all(isinstance(item, str) for item in items):
            raise ConfigurationError(f"audmw: {name} must be a string or a list of strings")
        return tuple(item.strip() for item in items if item.strip())
    raise ConfigurationError(f"audmw: {name} must be a string or a list of strings")


def comma_strings(value: Any, name: str) -> tuple[str, ...]:
    """Like ``strings``, but only commas separate (issuers and audiences are URIs)."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return strings(value, name)


def number(value: Any, name: str) -> float:
    """A finite number, from a number or its text."""
    if isinstance(value, bool):
        raise ConfigurationError(f"audmw: {name} must be a number of seconds, not {value!r}")
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"audmw: {name} must be a number, not {value!r}") from None
    if not math.isfinite(result):
        # NaN compares false with every limit, so it would pass any range check.
        raise ConfigurationError(f"audmw: {name} must be a finite number, not {value!r}")
    return result


def flag(value: Any, name: str) -> bool:
    """True or False, from a bool or ``1/true/yes/on`` and ``0/false/no/off/''``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE:
        return True
    if isinstance(value, str) and value.strip().lower() in _FALSE:
        return False
    raise ConfigurationError(f"audmw: {name} must be true or false, not {value!r}")


def optional_text(value: Any, name: str) -> str | None:
    """A string, stripped; None when absent or empty."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigurationError(f"audmw: {name} must be a string, not {type(value).__name__}")
    return value.strip() or None


def claim_strings(value: Any) -> tuple[str, ...]:
    """A claim that is a string or a list (``aud``), as its strings; anything else is none."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(item for item in value if isinstance(item, str))
    return ()


def close_names(name: str, known: Iterable[str]) -> tuple[str, ...]:
    """The known name that ``name`` is probably a misspelling of (letter case aside), if any."""
    spelled = {candidate.lower(): candidate for candidate in known}
    matches = difflib.get_close_matches(name.lower(), spelled, n=1, cutoff=0.6)
    return tuple(spelled[match] for match in matches)


def escaped(text: str) -> str:
    """``text`` with every control, formatting and non-printable character escaped as in
    ``repr``, without the quotes: a word a token chose, for a log line or a terminal."""
    if text.isprintable():
        return text
    return repr(text)[1:-1]


def shown(value: Any) -> str:
    """``repr`` of a value the token chose, cut short: a log line must not carry kilobytes."""
    text = repr(value)
    if len(text) <= SHOWN_CHARS:
        return text
    return f"{text[:SHOWN_CHARS]}… ({len(text)} characters)"
