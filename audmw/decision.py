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
    "STANDARD_METHODS",
    "View",
    "ViewMarks",
    "decide",
    "handler_levels",
    "handler_name",
    "view_marks",
]

HTTP_METHODS = ("get", "head", "post", "put", "patch", "delete", "options", "trace", "query")
"""Handler names a class-based view may define (RFC 9110 §9, and QUERY)."""
STANDARD_METHODS = frozenset(method.upper() for method in HTTP_METHODS)
"""The methods whose decisions adapters remember: any other is the client's to make up."""

_MEMO_SIZE = 1024


class ViewMarks(NamedTuple):
    requirement: Requirement | None
    """Every requirement on the levels, combined; None when no level asks for one."""
    public: bool
    """A level is marked ``@public``."""
    marked_elsewhere: bool
    """A handler of the view for another method asks for a requirement."""


def _requirement(level: object) -> Requirement | None:
    return level if isinstance(level, Requirement) else requirement_of(level)


def _marks(levels: tuple[object, ...], others: tuple[object, ...]) -> ViewMarks:
    requirement: Requirement | None = None
    public = False
    for level in levels:
        found = _requirement(level)
        if found is not None:
            requirement = found if requirement is None else requirement & found
        public = public or is_public(level)
    elsewhere = any(_requirement(other) is not None for other in others)
    return ViewMarks(requirement, public, elsewhere)


_memo: dict[tuple[tuple[object, ...], tuple[object, ...]], ViewMarks] = {}


def view_marks(levels: tuple[object, ...], others: tuple[object, ...] = ()) -> ViewMarks:
    """The marks of a view's levels, remembered: views are the app's, not the client's."""
    key = (levels, others)
    try:
        found = _memo.get(key)
    except TypeError:  # a level that cannot be hashed: read its marks every time
        return _marks(levels, others)
    if found is None:
        found = _marks(levels, others)
        if len(_memo) >= _MEMO_SIZE:
            _memo.clear()
        _memo[key] = found
    return found


class View:
    """The view a request reaches, as levels of objects that may carry marks.

    ``levels`` go from the outermost (mount, blueprint) to the innermost (the method handler,
    the function); a level may also be a ``Requirement`` (a FastAPI security dependency).
    ``others`` are the view's handlers for other methods: a view that asks for a requirement
    on any of them is not opened by settings. ``answers`` is False when the view has no
    handler for the method (the framework or the view class answers 405): then the levels
    are empty and everything the view has is in ``others``. Marks are read when the view
    is made; adapters remember their views.
    """

    __slots__ = ("alone", "answers", "levels", "marks", "others")

    def __init__(
        self,
        levels: tuple[object, ...],
        others: tuple[object, ...] = (),
        *,
        answers: bool = True,
    ) -> None:
        self.levels = levels if answers else ()
        self.others = others if answers else (*levels, *others)
        self.answers = answers
        self.marks: ViewMarks = view_marks(self.levels, self.others)
        self.alone: Requirement | None = decide(self, False, None, False)
        """``decide`` for this view when no path rule, exempt path or preflight is involved."""

    @classmethod
    def unanswered(cls, *parts: object) -> View:
        """A view with no handler for the method; ``parts`` are everything it has."""
        return cls((), parts, answers=False)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, View)
            and other.levels == self.levels
            and other.others == self.others
            and other.answers == self.answers
        )

    def __hash__(self) -> int:
        return hash((self.levels, self.others, self.answers))

    def __repr__(self) -> str:
        return f"View(levels={self.levels!r}, others={self.others!r}, answers={self.answers})"


def decide(
    view: View | None, opened: bool, needed: Requirement | None, preflight: bool
) -> Requirement | None:
    """What a request must carry; None when it needs no token (its token is not even read).

    ``view`` is what the framework will call (None when no view is known: unknown URL, an
    answer the framework gives on its own); ``opened`` says an exempt path or public rule
    matched the path, ``needed`` is every applying scope rule combined; ``preflight`` is a
    CORS preflight the settings let through when no view answers it.
    """
    if view is None:
        if preflight or opened:
            return None
        return needed or ANY_VALID_TOKEN
    marks = view.marks
    if marks.requirement is not None:
        return marks.requirement if needed is None else marks.requirement & needed
    if preflight and not view.answers:
        return None
    if opened and not marks.marked_elsewhere:
        return None
    if needed is not None:
        return needed
    return None if marks.public else ANY_VALID_TOKEN


def handler_name(method: str, defined: Collection[str], *, head: bool = True) -> str | None:
    """The handler a class-based view dispatches ``method`` to, or None (it answers 405).

    ``defined`` are the handler names the view has (and may answer); every framework answers
    HEAD with the GET handler when there is no ``head`` of its own, unless HEAD is not among
    the methods the view allows (``head=False``: DRF's ``@api_view(["GET"])``).
    """
    name = method.lower()
    if name in defined:
        return name
    if name == "head" and head and "get" in defined:
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
