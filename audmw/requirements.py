"""What a route needs from a valid token: all of some scopes, and one of each any-of group."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from audmw import diagnostics
from audmw.errors import ConfigurationError, InsufficientScope

if TYPE_CHECKING:
    from audmw.token import AccessToken

# RFC 6750 §3: scope tokens are %x21 / %x23-5B / %x5D-7E, so they can go into the challenge.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


def _scope_set(scopes: Iterable[str]) -> frozenset[str]:
    if isinstance(scopes, str):
        scopes = scopes.split()
    result = frozenset(scopes)
    for scope in result:
        if not isinstance(scope, str) or not _SCOPE_TOKEN.fullmatch(scope):
            raise ConfigurationError(
                f"audmw: {scope!r} is not a valid scope (no spaces, quotes or backslashes)"
            )
    return result


@dataclass(frozen=True)
class Requirement:
    """Scopes a route needs. The empty requirement means "any valid token for this API"."""

    all_of: frozenset[str] = frozenset()
    any_of: tuple[frozenset[str], ...] = ()

    @classmethod
    def of(cls, all_of: Iterable[str] = (), any_of: Iterable[str] = ()) -> Requirement:
        group = _scope_set(any_of)
        return cls(_scope_set(all_of), (group,) if group else ())

    def __and__(self, other: Requirement) -> Requirement:
        """Both requirements (a blueprint's and a route's, a class's and a method's).

        The result does not depend on the order: any-of groups are kept sorted, so the
        challenge names the same scopes in the same order whichever level came first.
        """
        groups = tuple(sorted(set(self.any_of + other.any_of), key=sorted))
        return Requirement(self.all_of | other.all_of, groups)

    def includes(self, other: Requirement) -> bool:
        """Whether meeting this requirement always meets ``other`` too."""
        return other.all_of <= self.all_of and all(
            group & self.all_of or any(mine <= group for mine in self.any_of)
            for group in other.any_of
        )

    def __bool__(self) -> bool:
        return bool(self.all_of or self.any_of)

    def check(self, token: AccessToken) -> None:
        """Raise ``InsufficientScope`` naming what is needed when the token falls short."""
        granted = token.scopes
        if self.all_of <= granted and (
            not self.any_of or all(group & granted for group in self.any_of)
        ):
            return
        missing = sorted(self.all_of - granted)
        alternatives = [sorted(group) for group in self.any_of if not group & granted]
        needed = sorted(self.all_of) + [s for group in alternatives for s in group]
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing))
        for group in alternatives:
            parts.append("needs one of " + ", ".join(group))
        raise InsufficientScope(
            tuple(dict.fromkeys(needed)),
            hint="token scopes "
            + (diagnostics.shown_words(sorted(granted)) or "(none)")
            + "; "
            + "; ".join(parts),
        )

    def describe(self) -> str:
        words = sorted(self.all_of)
        words += ["(" + " | ".join(sorted(group)) + ")" for group in self.any_of]
        return " ".join(words) or "any valid token"


ANY_VALID_TOKEN = Requirement()
