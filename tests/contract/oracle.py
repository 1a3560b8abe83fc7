"""The rule every adapter must implement, written out as plainly as it reads.

Given what can be known of a request (its method and path, the marks on the way to the
handler the framework will call, the settings), ``need`` says what the request needs and
``refusal`` what a given token gets. Rule numbers refer to the contract's wording.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from contract import spec

BAD_REQUEST = "bad_request"
OPEN = "open"  # public: the token is not read
TOKEN = "token"


@dataclass(frozen=True)
class Way:
    """What the rule may know of the handler a request goes to."""

    marks: tuple[spec.Mark, ...] | None  # outermost first; None: no view answers
    others_ask: bool = False  # a handler of the same view, for another method, asks for scopes


@dataclass(frozen=True)
class Need:
    kind: str  # BAD_REQUEST, OPEN or TOKEN
    parts: tuple[spec.Mark, ...] = ()  # TOKEN: what it must carry, levels first, then rules


@dataclass(frozen=True)
class Refusal:
    status: int
    error: str | None  # None: the bare challenge
    scope: frozenset[str] = frozenset()  # 403: the scopes the challenge names


# -- paths ---------------------------------------------------------------------------------------


def decoded_path(target: str) -> str:
    return unquote(target.partition("?")[0])


def has_control_characters(path: str) -> bool:
    return any(ord(char) < 0x20 or ord(char) == 0x7F for char in path)


def remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 for an absolute path."""
    segments = path.split("/")[1:]
    kept: list[str] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "..":
            if kept:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
            continue
        if last:
            kept.append("")  # "/a/." and "/a/b/.." end in a slash
    return "/" + "/".join(kept)


def collapse_slashes(path: str) -> str:
    return re.sub("/{2,}", "/", path)


def forms(path: str) -> set[str]:
    """The path as given, without dot-segments, with '//' collapsed, with and without a
    trailing slash (case is left to the matching)."""
    found = {path}
    for _ in range(2):  # both orders of the two normalisations
        found |= {remove_dot_segments(form) for form in found}
        found |= {collapse_slashes(form) for form in found}
    found |= {form.rstrip("/") or "/" for form in found}
    found |= {form + "/" for form in found if not form.endswith("/")}
    return found


def is_canonical(path: str) -> bool:
    return "//" not in path and remove_dot_segments(path) == path


def pattern_regex(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    """``*`` is one segment, ``**`` anything; a trailing ``/**`` also covers the bare prefix."""
    body, tail = pattern, ""
    if body.endswith("/**"):
        body, tail = body[:-3], "(?:/.*)?"
    parts = re.split(r"(\*\*|\*)", body)
    regex = "".join(
        ".*" if part == "**" else "[^/]*" if part == "*" else re.escape(part) for part in parts
    )
    return re.compile(regex + tail, re.IGNORECASE if ignore_case else 0)


def _method_matches(rule: dict[str, object], method: str) -> bool:
    methods = rule.get("methods") or []
    assert isinstance(methods, list)
    return not methods or method in methods or (method == "HEAD" and "GET" in methods)


def applying_scope_rules(method: str, path: str) -> tuple[spec.Mark, ...]:
    """Rule 5: every scope rule whose methods match and whose pattern matches any form."""
    found = []
    for rule in map(dict, spec.RULES):
        if rule.get("public") or not _method_matches(rule, method):
            continue
        regex = pattern_regex(str(rule["path"]), ignore_case=True)
        if any(regex.fullmatch(form) for form in forms(path)):
            scopes = rule["scopes"]
            assert isinstance(scopes, list)
            found.append(spec.Mark("rule", spec.ALL, tuple(scopes)))
    return tuple(found)


def opened(method: str, path: str) -> bool:
    """Rule 3: an exempt path or a public rule matches the canonical path exactly."""
    if not is_canonical(path):
        return False
    patterns: list[str] = list(spec.EXEMPT_PATHS)
    for rule in map(dict, spec.RULES):
        if rule.get("public") and _method_matches(rule, method):
            patterns.append(str(rule["path"]))
    return any(pattern_regex(p, ignore_case=False).fullmatch(path) for p in patterns)


# -- the rule --------------------------------------------------------------------------------------


def need(
    method: str,
    target: str,
    way: Way,
    *,
    preflight: bool = False,
    cors_preflight: bool = False,
) -> Need:
    path = decoded_path(target)
    if has_control_characters(path):  # rule 1
        return Need(BAD_REQUEST)
    rules = applying_scope_rules(method, path)
    marks = way.marks or ()
    asked = tuple(mark for mark in marks if mark.asks)
    if asked:  # rule 2: nothing opens it
        return Need(TOKEN, asked + rules)
    if way.marks is None and preflight and cors_preflight:  # rule 6
        return Need(OPEN)
    if opened(method, path) and not way.others_ask:  # rule 3
        return Need(OPEN)
    if any(mark.kind == spec.PUBLIC for mark in marks) and not rules:  # rule 4
        return Need(OPEN)
    return Need(TOKEN, rules)  # rules 5 and 6


def _satisfied(part: spec.Mark, granted: set[str]) -> bool:
    if part.kind == spec.ALL:
        return set(part.scopes) <= granted
    return bool(set(part.scopes) & granted)


def refusal(needed: Need, token: str) -> Refusal | None:
    """What ``token`` (a kind of ``spec.TOKEN_SCOPES``) gets; None: audmw lets it through."""
    if needed.kind == BAD_REQUEST:
        return Refusal(400, "invalid_request")
    if needed.kind == OPEN:
        return None
    scopes = spec.TOKEN_SCOPES[token]
    if scopes is None:
        return Refusal(401, None)
    if scopes == spec.GARBAGE:
        return Refusal(401, "invalid_token")
    granted = set(scopes)
    unmet = [part for part in needed.parts if not _satisfied(part, granted)]
    if not unmet:
        return None
    # The challenge names every "all of" scope, and the alternatives still missing.
    named = _scopes_of(part for part in needed.parts if part.kind == spec.ALL)
    named |= _scopes_of(part for part in unmet if part.kind == spec.ANY)
    return Refusal(403, "insufficient_scope", frozenset(named))


def _scopes_of(parts: Iterable[spec.Mark]) -> set[str]:
    return {scope for part in parts for scope in part.scopes}
