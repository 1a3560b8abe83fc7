"""Applying the table's marks with one framework's own decorators."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, TypeVar

from contract import spec

T = TypeVar("T")


class Decorators(NamedTuple):
    """``public``, ``require_scopes`` and ``require_any_scope`` as one adapter exports them."""

    public: Callable[[Any], Any]
    require_scopes: Callable[..., Callable[[Any], Any]]
    require_any_scope: Callable[..., Callable[[Any], Any]]


def apply(target: T, marks: Iterable[spec.Mark], decorators: Decorators) -> T:
    for mark in marks:
        if mark.kind == spec.PUBLIC:
            decorators.public(target)
        elif mark.kind == spec.ALL:
            decorators.require_scopes(*mark.scopes)(target)
        else:
            decorators.require_any_scope(*mark.scopes)(target)
    return target


def level_marks(case: spec.Case, level: str) -> tuple[spec.Mark, ...]:
    """The mark ``case`` puts on ``level``, if any."""
    mark = case.mark(level)
    return () if mark is None else (spec.Mark.on(level, mark),)


def apply_level(target: T, case: spec.Case, level: str, decorators: Decorators) -> T:
    return apply(target, level_marks(case, level), decorators)
