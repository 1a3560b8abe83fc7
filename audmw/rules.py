"""Path patterns, settings-declared rules and their compiled matcher (routes one cannot decorate).

Two kinds of path decision fail in opposite directions, so they match differently:

- A **scope rule** must hold for every spelling of a path a router might serve with the same
  view: with dot-segments removed, with runs of ``/`` collapsed, in any case, with or without a
  trailing slash. Applying a requirement to more paths than asked is safe; to fewer is the bug.
- An **opening** (an exempt path, a public rule) lets a request through without a token, so it
  matches only the path exactly as written, and only a canonical one.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import unquote

from audmw.errors import ConfigurationError
from audmw.requirements import ANY_VALID_TOKEN, DetailRequirement, Requirement

_MEMO_SIZE = 1024
# Longer keys are decided without being remembered: the memo's memory stays bounded too.
_MEMO_KEY_CHARS = 2048

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Characters a path as routers see it never holds: the query and fragment are split off,
# percent-escapes decoded, and whitespace or control characters are refused or escaped.
_NOT_IN_A_PATH = re.compile(r"[?#%\\\s\x00-\x1f\x7f-\x9f]")
_METHOD_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 §5.6.2
_SLASHES = re.compile(r"/{2,}")
_WILDCARD = re.compile(r"(\*\*|\*)")

# Non-ASCII characters that ``re.IGNORECASE`` matches with an ASCII letter: a path segment is
# looked up in the rule index under the same key its letters would match.
_ASCII_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


def has_control_characters(path: str) -> bool:
    """Whether ``path`` holds a C0 control character or DEL (refuse such a request with 400)."""
    # A printable string holds none; only the others need the slower search.
    return not path.isprintable() and _CONTROL.search(path) is not None


def _refuse_pattern(pattern: str, problem: str, fix: str) -> ConfigurationError:
    return ConfigurationError(f"audmw: path pattern {pattern!r} {problem}; {fix}")


def _check_pattern(pattern: object) -> str:
    """``pattern`` if a router could ever see a path it matches, else ``ConfigurationError``."""
    if not isinstance(pattern, str):
        raise ConfigurationError(f"audmw: a path pattern must be a string, not {pattern!r}")
    if not pattern.startswith("/"):
        raise _refuse_pattern(pattern, "must start with '/'", f"write {'/' + pattern!r}")
    bad = _NOT_IN_A_PATH.search(pattern)
    if bad:
        char = bad.group()
        if char in "?#":
            fix = "patterns match the path only, never a query or fragment: "
            fix += f"write {pattern[: bad.start()]!r}"
        elif char == "%" and not _NOT_IN_A_PATH.search(decoded := unquote(pattern)):
            try:
                _check_pattern(decoded)
            except ConfigurationError as problem:
                raise ConfigurationError(
                    f"audmw: path pattern {pattern!r} holds '%': paths are matched decoded, "
                    f"and decoded {str(problem).removeprefix('audmw: path pattern ')}"
                ) from None
            fix = f"paths are matched decoded: write {decoded!r}"
        elif char == "%":
            fix = "paths are matched decoded, and a pattern cannot name that character: "
            fix += "match it with '*'"
        elif char == "\\":
            fix = f"segments are separated by '/': write {pattern.replace(chr(92), '/')!r}"
        else:
            fix = f"remove the whitespace or control character {char!r} at position "
            fix += f"{bad.start()}, or match it with '*'"
        raise _refuse_pattern(pattern, f"holds {char!r}", fix)
    segments = pattern[1:].split("/")
    for index, segment in enumerate(segments):
        if segment in {".", ".."}:
            raise _refuse_pattern(
                pattern,
                f"has a {segment!r} segment, which routers remove before matching",
                f"write {_remove_dot_segments(pattern)!r}",
            )
        if segment == "" and index < len(segments) - 1:
            raise _refuse_pattern(
                pattern, "has an empty segment ('//')", f"write {_SLASHES.sub('/', pattern)!r}"
            )
        if "**" in segment and segment != "**":
            raise _refuse_pattern(
                pattern,
                f"uses '**' inside the segment {segment!r}",
                "'**' must be a whole segment ('/a/**'); use '*' for part of a segment "
                f"(write {re.sub(r'[*]+', '*', segment)!r})",
            )
    return pattern


def _pattern_regex(pattern: str, any_trailing_slash: bool) -> str:
    body, tail = pattern, ""
    if body.endswith("/**"):
        body, tail = body[:-3], "(?:/.*)?"
    elif any_trailing_slash and body != "/":
        body, tail = body.removesuffix("/"), "/?"
    regex = "".join(
        ".*" if part == "**" else "[^/]*" if part == "*" else re.escape(part)
        for part in _WILDCARD.split(body)
    )
    # \A and \Z: a newline (or any character) never ends a match early, whatever the call.
    return r"\A" + regex + tail + r"\Z"


def compile_path_pattern(pattern: str, *, any_trailing_slash: bool = False) -> re.Pattern[str]:
    """``/a/*/c`` matches one path segment at ``*``; ``/docs/**`` matches anything below.

    A trailing ``/**`` also matches the bare prefix (``/docs``). With ``any_trailing_slash``,
    ``/a`` and ``/a/`` match both ``/a`` and ``/a/``. Patterns that could never match a path as
    routers see it (relative, with ``?``, ``#``, ``%``, ``\\``, whitespace, control characters,
    ``.``/``..`` or empty segments, ``**`` inside a segment) raise ``ConfigurationError``.
    """
    return re.compile(_pattern_regex(_check_pattern(pattern), any_trailing_slash), re.DOTALL)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 for an absolute path: ``/a/./b/../c`` is ``/a/c``."""
    segments = path[1:].split("/")
    output: list[str] = []
    last = len(segments) - 1
    for index, segment in enumerate(segments):
        if segment == "..":
            if output:
                output.pop()
        elif segment != ".":
            output.append(segment)
            continue
        if index == last:
            output.append("")  # "/a/." and "/a/b/.." end in a slash
    return "/" + "/".join(output)


def _is_canonical(path: str) -> bool:
    """Absolute, without control characters, ``.``/``..`` segments or empty segments."""
    if not path.startswith("/") or has_control_characters(path):
        return False
    if "//" in path:
        return False
    if "/." not in path:
        return True
    segments = path.split("/")
    return "." not in segments and ".." not in segments


def _path_forms(path: str, canonical: bool) -> tuple[str, ...]:
    """Every spelling of ``path`` a router or a normalising view may take it for."""
    if canonical:
        return (path,)
    absolute = path if path.startswith("/") else "/" + path
    bases = [absolute]
    if absolute.endswith("\n"):
        bases.append(absolute[:-1])  # a route regex's '$' matches before a final newline
    forms = dict.fromkeys([path])
    for base in bases:
        undotted = _remove_dot_segments(base)
        collapsed = _SLASHES.sub("/", base)
        for form in (
            base,
            undotted,
            collapsed,
            _remove_dot_segments(collapsed),
            _SLASHES.sub("/", undotted),
        ):
            forms[form] = None
    return tuple(forms)


def _case_key(segment: str) -> str:
    """The index key of a segment: an ASCII pattern segment's key is also the key of every
    spelling ``re.IGNORECASE`` matches with it (non-ASCII pattern segments are not indexed)."""
    if segment.isascii():
        return segment.lower()
    return segment.translate(_ASCII_FOLD).lower()


def _literal_prefix(pattern: str) -> list[str]:
    """The leading segments of ``pattern`` that hold no wildcard, as written."""
    prefix = []
    for segment in pattern[1:].split("/"):
        if "*" in segment or segment == "":
            break
        prefix.append(segment)
    return prefix


def _methods_applied(methods: frozenset[str]) -> frozenset[str]:
    # Every framework answers HEAD with the GET view: a GET rule must hold for HEAD too.
    return methods | {"HEAD"} if "GET" in methods else methods


@dataclass(frozen=True)
class Rule:
    """Scopes (or no token at all) required for requests whose method and path match.

    A scope rule holds for every form of a matching path (see ``PathRules``); a public rule
    opens only canonical paths its pattern matches exactly.
    """

    path: str
    methods: frozenset[str] = frozenset()  # empty: every method
    requirement: Requirement = field(default_factory=Requirement)
    public: bool = False

    def __post_init__(self) -> None:
        _check_pattern(self.path)
        if isinstance(self.methods, str) or not isinstance(self.methods, Iterable):
            raise ConfigurationError(
                f"audmw: rule {self.path!r}: methods must be a set of method names, "
                f"e.g. frozenset({{'GET'}}), not {self.methods!r}"
            )
        methods = frozenset(_method_name(self.path, method) for method in self.methods)
        object.__setattr__(self, "methods", methods)
        if not isinstance(self.requirement, Requirement):
            raise ConfigurationError(
                f"audmw: rule {self.path!r}: requirement must be a Requirement, "
                "e.g. Requirement.of(all_of=['read:reports'])"
            )
        if not isinstance(self.public, bool):
            raise ConfigurationError(
                f"audmw: rule {self.path!r}: public must be true or false, not {self.public!r}"
            )
        if self.public and self.requirement:
            raise ConfigurationError(
                f"audmw: rule {self.path!r} is public and asks for "
                f"{self.requirement.describe()}: a public request carries no token to check; "
                "remove public or the scopes"
            )
        if self.public and "OPTIONS" in methods:
            raise ConfigurationError(
                f"audmw: rule {self.path!r}: to let CORS preflight requests through, set "
                "cors_preflight: a public OPTIONS rule would let views that answer OPTIONS "
                "themselves run without a token"
            )
        object.__setattr__(self, "_applied", _methods_applied(methods))
        # Scope rules match any case and either trailing slash (Django's "api/admin/", Flask's
        # strict_slashes, "(?i)" routes); openings match only as written.
        flags = re.DOTALL if self.public else re.DOTALL | re.IGNORECASE
        regex = _pattern_regex(self.path, any_trailing_slash=not self.public)
        object.__setattr__(self, "_regex", re.compile(regex, flags))

    @classmethod
    def from_mapping(cls, data: Any) -> Rule:
        """A rule from settings, e.g. ``{"methods": ["GET"], "path": "/r/**", "scopes": ["r"]}``.

        Anything that would parse but mean nothing is refused with what to write instead.
        """
        example = '{"path": "/reports/**", "scopes": ["read:reports"]}'
        if not isinstance(data, Mapping):
            raise ConfigurationError(f"audmw: a rule is a mapping such as {example}, not {data!r}")
        for key in data:
            if key not in _RULE_KEYS:
                raise ConfigurationError(f"audmw: rule {data!r}: unknown key {key!r}{_hint(key)}")
        if "path" not in data:
            raise ConfigurationError(
                f"audmw: a rule needs at least a 'path', e.g. {example}, not {data!r}"
            )
        path = data["path"]
        if not isinstance(path, str):
            raise ConfigurationError(
                f"audmw: rule {data!r}: path must be a string such as '/reports/**'"
            )
        public = data.get("public", False)
        if not isinstance(public, bool):
            raise ConfigurationError(
                f"audmw: rule {path!r}: public must be true or false, not {public!r}"
            )
        scopes = _scope_words(path, "scopes", data.get("scopes", ()))
        any_scopes = _scope_words(path, "any_scopes", data.get("any_scopes", ()))
        asked = [key for key in _REQUIREMENT_KEYS if key in data]
        if public and asked:
            raise ConfigurationError(
                f"audmw: rule {path!r} is public and names scopes or other requirements "
                f"({', '.join(asked)}): a public request carries no token to check; remove "
                f"public or {', '.join(asked)}"
            )
        acr_values = data.get("acr_values")
        if acr_values is not None:
            acr_values = _scope_words(path, "acr_values", acr_values)
        details = _detail_requirements(path, data.get("authorization_details", ()))
        requirement = Requirement.of(
            scopes,
            any_scopes,
            acr_values=acr_values,
            max_age=data.get("max_age"),
            details=details,
            kind=data.get("token_kind"),
        )
        if not public and not requirement:
            raise ConfigurationError(
                f"audmw: rule {path!r} asks for nothing: a valid token is already needed "
                'everywhere; add "scopes", "any_scopes", "acr_values", "max_age", '
                '"authorization_details", "token_kind" or "public": true, or remove the rule'
            )
        return cls(
            path=path,
            methods=_method_names(path, data["methods"]) if "methods" in data else frozenset(),
            requirement=requirement,
            public=public,
        )

    def matches(self, method: str, path: str) -> bool:
        """Whether this rule applies to a request (``PathRules.evaluate`` decides for a list)."""
        applied: frozenset[str] = object.__getattribute__(self, "_applied")
        if applied and method.upper() not in applied:
            return False
        regex: re.Pattern[str] = object.__getattribute__(self, "_regex")
        if self.public:
            return _is_canonical(path) and regex.fullmatch(path) is not None
        return any(regex.fullmatch(form) for form in _path_forms(path, _is_canonical(path)))


_REQUIREMENT_KEYS = (
    "scopes",
    "any_scopes",
    "acr_values",
    "max_age",
    "authorization_details",
    "token_kind",
)
_RULE_KEYS = ("path", "methods", *_REQUIREMENT_KEYS, "public")
# Keys people write for these, too far from the right one for difflib to find alone.
_RULE_KEY_ALIASES = {
    "method": "methods",
    "verbs": "methods",
    "http_methods": "methods",
    "scope": "scopes",
    "required_scopes": "scopes",
    "all_scopes": "scopes",
    "any_scope": "any_scopes",
    "one_of": "any_scopes",
    "path_regex": "path",
    "regex": "path",
    "pattern": "path",
    "paths": "path",
    "url": "path",
    "route": "path",
    "acr": "acr_values",
    "max_auth_age": "max_age",
    "authorization_details_types": "authorization_details",
    "details": "authorization_details",
    "kind": "token_kind",
    "exempt": "public",
    "anonymous": "public",
}


def _hint(key: object) -> str:
    if not isinstance(key, str):
        return f" (keys are {', '.join(_RULE_KEYS)})"
    found = _RULE_KEY_ALIASES.get(key.lower()) or next(
        iter(difflib.get_close_matches(key.lower(), _RULE_KEYS, n=1, cutoff=0.6)), None
    )
    if found is None:
        return f" (keys are {', '.join(_RULE_KEYS)})"
    return f": did you mean {found!r}?"


def _detail_requirements(path: str, value: object) -> list[DetailRequirement]:
    """``authorization_details`` of a rule: types (any entry of the type will do), or
    ``DetailRequirement`` objects when the settings come from code."""
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, list | tuple):
        raise ConfigurationError(
            f"audmw: rule {path!r}: authorization_details must be a list of types such as "
            f'["payment_initiation"], not {value!r}'
        )
    found = []
    for item in value:
        if isinstance(item, DetailRequirement):
            found.append(item)
        elif isinstance(item, str):
            found.append(DetailRequirement(item))
        else:
            raise ConfigurationError(
                f"audmw: rule {path!r}: {item!r} in authorization_details is neither a type "
                "nor a DetailRequirement"
            )
    return found


def _method_name(path: str, method: object) -> str:
    if not isinstance(method, str) or not _METHOD_TOKEN.fullmatch(method):
        raise ConfigurationError(
            f"audmw: rule {path!r}: {method!r} is not an HTTP method name such as 'GET'"
        )
    return method.upper()


def _method_names(path: str, value: object) -> frozenset[str]:
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    elif not isinstance(value, list | tuple | set | frozenset):
        raise ConfigurationError(
            f'audmw: rule {path!r}: methods must be a list such as ["GET", "HEAD"] or a '
            f'string such as "GET, HEAD", not {value!r}'
        )
    if not value:
        raise ConfigurationError(
            f"audmw: rule {path!r}: methods is empty, so the rule would match no request; "
            "leave methods out for every method, or name them"
        )
    return frozenset(_method_name(path, method) for method in value)


def _scope_words(path: str, key: str, value: object) -> list[str]:
    if isinstance(value, str):
        if "," in value:
            raise ConfigurationError(
                f"audmw: rule {path!r}: {key} {value!r} is separated by spaces, not commas; "
                f"write {' '.join(value.replace(',', ' ').split())!r} or a list"
            )
        return value.split()
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigurationError(
            f'audmw: rule {path!r}: {key} must be a list of strings such as ["read:reports"] '
            f"or a space separated string, not {value!r}"
        )
    return list(value)


# -- the compiled matcher --------------------------------------------------------------------


class PathDecision(NamedTuple):
    """What exempt paths and rules say of one method and path.

    ``opened``: an exempt path or a public rule lets the request through without a token.
    ``needed``: the AND of every scope rule that applies, ``None`` when none does. Both are
    always filled in; openings win over scope rules for views that ask for nothing.
    """

    opened: bool
    needed: Requirement | None


_CLOSED = PathDecision(False, None)
_OPENED = PathDecision(True, None)


class _Entry(NamedTuple):
    opens: bool  # an exempt path or a public rule, else a scope rule
    order: int  # position in the list: requirements combine in the order rules were given
    methods: frozenset[str]  # empty: every method
    regex: re.Pattern[str]
    requirement: Requirement
    label: str
    # The decisions when this is the only scope rule that applies: made once, not per path.
    alone: tuple[PathDecision, PathDecision]


def _by_order(entry: _Entry) -> int:
    return entry.order


class _Node:
    """One level of the index: entries whose literal leading segments end here."""

    __slots__ = ("children", "entries")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.entries: list[_Entry] = []


class _Index:
    """Entries by their literal leading segments, so a path tries only the ones that fit it.

    Keys are case-folded for every entry: a scope rule needs that, and an opening's own
    case-sensitive regex still decides, so folding only adds candidates.
    """

    def __init__(self) -> None:
        self.root = _Node()
        self.depth = 0

    def add(self, prefix: list[str], entry: _Entry) -> None:
        node = self.root
        for segment in prefix:
            node = node.children.setdefault(_case_key(segment), _Node())
        node.entries.append(entry)
        self.depth = max(self.depth, len(prefix))

    def matching(self, method: str | None, path: str, *, openings: bool) -> list[_Entry]:
        """Entries for ``method`` (``None``: only those for every method) matching ``path``.

        Openings are tried only when ``openings`` is true (a canonical path).
        """
        found = []
        node: _Node | None = self.root
        depth = self.depth
        # segments[0] is the empty string before the leading slash; one split, at most depth.
        segments = path.split("/", depth + 1) if depth and path.startswith("/") else [path]
        last = min(depth, len(segments) - 1)
        level = 0
        while node is not None:
            for entry in node.entries:
                if entry.opens and not openings:
                    continue
                methods = entry.methods
                if methods and (method is None or method not in methods):
                    continue
                if entry.regex.fullmatch(path):
                    found.append(entry)
            if level == last:
                break
            level += 1
            segment = segments[level]
            key = segment.lower() if segment.isascii() else _case_key(segment)
            node = node.children.get(key)
        return found


def _index_prefix(pattern: str) -> list[str]:
    # A non-ASCII segment may match spellings no simple key captures: it ends the prefix.
    prefix = []
    for segment in _literal_prefix(pattern):
        if not segment.isascii():
            break
        prefix.append(segment)
    return prefix


def _describe_methods(methods: frozenset[str]) -> str:
    return ", ".join(sorted(methods)) if methods else "every method"


def _samples(pattern: str) -> list[str]:
    """Paths a pattern matches: each ``*`` as ``x``, each ``**`` as ``x`` and as ``x/y``."""
    samples = [pattern.replace("**", "x").replace("*", "x")]
    samples.append(pattern.replace("**", "x/y").replace("*", "x"))
    if pattern.endswith("/**"):
        samples.append(pattern[:-3].replace("**", "x").replace("*", "x") or "/")
    return list(dict.fromkeys(samples))


def _entry(
    opens: bool,
    order: int,
    methods: frozenset[str],
    regex: re.Pattern[str],
    label: str,
    requirement: Requirement = ANY_VALID_TOKEN,
) -> _Entry:
    alone = (PathDecision(False, requirement), PathDecision(True, requirement))
    return _Entry(opens, order, methods, regex, requirement, label, alone)


class PathRules:
    """Exempt paths and rules compiled once: ``evaluate`` costs nearly the same for 10 or 1,000.

    Raises ``ConfigurationError`` for a malformed exempt path or rule, and for a scope rule
    that openings cover entirely (openings win, so it would never apply).
    """

    def __init__(self, rules: Iterable[Rule], exempt_paths: Iterable[str]) -> None:
        self._index = _Index()
        self._memo: dict[tuple[str, str], PathDecision] = {}
        scope_rules: list[Rule] = []
        count = 0
        if isinstance(exempt_paths, str):
            raise ConfigurationError(
                f"audmw: exempt_paths must be a list of path patterns, e.g. [{exempt_paths!r}]"
            )
        for path in exempt_paths:
            regex = compile_path_pattern(path)
            entry = _entry(True, count, frozenset(), regex, f"exempt path {path!r}")
            self._index.add(_index_prefix(path), entry)
            count += 1
        for rule in rules:
            if not isinstance(rule, Rule):
                raise ConfigurationError(f"audmw: {rule!r} is not a Rule")
            applied: frozenset[str] = object.__getattribute__(rule, "_applied")
            regex = object.__getattribute__(rule, "_regex")
            methods = _describe_methods(rule.methods)
            if rule.public:
                label = f"public rule {rule.path!r} ({methods})"
            else:
                label = f"rule {rule.path!r} ({methods}) needing {rule.requirement.describe()}"
                scope_rules.append(rule)
            entry = _entry(rule.public, count, applied, regex, label, rule.requirement)
            self._index.add(_index_prefix(rule.path), entry)
            count += 1
        self._empty = count == 0
        conflicts = [message for rule in scope_rules if (message := self._covered(rule))]
        if conflicts:
            raise ConfigurationError("audmw: " + "; ".join(conflicts))

    def evaluate(self, method: str, path: str) -> PathDecision:
        """What exempt paths and rules say of a request; remembered per method and path."""
        if self._empty:
            return _CLOSED
        key = (method, path)
        found = self._memo.get(key)
        if found is None:
            found = self._decide(method.upper(), path)
            if len(path) + len(method) <= _MEMO_KEY_CHARS:
                if len(self._memo) >= _MEMO_SIZE:
                    self._memo.clear()  # methods and paths are the client's to make up
                self._memo[key] = found
        return found

    @property
    def remembered(self) -> int:
        """How many decisions the memo holds now (never more than 1,024)."""
        return len(self._memo)

    def _decide(self, method: str, path: str) -> PathDecision:
        # Only a canonical path can be opened, and only as written; scope rules hold for
        # every form of the path.
        if _is_canonical(path):
            found = self._index.matching(method, path, openings=True)
            if not found:
                return _CLOSED
            opened = False
            matched = []
            for entry in found:
                if entry.opens:
                    opened = True
                else:
                    matched.append(entry)
        else:
            opened = False
            by_order = {
                entry.order: entry
                for form in _path_forms(path, False)
                for entry in self._index.matching(method, form, openings=False)
            }
            matched = list(by_order.values())
        if not matched:
            return _OPENED if opened else _CLOSED
        if len(matched) == 1:
            return matched[0].alone[opened]
        matched.sort(key=_by_order)
        needed = matched[0].requirement
        for entry in matched[1:]:
            needed = needed & entry.requirement
        return PathDecision(opened, needed)

    def _covered(self, rule: Rule) -> str | None:
        """A message when openings cover every sample path and method of a scope rule."""
        applied: frozenset[str] = object.__getattribute__(rule, "_applied")
        methods: list[str | None] = [*sorted(applied)] if applied else [None]
        openers: dict[str, None] = {}
        for sample in _samples(rule.path):
            for method in methods:
                found = self._index.matching(method, sample, openings=True)
                opener = next((entry for entry in found if entry.opens), None)
                if opener is None:
                    return None
                openers[opener.label] = None
        return (
            f"the rule {rule.path!r} ({_describe_methods(rule.methods)}) needing "
            f"{rule.requirement.describe()} never applies: {' and '.join(openers)} "
            f"{'lets' if len(openers) == 1 else 'let'} every path it matches through without "
            "a token; narrow the exemption or remove the rule"
        )
