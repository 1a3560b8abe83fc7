"""Decorators that only mark a view; the adapters read the marks and enforce them.

They return the object they are given, so they work in any order with a framework's route
decorator, on functions, coroutine functions, methods and classes alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

from audmw.requirements import Requirement

T = TypeVar("T")

_REQUIREMENT: Final = "__audmw_requirement__"
_PUBLIC: Final = "__audmw_public__"


def _mark(target: Any, requirement: Requirement) -> None:
    # getattr also sees a mark inherited from a base class: a subclass marked again needs
    # both, so subclassing never loosens a requirement.
    current = getattr(target, _REQUIREMENT, None)
    setattr(target, _REQUIREMENT, requirement if current is None else current & requirement)


def require_scopes(*scopes: str) -> Callable[[T], T]:
    """The view needs a token carrying every one of ``scopes``."""
    requirement = Requirement.of(all_of=scopes)

    def decorate(target: T) -> T:
        _mark(target, requirement)
        return target

    return decorate


def require_any_scope(*scopes: str) -> Callable[[T], T]:
    """The view needs a token carrying at least one of ``scopes``."""
    if not scopes:
        raise ValueError("require_any_scope() needs at least one scope")
    requirement = Requirement.of(any_of=scopes)

    def decorate(target: T) -> T:
        _mark(target, requirement)
        return target

    return decorate


def public(target: T) -> T:
    """The view needs no token; the token is not even read."""
    setattr(target, _PUBLIC, True)
    return target


def is_public(target: object) -> bool:
    return getattr(target, _PUBLIC, False) is True


def requirement_of(target: object) -> Requirement | None:
    """The requirement marked on ``target`` (a view function, method or class), if any."""
    value = getattr(target, _REQUIREMENT, None)
    return value if isinstance(value, Requirement) else None
