"""Decorators that only mark a view; the adapters read the marks and enforce them.

They return the object they are given, so they work in any order with a framework's route
decorator, on functions, coroutine functions, methods and classes alike. A mark the
framework's routes never reach cannot take effect: ``hidden_marks`` and ``unhandled_marks``
find those, so that adapters stop the app at start-up instead of dropping them silently.
"""

from __future__ import annotations

import contextlib
import functools
import weakref
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from typing import Any, Final, TypeVar

from audmw.requirements import DetailRequirement, Requirement

T = TypeVar("T")

_REQUIREMENT: Final = "__audmw_requirement__"
_PUBLIC: Final = "__audmw_public__"
_SEARCH_DEPTH = 4
_USER: Final = Requirement.of(kind="user")
_APP: Final = Requirement.of(kind="app")

# Every object a decorator marked, for start-up checks that look for marks no route reaches.
_marked: weakref.WeakSet[Any] = weakref.WeakSet()


def mark(target: T, requirement: Requirement) -> T:
    """Mark ``target`` as needing ``requirement`` too (what every decorator here does)."""
    _mark(target, requirement)
    return target


def _mark(target: Any, requirement: Requirement) -> None:
    # getattr also sees a mark inherited from a base class: a subclass marked again needs
    # both, so subclassing never loosens a requirement.
    current = getattr(target, _REQUIREMENT, None)
    setattr(target, _REQUIREMENT, requirement if current is None else current & requirement)
    _remember(target)


def _remember(target: Any) -> None:
    # Not weakly referable (a bound method, a partial): nothing to track.
    with contextlib.suppress(TypeError):
        _marked.add(target)


def _marker(requirement: Requirement) -> Callable[[T], T]:
    def decorate(target: T) -> T:
        _mark(target, requirement)
        return target

    return decorate


def require_scopes(
    *scopes: str, acr_values: Iterable[str] | None = None, max_age: int | None = None
) -> Callable[[T], T]:
    """The view needs a token carrying every one of ``scopes``; with ``acr_values`` or
    ``max_age``, also the user's authentication they name (``require_authentication``)."""
    return _marker(Requirement.of(all_of=scopes, acr_values=acr_values, max_age=max_age))


def require_any_scope(
    *scopes: str, acr_values: Iterable[str] | None = None, max_age: int | None = None
) -> Callable[[T], T]:
    """The view needs a token carrying at least one of ``scopes`` (and ``acr_values``,
    ``max_age`` as in ``require_scopes``)."""
    if not scopes:
        raise ValueError("require_any_scope() needs at least one scope")
    return _marker(Requirement.of(any_of=scopes, acr_values=acr_values, max_age=max_age))


def require_authentication(
    *, acr_values: Iterable[str] | None = None, max_age: int | None = None
) -> Callable[[T], T]:
    """The view needs a token whose user authenticated with one of ``acr_values`` (the
    ``acr`` claim), at most ``max_age`` seconds ago (the ``auth_time`` claim). A token that
    falls short gets RFC 9470's 401 ``insufficient_user_authentication`` challenge."""
    if acr_values is None and max_age is None:
        raise ValueError("require_authentication() needs acr_values, max_age or both")
    return _marker(Requirement.of(acr_values=acr_values, max_age=max_age))


def require_authorization_details(
    type: str, where: Callable[[Mapping[str, Any]], bool] | None = None
) -> Callable[[T], T]:
    """The view needs a token with an ``authorization_details`` entry (RFC 9396) of ``type``
    for which ``where(entry)`` returns True (any entry of the type without ``where``).

    ``where`` gets the entry as the token has it: check the types of the members it reads.
    An exception in it, or a result other than True, counts as not met.
    """
    return _marker(Requirement.of(details=[DetailRequirement(type, where)]))


def require_user(target: T) -> T:
    """The view needs a token issued for a user, never one a client obtained for itself
    (RFC 9700 §4.15); a token whose kind cannot be told is refused."""
    _mark(target, _USER)
    return target


def require_app(target: T) -> T:
    """The view needs a token a client obtained for itself (client credentials), never one
    issued for a user; a token whose kind cannot be told is refused."""
    _mark(target, _APP)
    return target


def public(target: T) -> T:
    """The view needs no token; the token is not even read."""
    setattr(target, _PUBLIC, True)
    _remember(target)
    return target


def is_public(target: object) -> bool:
    return getattr(target, _PUBLIC, False) is True


def requirement_of(target: object) -> Requirement | None:
    """The requirement marked on ``target`` (a view function, method or class), if any."""
    value = getattr(target, _REQUIREMENT, None)
    return value if isinstance(value, Requirement) else None


def marked_objects() -> list[Any]:
    """Every object marked so far (functions, classes, blueprints) that still exists."""
    return list(_marked)


def describe(target: object) -> str:
    """A name for ``target`` in a start-up message: module and qualified name."""
    name = getattr(target, "__qualname__", None) or getattr(target, "name", None)
    module = getattr(target, "__module__", None)
    if not isinstance(name, str):
        return repr(target)
    return f"{module}.{name}" if isinstance(module, str) else name


def _inner_callables(target: object) -> Iterator[object]:
    """What a decorated function may be hiding: ``__wrapped__``, partials, closure cells."""
    while isinstance(target, functools.partial):
        target = target.func
        yield target
    wrapped = getattr(target, "__wrapped__", None)
    if wrapped is not None:
        yield wrapped
    function = getattr(target, "__func__", target)  # a bound or class method
    for cell in getattr(function, "__closure__", None) or ():
        try:
            content = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if callable(content):
            yield content


def wrapped_callables(carriers: Iterable[object]) -> list[object]:
    """What the ``carriers`` of a route wrap (decorated functions, ``@api_view`` functions),
    a few levels deep; the carriers themselves excluded."""
    levels = tuple(carriers)
    seen = {id(level) for level in levels}
    found: list[object] = []

    def search(target: object, depth: int) -> None:
        for inner in _inner_callables(target):
            if id(inner) in seen:
                continue
            seen.add(id(inner))
            found.append(inner)
            if depth < _SEARCH_DEPTH:
                search(inner, depth + 1)

    for level in levels:
        search(level, 0)
    return found


def hidden_marks(carriers: Iterable[object]) -> list[object]:
    """Marked functions that ``carriers`` (the levels a route's marks are read from) wrap
    without carrying their requirement: a decorator above the mark hid it (DRF's
    ``@api_view`` over ``@require_scopes``, a decorator without ``functools.wraps``)."""
    levels = tuple(carriers)
    combined: Requirement | None = None
    for level in levels:
        found = requirement_of(level)
        if found is not None:
            combined = found if combined is None else combined & found
    hidden = []
    for inner in wrapped_callables(levels):
        needed = requirement_of(inner)
        if needed is not None and not (combined is not None and combined.includes(needed)):
            hidden.append(inner)
    return hidden


def unhandled_marks(view_class: type, handlers: Collection[str]) -> dict[str, object]:
    """Marked attributes of ``view_class`` (along its MRO) that the framework never calls,
    by name: only the class itself and its ``handlers`` are on the way to a request."""
    found: dict[str, object] = {}
    for klass in view_class.__mro__:
        for name, value in vars(klass).items():
            if name in handlers or name.startswith("__") or name in found:
                continue
            target = getattr(value, "__func__", value)  # staticmethod / classmethod
            if callable(target) and requirement_of(target) is not None:
                found[name] = target
    return found
