"""Path patterns and settings-declared rules, for routes one cannot decorate."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from audmw.errors import ConfigurationError
from audmw.requirements import Requirement


def compile_path_pattern(pattern: str, *, any_trailing_slash: bool = False) -> re.Pattern[str]:
    """``/a/*/c`` matches one path segment at ``*``; ``/docs/**`` matches anything below.

    A trailing ``/**`` also matches the bare prefix (``/docs``). With ``any_trailing_slash``,
    ``/a`` and ``/a/`` match both ``/a`` and ``/a/``.
    """
    if not pattern.startswith("/"):
        raise ConfigurationError(f"audmw: path pattern {pattern!r} must start with '/'")
    body = pattern
    tail = ""
    if body.endswith("/**"):
        body, tail = body[:-3], "(?:/.*)?"
    elif any_trailing_slash and body != "/":
        body, tail = body.removesuffix("/"), "/?"
    parts = re.split(r"(\*\*|\*)", body)
    regex = "".join(
        ".*" if part == "**" else "[^/]*" if part == "*" else re.escape(part) for part in parts
    )
    return re.compile(regex + tail)


@dataclass(frozen=True)
class Rule:
    """Scopes (or no token at all) required for requests whose method and path match."""

    path: str
    methods: frozenset[str] = frozenset()  # empty: every method
    requirement: Requirement = field(default_factory=Requirement)
    public: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "methods", frozenset(m.upper() for m in self.methods))
        # Routers differ on trailing slashes (Django's "api/admin/", Flask's strict_slashes):
        # a rule that asks for scopes covers both spellings, so a slash never drops it. A
        # public rule, like an exempt path, matches only as written.
        regex = compile_path_pattern(self.path, any_trailing_slash=not self.public)
        object.__setattr__(self, "_regex", regex)

    @classmethod
    def from_mapping(cls, data: Any) -> Rule:
        if not isinstance(data, Mapping) or "path" not in data:
            raise ConfigurationError(f"audmw: a rule needs at least a 'path': {data!r}")
        unknown = set(data) - {"path", "methods", "method", "scopes", "any_scopes", "public"}
        if unknown:
            raise ConfigurationError(
                f"audmw: unknown keys in rule {data!r}: {', '.join(sorted(unknown))}"
            )
        methods: Iterable[str] = data.get("methods") or ()
        if isinstance(methods, str):
            methods = methods.replace(",", " ").split()
        if "method" in data:
            methods = [*methods, str(data["method"])]
        requirement = Requirement.of(data.get("scopes") or (), data.get("any_scopes") or ())
        return cls(
            path=str(data["path"]),
            methods=frozenset(methods),
            requirement=requirement,
            public=bool(data.get("public", False)),
        )

    def matches(self, method: str, path: str) -> bool:
        method = method.upper()
        # Every framework answers HEAD with the GET view: a GET rule must hold for HEAD too.
        methods = self.methods
        if methods and method not in methods and not (method == "HEAD" and "GET" in methods):
            return False
        regex: re.Pattern[str] = object.__getattribute__(self, "_regex")
        return regex.fullmatch(path) is not None
