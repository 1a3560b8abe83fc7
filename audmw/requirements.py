"""What a route needs from a valid token: scopes (all of some, one of each any-of group), how
recently and how strongly the user authenticated (RFC 9470), ``authorization_details``
entries (RFC 9396), and whether a user or a client acting on its own holds it (RFC 9700
§4.15)."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from audmw import diagnostics
from audmw.errors import (
    ConfigurationError,
    InsufficientAuthorizationDetails,
    InsufficientScope,
    InsufficientUserAuthentication,
    WrongTokenKind,
)

if TYPE_CHECKING:
    from audmw.token import AccessToken

TokenKind = Literal["user", "app"]
TOKEN_KINDS: tuple[TokenKind, ...] = ("user", "app")

# RFC 6750 §3: scope tokens are %x21 / %x23-5B / %x5D-7E, so they can go into the challenge.
# ACR values and authorization details types go into challenges and logs the same way.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
# How far in the future an ``auth_time`` may lie (clocks differ) before it counts as broken.
AUTH_TIME_SKEW = 60


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


def _acr_set(values: Iterable[str] | None) -> frozenset[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = values.split()
    result = frozenset(values)
    if not result:
        raise ConfigurationError(
            "audmw: acr_values is empty: name the authentication context classes that will "
            "do (any one of them), or leave acr_values out"
        )
    for value in result:
        if not isinstance(value, str) or not _SCOPE_TOKEN.fullmatch(value):
            raise ConfigurationError(
                f"audmw: {value!r} is not a valid acr value (no spaces, quotes or backslashes)"
            )
    return result


def _max_age(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"audmw: max_age must be a number of seconds, not {value!r}")
    if not math.isfinite(value) or value < 0 or value != int(value):
        raise ConfigurationError(
            f"audmw: max_age must be a whole number of seconds, 0 or more, not {value!r}"
        )
    return int(value)


def _kinds(value: object) -> frozenset[TokenKind]:
    if value is None:
        return frozenset()
    if value == "user":
        return frozenset({"user"})
    if value == "app":
        return frozenset({"app"})
    raise ConfigurationError(f"audmw: token kind must be 'user' or 'app', not {value!r}")


@dataclass(frozen=True)
class DetailRequirement:
    """An ``authorization_details`` entry of ``type`` for which ``where(entry)`` is true
    (any entry of the type when ``where`` is None)."""

    type: str
    where: Callable[[Mapping[str, Any]], bool] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.type, str) or not _SCOPE_TOKEN.fullmatch(self.type):
            raise ConfigurationError(
                f"audmw: {self.type!r} is not a valid authorization details type "
                "(no spaces, quotes or backslashes)"
            )
        if self.where is not None and not callable(self.where):
            raise ConfigurationError(
                f"audmw: the condition on {self.type!r} entries must be a function of the "
                f"entry returning True or False, not {self.where!r}"
            )

    def describe(self) -> str:
        if self.where is None:
            return self.type
        name = getattr(self.where, "__qualname__", None) or type(self.where).__name__
        return f"{self.type} where {name}"

    def met_by(self, entries: Iterable[Mapping[str, Any]]) -> tuple[bool, str | None]:
        """Whether an entry satisfies this; the second value says why a condition failed."""
        problem = None
        for entry in entries:
            if entry.get("type") != self.type:
                continue
            if self.where is None:
                return True, None
            try:
                result = self.where(entry)
            except Exception as error:  # the app's condition on a value the token chose
                # Only the exception type: its message may quote the token's values.
                problem = f"the condition raised {type(error).__name__}"
                continue
            if result is True:
                return True, None
            if result is not False:
                problem = f"the condition returned {type(result).__name__}, not True or False"
        return False, problem


def _by_type(detail: DetailRequirement) -> tuple[str, str]:
    return detail.type, detail.describe()


@dataclass(frozen=True)
class Requirement:
    """What a route needs. The empty requirement means "any valid token for this API".

    ``acr_values``: the token's ``acr`` must be one of them (None: no such requirement; the
    empty set, from combining requirements with nothing in common, refuses every token).
    ``max_age``: the user authenticated (``auth_time``) at most this many seconds ago.
    ``details``: ``authorization_details`` entries the token must carry. ``kinds``: who
    the token must be for (``user``, ``app``).
    """

    all_of: frozenset[str] = frozenset()
    any_of: tuple[frozenset[str], ...] = ()
    acr_values: frozenset[str] | None = None
    max_age: int | None = None
    details: frozenset[DetailRequirement] = frozenset()
    kinds: frozenset[TokenKind] = frozenset()
    # Whether anything besides scopes is asked: the usual requirement checks scopes only.
    _beyond_scopes: bool = field(default=False, init=False, repr=False, compare=False)
    # The details in a stable order, sorted once: refusals name them in that order.
    _sorted_details: tuple[DetailRequirement, ...] = field(
        default=(), init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        beyond = bool(
            self.kinds or self.details or self.acr_values is not None or self.max_age is not None
        )
        object.__setattr__(self, "_beyond_scopes", beyond)
        object.__setattr__(self, "_sorted_details", tuple(sorted(self.details, key=_by_type)))

    @classmethod
    def of(
        cls,
        all_of: Iterable[str] = (),
        any_of: Iterable[str] = (),
        *,
        acr_values: Iterable[str] | None = None,
        max_age: int | None = None,
        details: Iterable[DetailRequirement] = (),
        kind: TokenKind | None = None,
    ) -> Requirement:
        group = _scope_set(any_of)
        found = frozenset(details)
        for detail in found:
            if not isinstance(detail, DetailRequirement):
                raise ConfigurationError(f"audmw: {detail!r} is not a DetailRequirement")
        return cls(
            _scope_set(all_of),
            (group,) if group else (),
            _acr_set(acr_values),
            _max_age(max_age),
            found,
            _kinds(kind),
        )

    def __and__(self, other: Requirement) -> Requirement:
        """Both requirements (a blueprint's and a route's, a class's and a method's).

        The result does not depend on the order: any-of groups are kept sorted, so the
        challenge names the same scopes in the same order whichever level came first. Both
        ``acr_values`` must be met: the values in common; both ages: the shorter one.
        """
        groups = tuple(sorted(set(self.any_of + other.any_of), key=sorted))
        if self.acr_values is None or other.acr_values is None:
            acr = self.acr_values if other.acr_values is None else other.acr_values
        else:
            acr = self.acr_values & other.acr_values
        if self.max_age is None or other.max_age is None:
            age = self.max_age if other.max_age is None else other.max_age
        else:
            age = min(self.max_age, other.max_age)
        return Requirement(
            self.all_of | other.all_of,
            groups,
            acr,
            age,
            self.details | other.details,
            self.kinds | other.kinds,
        )

    def includes(self, other: Requirement) -> bool:
        """Whether meeting this requirement always meets ``other`` too."""
        return (
            other.all_of <= self.all_of
            and all(
                group & self.all_of or any(mine <= group for mine in self.any_of)
                for group in other.any_of
            )
            and (
                other.acr_values is None
                or (self.acr_values is not None and self.acr_values <= other.acr_values)
            )
            and (
                other.max_age is None
                or (self.max_age is not None and self.max_age <= other.max_age)
            )
            and other.details <= self.details
            and other.kinds <= self.kinds
        )

    def __bool__(self) -> bool:
        return bool(
            self.all_of
            or self.any_of
            or self.acr_values is not None
            or self.max_age is not None
            or self.details
            or self.kinds
        )

    @property
    def steps_up(self) -> bool:
        """Whether the requirement asks about the user's authentication (RFC 9470)."""
        return self.acr_values is not None or self.max_age is not None

    def check(self, token: AccessToken, now: float | None = None) -> None:
        """Raise the refusal naming what is needed when ``token`` falls short.

        The kind of token first (no other token of the same kind can help), then the
        user's authentication (401: the client asks the user to authenticate again, and
        can ask for the missing scopes at the same time), then scopes, then authorization
        details (403).
        """
        if self._beyond_scopes:
            if self.kinds:
                self._check_kind(token)
            if self.acr_values is not None or self.max_age is not None:
                self._check_authentication(token, time.time() if now is None else now)
        granted = token.scopes
        if not self.all_of <= granted or (
            self.any_of and not all(group & granted for group in self.any_of)
        ):
            self._refuse_scopes(token)
        if self.details:
            self._check_details(token)

    def _check_kind(self, token: AccessToken) -> None:
        kind = token.kind
        for needed in TOKEN_KINDS:
            if needed in self.kinds and kind != needed:
                told = (
                    "cannot be told"
                    if kind is None
                    else f"is for {'a user' if kind == 'user' else 'the client itself'}"
                )
                conflict = (
                    "; the route asks for both a user and an app token"
                    if len(self.kinds) > 1
                    else ""
                )
                raise WrongTokenKind(needed, hint=f"the token {told}{conflict}")

    def _check_authentication(self, token: AccessToken, now: float) -> None:
        acr = token.authentication_context
        accepted = self.acr_values is None or (acr is not None and acr in self.acr_values)
        if accepted and self.max_age is not None:
            auth_time = token.authenticated_at
            if auth_time is not None and auth_time - AUTH_TIME_SKEW <= now:
                accepted = now - auth_time <= self.max_age
            else:
                accepted = False
        if accepted:
            return
        self._refuse_authentication(token, acr, now)

    def _refuse_authentication(self, token: AccessToken, acr: str | None, now: float) -> None:
        # (reason code, what is wrong), the first one names the refusal.
        problems: list[tuple[str, str]] = []
        if self.acr_values is not None and (acr is None or acr not in self.acr_values):
            if self.acr_values:
                shown_acr = diagnostics.shown(acr) if acr is not None else "(none)"
                problem = f"acr {shown_acr} is not one of {' '.join(sorted(self.acr_values))}"
            else:
                problem = "the requirements on the way name acr values with nothing in common"
            problems.append(("acr_not_accepted", problem))
        if self.max_age is not None:
            auth_time = token.authenticated_at
            if auth_time is None:
                problems.append(
                    ("auth_time_missing", "the token has no auth_time to compare with max_age")
                )
            elif auth_time - AUTH_TIME_SKEW > now:
                problems.append(
                    ("auth_time_in_future", f"auth_time is {int(auth_time - now)} s in the future")
                )
            elif now - auth_time > self.max_age:
                problems.append(
                    (
                        "authentication_too_old",
                        f"the user authenticated {int(now - auth_time)} s ago, more than "
                        f"max_age {self.max_age} s",
                    )
                )
        if not problems:  # never accept here: the caller found the authentication short
            reason = "acr_not_accepted" if self.acr_values is not None else "auth_time_missing"
            problems.append((reason, "the user's authentication does not meet the requirement"))
        reason = problems[0][0]
        asked = []
        if self.acr_values:
            asked.append(f"acr_values={' '.join(sorted(self.acr_values))}")
        if self.max_age is not None:
            asked.append(f"max_age={self.max_age}")
        fix = (
            "; the client must ask the authorization server for a new token with "
            + " and ".join(asked)
            if asked
            else "; no token can meet it: fix the marks or rules"
        )
        raise InsufficientUserAuthentication(
            reason,
            acr_values=tuple(sorted(self.acr_values or ())),
            max_age=self.max_age,
            description=(
                "A more recent authentication is required"
                if reason in ("auth_time_missing", "authentication_too_old")
                else None
            ),
            hint="; ".join(problem for _, problem in problems) + fix,
        )

    def _refuse_scopes(self, token: AccessToken) -> None:
        granted = token.scopes
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

    def _check_details(self, token: AccessToken) -> None:
        entries = token.authorization_details
        unmet = []
        problems = []
        for detail in self._sorted_details:
            met, problem = detail.met_by(entries)
            if not met:
                unmet.append(detail)
                if problem:
                    problems.append(f"{detail.describe()}: {problem}")
        if not unmet:
            return
        present = sorted({str(entry["type"]) for entry in entries})
        raise InsufficientAuthorizationDetails(
            tuple(dict.fromkeys(detail.type for detail in unmet)),
            hint="needs an authorization_details entry "
            + "; and one ".join(detail.describe() for detail in unmet)
            + "; token has "
            + (("types " + diagnostics.shown_words(present)) if present else "none")
            + ("; " + "; ".join(problems) if problems else ""),
        )

    def describe(self) -> str:
        words = sorted(self.all_of)
        words += ["(" + " | ".join(sorted(group)) + ")" for group in self.any_of]
        if self.acr_values is not None:
            words.append("acr (" + " | ".join(sorted(self.acr_values)) + ")")
        if self.max_age is not None:
            words.append(f"max_age {self.max_age}")
        words += [
            f"authorization_details {detail.describe()}"
            for detail in sorted(self.details, key=_by_type)
        ]
        words += [f"{kind} token" for kind in sorted(self.kinds)]
        return " ".join(words) or "any valid token"


ANY_VALID_TOKEN = Requirement()


def acr_values_of(requirements: Iterable[Requirement | None]) -> tuple[str, ...]:
    """Every acr value the ``requirements`` accept, sorted: RFC 9728's
    ``acr_values_supported`` for a resource whose routes ask for them."""
    found: set[str] = set()
    for requirement in requirements:
        if requirement is not None and requirement.acr_values is not None:
            found.update(requirement.acr_values)
    return tuple(sorted(found))


def authorization_details_types_of(requirements: Iterable[Requirement | None]) -> tuple[str, ...]:
    """Every ``authorization_details`` type the ``requirements`` ask for, sorted: RFC 9728's
    ``authorization_details_types_supported``."""
    found: set[str] = set()
    for requirement in requirements:
        if requirement is not None:
            found.update(detail.type for detail in requirement.details)
    return tuple(sorted(found))
