"""Which requirement a request must meet: the one rule, for every adapter.

An adapter lists the *levels* of marks on the way to the handler the framework will call
(mount, router or blueprint, class, ``dispatch``, the method handler, the function), and the
view's handlers for other methods. ``decide`` combines them with what the settings' rules
and exempt paths say of the path:

- requirements combine with AND, on every level and from every scope rule that applies;
- a view that asks for a requirement on the way is never opened, not by ``@public`` on
  another level, an exempt path, a public rule or a CORS preflight;
- an exempt path or public rule opens a view only if none of its handlers asks for a
  requirement; a scope rule on the path wins over ``@public``;
- everything else needs a valid token.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import NamedTuple

from audmw.marks import is_public, requirement_of
from audmw.requirements import ANY_VALID_TOKEN, Requirement

__all__ = [
    "HTTP_METHODS",
    "View",
    "ViewMarks",
    "decide",
    "handler_levels",
    "handler_name",
    "view_marks",
]

HTTP_METHODS = ("get", "head", "post", "put", "patch", "delete", "options", "trace", "query")
"""Handler names a class-based view may define (RFC 9110 §9, and QUERY)."""

_MEMO_SIZE = 1024


class View(NamedTuple):
    """The view a request reaches, as levels of objects that may carry marks.

    ``levels`` go from the outermost (mount, blueprint) to the innermost (the method handler,
    the function); a level may also be a ``Requirement`` (a FastAPI security dependency).
    ``others`` are the view's handlers for other methods: a view that asks for a requirement
    on any of them is not opened by settings.
    """

    levels: tuple[object, ...]
    others: tuple[object, ...] = ()


class ViewMarks(NamedTuple):
    requirement: Requirement | None
    """Every requirement on the levels, combined; None when no level asks for one."""
    public: bool
    """A level is marked ``@public``."""
    marked_elsewhere: bool
    """A handler of the view for another method asks for a requirement."""


def _requirement(level: object) -> Requirement | None:
    return level if isinstance(level, Requirement) else requirement_of(level)


def _marks(view: View) -> ViewMarks:
    requirement: Requirement | None = None
    public = False
    for level in view.levels:
        found = _requirement(level)
        if found is not None:
            requirement = found if requirement is None else requirement & found
        public = public or is_public(level)
    elsewhere = any(_requirement(other) is not None for other in view.others)
    return ViewMarks(requirement, public, elsewhere)


_memo: dict[View, ViewMarks] = {}


def view_marks(view: View) -> ViewMarks:
    """The marks of ``view``, remembered: views are the app's, not the client's to make up."""
    try:
        found = _memo.get(view)
    except TypeError:  # a level that cannot be hashed: read its marks every time
        return _marks(view)
    if found is None:
        found = _marks(view)
        if len(_memo) >= _MEMO_SIZE:
            _memo.clear()
        _memo[view] = found
    return found


def decide(
    marks: ViewMarks | None,
    *,
    opened: bool,
    needed: Requirement | None,
    preflight: bool = False,
) -> Requirement | None:
    """What a request must carry; None when it needs no token (its token is not even read).

    ``marks`` are the view's (None when no view answers: unknown URL, wrong method, an
    answer the framework gives on its own); ``opened`` says an exempt path or public rule
    matched the path, ``needed`` is every applying scope rule combined; ``preflight`` is a
    CORS preflight the settings let through when no view answers it.
    """
    if marks is None:
        if preflight or opened:
            return None
        return needed or ANY_VALID_TOKEN
    if marks.requirement is not None:
        return marks.requirement if needed is None else marks.requirement & needed
    if opened and not marks.marked_elsewhere:
        return None
    if needed is not None:
        return needed
    return None if marks.public else ANY_VALID_TOKEN


def handler_name(method: str, defined: Collection[str]) -> str | None:
    """The handler a class-based view dispatches ``method`` to, or None (it answers 405).

    ``defined`` are the handler names the view has (and may answer); every framework answers
    HEAD with the GET handler when there is no ``head`` of its own.
    """
    name = method.lower()
    if name in defined:
        return name
    if name == "head" and "get" in defined:
        return "get"
    return None


def handler_levels(view_class: type, *names: str) -> tuple[object, ...]:
    """The class and its attributes ``names`` (``dispatch``, the handler) in every class of
    its MRO, base classes first: a subclass that overrides a marked handler keeps the mark."""
    levels: list[object] = [view_class]
    for name in names:
        for klass in reversed(view_class.__mro__):
            found = klass.__dict__.get(name)
            if found is not None:
                levels.append(found)
    return tuple(levels)
