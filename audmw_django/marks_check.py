"""System checks ``audmw.E010``-``E012``: every mark on the URLconf's views can take effect.

A ``@require_scopes`` that no request can reach is a requirement dropped silently: under
DRF's ``@api_view`` (or another decorator without ``functools.wraps``), on a method that is
not a handler, or on a view no URL pattern leads to. ``manage.py check`` (and so
``runserver`` and ``migrate``) reports each with the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error, Tags, register
from django.urls import get_resolver

from audmw.decision import HTTP_METHODS
from audmw.marks import (
    describe,
    hidden_marks,
    marked_objects,
    unhandled_marks,
    wrapped_callables,
)
from audmw_django.middleware import url_views, view_of


def _view_class(view_func: Any) -> type | None:
    found = getattr(view_func, "view_class", None) or getattr(view_func, "cls", None)
    return found if isinstance(found, type) else None


def _handlers(view_func: Any, view_class: type) -> set[str]:
    """The attribute names Django (or DRF) calls on ``view_class`` for this route."""
    actions = getattr(view_func, "actions", None)
    if isinstance(actions, dict):
        names = {str(action) for action in actions.values()}
    else:
        allowed = getattr(view_class, "http_method_names", HTTP_METHODS)
        names = {name for name in allowed if getattr(view_class, name, None) is not None}
    return names | {"dispatch"}


def lost_marks(routes: Sequence[tuple[str, Any]]) -> list[CheckMessage]:
    """The problems with the marks of ``routes`` (route, view function)."""
    problems: list[CheckMessage] = []
    reached: set[int] = set()
    modules: set[str] = set()
    handlers: dict[type, set[str]] = {}
    reported: set[int] = set()
    for route, view_func in routes:
        view_class = _view_class(view_func)
        methods = HTTP_METHODS if view_class is not None else ("get",)
        carriers: list[object] = []
        for method in methods:
            view = view_of(view_func, method.upper())
            carriers.extend(view.levels)
            carriers.extend(view.others)
        reached.update(id(carrier) for carrier in carriers)
        reached.update(id(inner) for inner in wrapped_callables(carriers))
        modules.update(
            module
            for module in (
                getattr(view_func, "__module__", None),
                getattr(view_class, "__module__", None),
            )
            if isinstance(module, str)
        )
        if view_class is not None:
            handlers.setdefault(view_class, set()).update(_handlers(view_func, view_class))
        for hidden in hidden_marks(carriers):
            if id(hidden) in reported:
                continue
            reported.add(id(hidden))
            problems.append(
                Error(
                    f"the mark on {describe(hidden)} cannot take effect: a decorator above it "
                    "hides the function from audmw (DRF's @api_view, or a decorator without "
                    "functools.wraps).",
                    hint="Put @require_scopes / @require_any_scope above @api_view and the "
                    "other decorators, or make those decorators use functools.wraps.",
                    obj=route,
                    id="audmw.E010",
                )
            )
    for view_class, names in handlers.items():
        for name, target in unhandled_marks(view_class, names).items():
            reported.add(id(target))
            problems.append(
                Error(
                    f"the mark on {describe(view_class)}.{name} cannot take effect: {name} is "
                    "not a handler any route calls (" + ", ".join(sorted(names)) + ").",
                    hint="Mark the class, or a method handler (get, post, ...) or an action "
                    "that a route reaches.",
                    obj=describe(view_class),
                    id="audmw.E011",
                )
            )
    for target in marked_objects():
        module = getattr(target, "__module__", None)
        if id(target) in reached or id(target) in reported or module not in modules:
            continue
        if isinstance(target, type) or callable(target):
            problems.append(
                Error(
                    f"no URL pattern reaches {describe(target)}, so its mark cannot take effect.",
                    hint="Route it in the URLconf, or remove it (or its mark).",
                    obj=describe(target),
                    id="audmw.E012",
                )
            )
    return problems


@register(Tags.security, Tags.urls)
def check_marks(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    """``audmw.E010``-``E012``: the URLconf's marks can all take effect."""
    try:
        patterns = get_resolver().url_patterns
    except Exception:  # Django's own URL checks report a URLconf that does not load
        return []
    return lost_marks(list(url_views(patterns)))
