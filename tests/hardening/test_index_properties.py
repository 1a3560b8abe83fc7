"""The indexes that keep lookups flat as rules, routes and keys grow decide exactly like a
scan of every entry in order, on random sets that hypothesis makes up."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

import audmw.starlette
from audmw import ConfigurationError, Requirement
from audmw.keys import _by_kid
from audmw.rules import PathDecision, PathRules, Rule
from audmw.starlette import require_scopes

PROPERTIES = settings(
    max_examples=300,
    deadline=None,  # no timing in unit tests
    database=None,  # nothing written into the checkout
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# -- path rules -------------------------------------------------------------------------------

PATTERN_SEGMENTS = ["a", "b", "svc1", "Svc1", "*", "**", "x*", "é"]
PATH_SEGMENTS = ["a", "A", "b", "svc1", "SVC1", "x", "xy", ".", "..", "", "é", "É", "\u0130"]
METHODS = ["GET", "HEAD", "POST", "get", "DELETE"]


@st.composite
def patterns(draw: st.DrawFn) -> str:
    segments = draw(st.lists(st.sampled_from(PATTERN_SEGMENTS), min_size=0, max_size=4))
    pattern = "/" + "/".join(segments)
    if segments and draw(st.booleans()):
        pattern += "/"
    return pattern


@st.composite
def rules(draw: st.DrawFn) -> Rule:
    path = draw(patterns())
    methods = frozenset(draw(st.lists(st.sampled_from(["GET", "POST", "HEAD"]), max_size=2)))
    if draw(st.booleans()):
        return Rule(path=path, methods=methods - {"OPTIONS"}, public=True)
    scopes = draw(st.lists(st.sampled_from(["r", "w", "admin"]), min_size=1, max_size=2))
    return Rule(path=path, methods=methods, requirement=Requirement.of(scopes))


@st.composite
def paths(draw: st.DrawFn) -> str:
    segments = draw(st.lists(st.sampled_from(PATH_SEGMENTS), min_size=0, max_size=5))
    return "/" + "/".join(segments)


def scanned(rule_list: list[Rule], exempt: list[str], method: str, path: str) -> PathDecision:
    """The decision of every rule tried in turn: an exempt path is a public rule for every
    method; scope rules that apply combine in the order given."""
    openings = [Rule(path=pattern, public=True) for pattern in exempt]
    opened = any(rule.matches(method, path) for rule in [*openings, *rule_list] if rule.public)
    needed: Requirement | None = None
    for rule in rule_list:
        if not rule.public and rule.matches(method, path):
            needed = rule.requirement if needed is None else needed & rule.requirement
    return PathDecision(opened, needed)


@settings(PROPERTIES, max_examples=150)
@given(
    st.lists(rules(), max_size=12),
    st.lists(patterns(), max_size=3),
    st.lists(st.tuples(st.sampled_from(METHODS), paths()), min_size=1, max_size=12),
)
def test_indexed_path_rules_decide_like_a_scan(
    rule_list: list[Rule], exempt: list[str], requests: list[tuple[str, str]]
) -> None:
    try:
        compiled = PathRules(rule_list, exempt)
    except ConfigurationError:
        assume(False)  # a scope rule that openings cover entirely is refused at start-up
        return
    for method, path in requests:
        assert compiled.evaluate(method, path) == scanned(rule_list, exempt, method, path)


# -- Starlette routes -------------------------------------------------------------------------


async def endpoint(request: Any) -> PlainTextResponse:
    return PlainTextResponse("")


ROUTE_SEGMENTS = ["a", "b", "c", "{}", "{:int}", "", "A"]


@st.composite
def route_paths(draw: st.DrawFn) -> str:
    segments = draw(st.lists(st.sampled_from(ROUTE_SEGMENTS), min_size=1, max_size=3))
    # Parameter names must differ within a path.
    named = [s.replace("{", f"{{p{n}") if "{" in s else s for n, s in enumerate(segments)]
    return "/" + "/".join(named)


@st.composite
def routes(draw: st.DrawFn, depth: int = 0) -> BaseRoute:
    kind = draw(
        st.sampled_from(["route", "route", "websocket", "mount"] if depth < 2 else ["route"])
    )
    path = draw(route_paths())
    if kind == "mount":
        inner = draw(st.lists(routes(depth + 1), min_size=0, max_size=20))
        return Mount(path.rstrip("/") if path != "/" else "", routes=inner)
    if kind == "websocket":
        return WebSocketRoute(path, endpoint)
    scopes = draw(st.lists(st.sampled_from(["r", "w"]), max_size=1))
    methods = draw(st.sampled_from([None, ["GET"], ["POST"], ["GET", "POST"]]))
    view = require_scopes(*scopes)(endpoint) if scopes else endpoint
    return Route(path, view, methods=methods)


def _scope(kind: str, method: str, path: str, root_path: str) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": kind,
        "path": root_path + path,
        "root_path": root_path,
        "headers": [],
        "query_string": b"",
    }
    if kind == "http":
        scope["method"] = method
    return scope


def _outcome(routes_list: list[BaseRoute], scope: dict[str, Any]) -> tuple[Any, ...]:
    resolved = audmw.starlette._resolve(routes_list, scope)
    view = resolved.view
    if view is None:
        return (None, resolved.cacheable)
    return (view.levels, view.others, view.answers, resolved.cacheable)


@settings(PROPERTIES, max_examples=60)
@given(
    routes_list=st.lists(routes(), min_size=16, max_size=40),
    requests=st.lists(
        st.tuples(
            st.sampled_from(["http", "websocket"]),
            st.sampled_from(["GET", "POST", "PUT"]),
            st.lists(st.sampled_from(["a", "b", "c", "A", "7", "x", ""]), max_size=4),
            st.sampled_from(["", "/a", "/root"]),
        ),
        min_size=1,
        max_size=10,
    ),
)
def test_indexed_routes_resolve_like_a_scan(
    routes_list: list[BaseRoute],
    requests: list[tuple[str, str, list[str], str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for kind, method, segments, root_path in requests:
        scope = _scope(kind, method, "/" + "/".join(segments), root_path)
        with monkeypatch.context() as unindexed:
            unindexed.setattr(audmw.starlette, "_INDEX_FROM", 10**9)
            expected = _outcome(routes_list, dict(scope))
        assert _outcome(routes_list, dict(scope)) == expected


# -- keys by kid -------------------------------------------------------------------------------


class Key:
    def __init__(self, kid: str | None) -> None:
        self.kid = kid


@PROPERTIES
@given(
    st.lists(st.sampled_from([None, "k1", "k2", "k3", ""]), max_size=10),
    st.sampled_from([None, "k1", "k2", "k3", "", "other"]),
)
def test_keys_by_kid_are_the_keys_a_scan_finds(kids: list[str | None], kid: str | None) -> None:
    keys = [Key(k) for k in kids]
    index = _by_kid(keys)  # type: ignore[arg-type]
    expected = keys if kid is None else [key for key in keys if key.kid == kid]
    assert list(index.get(kid, ())) == expected
