"""Path rules cannot be sidestepped by another spelling of a path, and openings stay exact.

Where a test says a router serves a path, it asks the framework's own router (Starlette's
``Route``, Django's ``RoutePattern``/``RegexPattern``) rather than assuming it.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls.resolvers import RegexPattern, RoutePattern
from starlette.routing import Match, Route

from audmw.errors import ConfigurationError
from audmw.requirements import Requirement
from audmw.rules import (
    PathDecision,
    PathRules,
    Rule,
    compile_path_pattern,
    has_control_characters,
)

READ_REPORTS = Requirement.of(all_of=["read:reports"])
ADMIN = Requirement.of(all_of=["admin"])


def rule(**data: Any) -> Rule:
    return Rule.from_mapping(data)


def needed(rules: PathRules, path: str, method: str = "GET") -> Requirement | None:
    return rules.evaluate(method, path).needed


def opened(rules: PathRules, path: str, method: str = "GET") -> bool:
    return rules.evaluate(method, path).opened


def starlette_serves(route_path: str, path: str) -> bool:
    route = Route(route_path, lambda request: None)
    scope = {"type": "http", "path": path, "method": "GET", "root_path": ""}
    return route.matches(scope)[0] is Match.FULL


def django_serves(pattern: RegexPattern | RoutePattern, path: str) -> bool:
    # Django matches path_info without its leading slash.
    return pattern.match(path.removeprefix("/")) is not None


# -- control characters: a newline never ends a match early ---------------------------------


def test_a_newline_decoded_from_percent_0a_does_not_escape_a_wildcard_rule() -> None:
    rules = PathRules([rule(methods=["GET"], path="/reports/**", scopes="read:reports")], [])
    assert starlette_serves("/reports/{id}", "/reports/1\n")
    assert django_serves(RoutePattern("reports/<str:n>"), "/reports/1\n")
    assert needed(rules, "/reports/1\n") == READ_REPORTS
    assert needed(rules, "/reports/\n1") == READ_REPORTS


def test_a_final_newline_does_not_escape_an_exact_rule() -> None:
    # A route regex ending in '$' matches before a final newline.
    rules = PathRules([rule(path="/reports", scopes="read:reports")], [])
    assert django_serves(RegexPattern(r"^reports$"), "/reports\n")
    assert needed(rules, "/reports\n") == READ_REPORTS


@pytest.mark.parametrize("char", ["\n", "\r", "\t", "\x00", "\x1b", "\x7f", "\r\n"])
def test_control_characters_anywhere_keep_scope_rules(char: str) -> None:
    rules = PathRules([rule(path="/reports/*", scopes="read:reports")], [])
    assert needed(rules, f"/reports/1{char}") == READ_REPORTS
    assert needed(rules, f"/reports/{char}1") == READ_REPORTS


def test_compiled_patterns_match_across_newlines_whatever_the_call() -> None:
    pattern = compile_path_pattern("/reports/**")
    assert pattern.fullmatch("/reports/1\n")
    assert pattern.match("/reports/1\n")
    assert pattern.match("/reports/1\nx")
    assert not compile_path_pattern("/reports").match("/reports\n")
    assert not compile_path_pattern("/reports").search("/x/reports")


@pytest.mark.parametrize(
    ("path", "found"),
    [
        ("/a\n", True),
        ("/a\x00b", True),
        ("\x1f", True),
        ("/a\x7f", True),
        ("/a\tb", True),
        ("/reports/1", False),
        ("/caf\u00e9/\u00a0", False),  # non-ASCII, not C0 or DEL
        ("/a b", False),
        ("", False),
    ],
)
def test_has_control_characters(path: str, found: bool) -> None:
    assert has_control_characters(path) is found


@pytest.mark.parametrize(
    ("path", "canonical"),
    [
        ("/static/x\n", "/static/x"),
        ("/static/x\x00", "/static/x"),
        ("/static/\x7f", "/static/x"),
        ("/st/\t", "/st/x"),
        ("\x00/st/x", "/st/x"),
    ],
)
def test_a_path_with_control_characters_is_never_opened(path: str, canonical: str) -> None:
    rules = PathRules([rule(path="/st/*", public=True)], ["/static/**"])
    assert opened(rules, canonical)
    assert rules.evaluate("GET", path).opened is False


# -- other forms of a path a normalising view serves ----------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/files/./private/x",
        "/files/public/../private/x",
        "/files/public/%2E%2E/private/x".replace("%2E", "."),  # decoded by the server
        "/files//private/x",
        "//files/private/x",
        "/files/private//x",
        "/files/.//private/x",
        "/files/x/y/../../private/x",
        "/files/private/x/..",
        "/files/private/.",
        "/files/private/",
        "/files/private",
        "/files/../files/private/x",
        "/../files/private/x",
        "files/private/x",
    ],
)
def test_a_scope_rule_holds_for_every_normalised_form(path: str) -> None:
    rules = PathRules([rule(path="/files/private/**", scopes="admin")], [])
    assert needed(rules, path) == ADMIN


def test_a_path_parameter_view_serves_those_forms() -> None:
    # The router hands "./private/x" to a view that normalises it: the rule must see that.
    for path in ["/files/./private/x", "/files/public/../private/x", "/files//private/x"]:
        assert starlette_serves("/files/{rest:path}", path)


def test_collapsing_slashes_before_removing_dot_segments() -> None:
    # posixpath.normpath, which views use, reads "x//.." as "x/.." and lands on /files/private.
    rules = PathRules([rule(path="/files/private/**", scopes="admin")], [])
    assert needed(rules, "/files/x//../private/y") == ADMIN


def test_removing_dot_segments_before_collapsing_slashes() -> None:
    # RFC 3986 removal pops the empty segment: "/files/private//../y" is "/files/private/y".
    rules = PathRules([rule(path="/files/private/**", scopes="admin")], [])
    assert needed(rules, "/files/private//../y") == ADMIN


def test_removing_dot_segments_alone() -> None:
    # "/a/x/..//b" is "/a//b" once dot-segments go, where "*" matches the empty segment.
    rules = PathRules([rule(path="/a/*/b", scopes="admin")], [])
    assert needed(rules, "/a/x/..//b") == ADMIN


def test_collapsing_slashes_alone() -> None:
    # A server that merges slashes but keeps ".." hands "/files/../x" to "/files/{name}/x".
    rules = PathRules([rule(path="/files/*/x", scopes="admin")], [])
    assert needed(rules, "/files//../x") == ADMIN


def test_removing_dot_segments_then_collapsing_slashes() -> None:
    rules = PathRules([rule(path="/files/private/*", scopes="admin")], [])
    assert needed(rules, "/files//private//../y") == ADMIN


def test_other_paths_stay_free_of_the_rule() -> None:
    rules = PathRules([rule(path="/files/private/**", scopes="admin")], [])
    for path in ["/files/public/x", "/files/private-x", "/files/x/../public", "/files"]:
        assert needed(rules, path) is None, path


# -- case --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/CI-REPORTS/1",
        "/Ci-Reports/1",
        "/ci-reports/1",
        "/c\u0131-reports/1",  # dotless i: re.IGNORECASE matches it with "i"
        "/C\u0130-REPORTS/1",  # dotted capital I
    ],
)
def test_a_scope_rule_holds_in_any_case(path: str) -> None:
    route = RegexPattern(r"(?i)^ci-reports/(?P<n>[0-9]+)$")
    assert django_serves(route, path)
    rules = PathRules([rule(path="/ci-reports/**", scopes="read:reports")], [])
    assert needed(rules, path) == READ_REPORTS


@pytest.mark.parametrize(
    ("pattern", "path"),
    [
        ("/tasks/**", "/ta\u017fks/1"),  # long s
        ("/keys/*", "/\u212aeys/1"),  # Kelvin sign
        ("/Admin/*", "/aDMIN/x"),
        ("/\u03bb\u03bf\u03b3\u03bf\u03c2/**", "/\u039b\u039f\u0393\u039f\u03a3/1"),  # final sigma
        ("/caf\u00e9/**", "/CAF\u00c9/1"),
        ("/\u00b5s/**", "/\u039cS/1"),  # micro sign, matched by the Greek capital mu
    ],
)
def test_case_spellings_beyond_ascii_reach_the_rule(pattern: str, path: str) -> None:
    route = RegexPattern("(?i)^" + pattern[1:].replace("/**", "/.+").replace("*", "[^/]+") + "$")
    assert django_serves(route, path)
    rules = PathRules([rule(path=pattern, scopes="admin")], [])
    assert needed(rules, path) == ADMIN


def test_openings_are_case_sensitive() -> None:
    rules = PathRules([rule(path="/status", public=True)], ["/health", "/docs/**"])
    for path in ["/status", "/health", "/docs/x"]:
        assert opened(rules, path), path
    for path in ["/STATUS", "/Health", "/DOCS/x", "/\u212a"]:
        assert not opened(rules, path), path


# -- trailing slashes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path"),
    [("/admin", "/admin/"), ("/admin/", "/admin"), ("/users/*", "/users/42/")],
)
def test_a_scope_rule_holds_with_or_without_a_trailing_slash(pattern: str, path: str) -> None:
    rules = PathRules([rule(path=pattern, scopes="admin")], [])
    assert needed(rules, path) == ADMIN


def test_a_scope_rule_still_ends_at_its_last_segment() -> None:
    rules = PathRules([rule(path="/admin", scopes="admin")], [])
    assert needed(rules, "/admins") is None
    assert needed(rules, "/admin/x") is None


# -- methods -----------------------------------------------------------------------------------


def test_a_get_rule_holds_for_head_and_any_spelling_of_get() -> None:
    rules = PathRules([rule(methods=["GET"], path="/reports/**", scopes="read:reports")], [])
    for method in ["GET", "HEAD", "get", "head"]:
        assert needed(rules, "/reports/1", method) == READ_REPORTS, method
    assert needed(rules, "/reports/1", "POST") is None


def test_a_head_rule_does_not_hold_for_get() -> None:
    rules = PathRules([rule(methods="HEAD", path="/reports", scopes="probe")], [])
    assert needed(rules, "/reports", "HEAD") == Requirement.of(all_of=["probe"])
    assert needed(rules, "/reports", "GET") is None


def test_a_public_get_rule_opens_head_but_not_post() -> None:
    rules = PathRules([rule(methods="GET", path="/status", public=True)], [])
    assert opened(rules, "/status", "HEAD")
    assert not opened(rules, "/status", "POST")


def test_a_rule_without_methods_holds_for_every_method() -> None:
    rules = PathRules([rule(path="/x", scopes="admin")], [])
    for method in ["GET", "POST", "DELETE", "PROPFIND", "OPTIONS"]:
        assert needed(rules, "/x", method) == ADMIN


# -- openings: exact and canonical only --------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/health/",
        "/health/.",
        "/./health",
        "//health",
        "/x/../health",
        "/docs/../admin",
        "/docs/./x",
        "/docs//x",
        "/docs/x/..",
        "docs/x",
        "/status/",
    ],
)
def test_openings_hold_only_for_the_exact_canonical_path(path: str) -> None:
    rules = PathRules([rule(path="/status", public=True)], ["/health", "/docs/**"])
    assert rules.evaluate("GET", path) == PathDecision(False, None), path


def test_openings_hold_for_the_paths_they_name() -> None:
    rules = PathRules([rule(path="/status", public=True)], ["/health", "/docs/**", "/u/*/a"])
    for path in ["/health", "/docs", "/docs/", "/docs/a/b.json", "/u/1/a", "/status", "/.well"]:
        assert opened(rules, path) is (path != "/.well"), path


def test_a_dot_segment_never_opens_a_path_that_a_scope_rule_covers() -> None:
    rules = PathRules([rule(path="/admin/**", scopes="admin")], ["/docs/**"])
    assert rules.evaluate("GET", "/docs/../admin/users") == PathDecision(False, ADMIN)


# -- several rules: precedence and combination -------------------------------------------------


def test_every_scope_rule_that_applies_is_needed_in_the_order_given() -> None:
    rules = PathRules(
        [
            rule(path="/reports/**", scopes="read:reports"),
            rule(path="/reports/secret/**", any_scopes="admin owner"),
            rule(path="/**/export", scopes="export"),
            rule(methods="POST", path="/reports/**", scopes="write:reports"),
        ],
        [],
    )
    expected = (
        READ_REPORTS & Requirement.of(any_of=["admin", "owner"]) & Requirement.of(all_of=["export"])
    )
    assert needed(rules, "/reports/secret/export") == expected
    assert needed(rules, "/reports/secret/./export") == expected
    assert needed(rules, "/other/export") == Requirement.of(all_of=["export"])
    assert needed(rules, "/reports/1", "POST") == READ_REPORTS & Requirement.of(
        all_of=["write:reports"]
    )


def test_an_opening_and_a_scope_rule_on_one_path_report_both() -> None:
    # Openings win for views that ask for nothing; the caller still learns what rules say.
    rules = PathRules(
        [rule(methods=["GET"], path="/thirdparty/**", scopes="reports")],
        ["/thirdparty/status"],
    )
    reports = Requirement.of(all_of=["reports"])
    assert rules.evaluate("GET", "/thirdparty/status") == PathDecision(True, reports)
    assert rules.evaluate("GET", "/thirdparty/./status") == PathDecision(False, reports)
    assert rules.evaluate("GET", "/thirdparty/x") == PathDecision(False, reports)
    assert rules.evaluate("POST", "/thirdparty/status") == PathDecision(True, None)


def test_leading_wildcard_rules_apply_beside_indexed_ones() -> None:
    rules = PathRules(
        [rule(path=f"/svc{i}/items/**", scopes=f"read:svc{i}") for i in range(50)]
        + [rule(path="/*/internal/**", scopes="internal"), rule(path="/**/export", scopes="x")],
        [],
    )
    assert needed(rules, "/svc7/items/3") == Requirement.of(all_of=["read:svc7"])
    assert needed(rules, "/SVC7/Items/3") == Requirement.of(all_of=["read:svc7"])
    assert needed(rules, "/svc7/internal/3") == Requirement.of(all_of=["internal"])
    assert needed(rules, "/svc7/items/export") == Requirement.of(all_of=["read:svc7", "x"])
    assert needed(rules, "/svc70/items/3") is None


def test_no_rules_and_no_exempt_paths_decide_nothing() -> None:
    rules = PathRules([], [])
    assert rules.evaluate("GET", "/anything") == PathDecision(False, None)
    assert rules.evaluate("GET", "/a/../b\n") == PathDecision(False, None)
    assert rules.remembered == 0


# -- the memo ----------------------------------------------------------------------------------


def test_decisions_stay_right_and_the_memo_bounded_for_made_up_paths() -> None:
    rules = PathRules([rule(methods="GET", path="/reports/*", scopes="read:reports")], ["/h"])
    for number in range(5000):
        assert needed(rules, f"/reports/{number}") == READ_REPORTS
        assert needed(rules, f"/reports/{number}", "POST") is None
        assert needed(rules, f"/other/{number}") is None
        assert rules.remembered <= 1024
    assert opened(rules, "/h")


def test_a_very_long_path_is_decided_but_not_remembered() -> None:
    rules = PathRules([rule(path="/reports/**", scopes="read:reports")], [])
    before = rules.remembered
    long_path = "/reports/" + "x" * 10_000
    assert needed(rules, long_path) == READ_REPORTS
    assert needed(rules, long_path) == READ_REPORTS
    assert rules.remembered == before


def test_a_remembered_decision_is_the_same_as_a_fresh_one() -> None:
    rules = PathRules([rule(path="/a/**", scopes="admin")], ["/open"])
    first = [rules.evaluate("GET", p) for p in ["/a/1", "/A/./1", "/open", "/open/"]]
    again = [rules.evaluate("GET", p) for p in ["/a/1", "/A/./1", "/open", "/open/"]]
    assert (
        first
        == again
        == [
            PathDecision(False, ADMIN),
            PathDecision(False, ADMIN),
            PathDecision(True, None),
            PathDecision(False, None),
        ]
    )


# -- Rule.matches agrees with PathRules ---------------------------------------------------------


def test_rule_matches_uses_the_same_semantics() -> None:
    scoped = rule(methods="GET", path="/files/private/**", scopes="admin")
    assert scoped.matches("HEAD", "/FILES/./private/x\n")
    assert not scoped.matches("POST", "/files/private/x")
    public = rule(path="/status", public=True)
    assert public.matches("GET", "/status")
    assert not public.matches("GET", "/status/")
    assert not public.matches("GET", "/x/../status")


# -- the conflict check ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "exempt", "names"),
    [
        ([rule(path="/admin/**", scopes="admin")], ["/admin/**"], "exempt path '/admin/**'"),
        (
            [rule(path="/status", scopes="admin"), rule(path="/status", public=True)],
            [],
            "public rule '/status'",
        ),
        (
            [rule(methods="GET", path="/x/*", scopes="admin"), rule(path="/x/*", public=True)],
            [],
            "public rule '/x/*'",
        ),
        (
            [
                rule(methods="GET", path="/s", scopes="admin"),
                rule(methods="GET", path="/s", public=True),
            ],
            [],
            "public rule '/s' (GET)",
        ),
        (
            [rule(path="/d/**", scopes="admin")],
            ["/d", "/d/*", "/d/*/*"],
            "exempt path '/d'",
        ),
    ],
)
def test_a_scope_rule_an_opening_covers_entirely_is_refused(
    rules: list[Rule], exempt: list[str], names: str
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        PathRules(rules, exempt)
    message = str(refused.value)
    assert "never applies" in message
    assert names in message
    assert "narrow the exemption or remove the rule" in message
    assert f"rule {rules[0].path!r}" in message


@pytest.mark.parametrize(
    ("rules", "exempt"),
    [
        ([rule(path="/admin/**", scopes="admin")], ["/admin/*"]),  # /admin/x/y still needs it
        ([rule(path="/d/**", scopes="admin")], ["/d/*", "/d/*/*"]),  # /d itself needs it
        ([rule(path="/s", scopes="admin"), rule(methods="GET", path="/s", public=True)], []),
        (
            [
                rule(methods="GET", path="/s", scopes="a"),
                rule(methods="HEAD", path="/s", public=True),
            ],
            [],
        ),
        ([rule(path="/thirdparty/**", scopes="r")], ["/thirdparty/status"]),
        ([rule(path="/STATUS", scopes="admin")], ["/status"]),  # the rule also holds elsewhere
    ],
)
def test_partial_overlaps_stay_allowed(rules: list[Rule], exempt: list[str]) -> None:
    PathRules(rules, exempt)


# -- malformed patterns ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("docs/**", "must start with '/'; write '/docs/**'"),
        ("", "must start with '/'"),
        ("/search?q=*", "never a query or fragment: write '/search'"),
        ("/page#top", "write '/page'"),
        ("/files/%2E/x", "has a '.' segment"),
        ("/caf%C3%A9", "paths are matched decoded: write '/caf\u00e9'"),
        ("/a%20b", "a pattern cannot name that character: match it with '*'"),
        ("/files/%2E/x", "and decoded '/files/./x' has a '.' segment"),
        ("/a\\b", "write '/a/b'"),
        ("/a b", "whitespace or control character ' '"),
        ("/a\tb", "whitespace or control character"),
        ("/a\nb", "whitespace or control character"),
        ("/a\x00", "whitespace or control character"),
        ("/a\x7f", "whitespace or control character"),
        ("/a/./b", "has a '.' segment, which routers remove before matching; write '/a/b'"),
        ("/a/../b", "write '/b'"),
        ("/a/..", "has a '..' segment"),
        ("//a", "empty segment ('//'); write '/a'"),
        ("/a//b", "write '/a/b'"),
        ("/a/**b", "'**' must be a whole segment"),
        ("/a**", "(write 'a*')"),
        ("/a/***", "'**' must be a whole segment"),
    ],
)
def test_patterns_no_router_could_see_are_refused(pattern: str, words: str) -> None:
    for compile_it in (
        lambda: compile_path_pattern(pattern),
        lambda: PathRules([], [pattern]),
        lambda: Rule(path=pattern, requirement=ADMIN),
        lambda: rule(path=pattern, public=True),
    ):
        with pytest.raises(ConfigurationError) as refused:
            compile_it()
        assert words in str(refused.value)


@pytest.mark.parametrize("pattern", [None, 3, ["/a"], b"/a"])
def test_patterns_must_be_strings(pattern: Any) -> None:
    with pytest.raises(ConfigurationError, match="must be a string"):
        compile_path_pattern(pattern)


def test_exempt_paths_must_be_a_list() -> None:
    with pytest.raises(ConfigurationError, match=r"a list of path patterns, e.g. \['/health'\]"):
        PathRules([], "/health")


@pytest.mark.parametrize(
    "pattern", ["/", "/a/", "/a/*", "/**", "/a/**/b/**", "/v1.0/x", "/.well-known/jwks", "/a*b"]
)
def test_well_formed_patterns_compile(pattern: str) -> None:
    compile_path_pattern(pattern)


# -- malformed rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (
            {"method": ["GET"], "path": "/x", "scopes": "a"},
            "unknown key 'method': did you mean 'methods'?",
        ),
        ({"path": "/x", "scope": "a"}, "did you mean 'scopes'?"),
        ({"path_regex": "/x", "scopes": "a"}, "did you mean 'path'?"),
        ({"path": "/x", "any_scope": "a"}, "did you mean 'any_scopes'?"),
        ({"path": "/x", "scopes": "a", "publik": True}, "did you mean 'public'?"),
        ({"path": "/x", "scopes": "a", "Methods": "GET"}, "did you mean 'methods'?"),
        ({"path": "/x", "scopes": "a", "colour": "red"}, "keys are path, methods, scopes"),
        ({"path": "/x", "scopes": "a", 3: "x"}, "unknown key 3"),
        ({"scopes": ["a"]}, "needs at least a 'path'"),
        ("/path", "a rule is a mapping"),
        (["/x"], "a rule is a mapping"),
        ({"path": 3, "scopes": "a"}, "path must be a string"),
        ({"path": "/x", "methods": [], "scopes": "a"}, "methods is empty"),
        ({"path": "/x", "methods": "", "scopes": "a"}, "methods is empty"),
        ({"path": "/x", "methods": "G ET/", "scopes": "a"}, "'ET/' is not an HTTP method"),
        ({"path": "/x", "methods": [3], "scopes": "a"}, "3 is not an HTTP method"),
        ({"path": "/x", "methods": {"GET": 1}, "scopes": "a"}, "methods must be a list"),
        ({"path": "/x", "methods": ["GET POST"], "scopes": "a"}, "'GET POST' is not an HTTP"),
        ({"path": "/x", "scopes": 5}, "scopes must be a list of strings"),
        ({"path": "/x", "scopes": ["a", 5]}, "scopes must be a list of strings"),
        ({"path": "/x", "any_scopes": {"a": 1}}, "any_scopes must be a list of strings"),
        ({"path": "/x", "scopes": "a, b"}, "separated by spaces, not commas; write 'a b'"),
        ({"path": "/x", "scopes": ["a b"]}, "not a valid scope"),
        ({"path": "/x", "public": "true"}, "public must be true or false, not 'true'"),
        ({"path": "/x", "public": 1}, "public must be true or false"),
        ({"path": "/x", "public": "yes", "scopes": "a"}, "public must be true or false"),
        ({"path": "/x", "public": True, "scopes": "a"}, "is public and names scopes"),
        ({"path": "/x", "public": True, "any_scopes": []}, "is public and names scopes"),
        ({"path": "/x"}, "asks for nothing"),
        ({"path": "/x", "methods": ["GET"]}, "asks for nothing"),
        ({"path": "/x", "scopes": [], "any_scopes": ""}, "asks for nothing"),
        ({"path": "/x", "public": False}, "asks for nothing"),
    ],
)
def test_rules_that_would_mean_nothing_are_refused(data: Any, words: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        Rule.from_mapping(data)
    assert words in str(refused.value)


@pytest.mark.parametrize("methods", [["OPTIONS"], "GET, options", ["GET", "OPTIONS"]])
def test_a_public_options_rule_is_refused_with_the_fix(methods: Any) -> None:
    fix = (
        "to let CORS preflight requests through, set cors_preflight: a public OPTIONS rule "
        "would let views that answer OPTIONS themselves run without a token"
    )
    with pytest.raises(ConfigurationError) as refused:
        Rule.from_mapping({"methods": methods, "path": "/**", "public": True})
    assert fix in str(refused.value)
    with pytest.raises(ConfigurationError) as refused:
        Rule(path="/**", methods=frozenset({"options"}), public=True)
    assert fix in str(refused.value)


def test_an_options_scope_rule_and_a_public_rule_for_every_method_stay_allowed() -> None:
    Rule.from_mapping({"methods": ["OPTIONS"], "path": "/x", "scopes": "admin"})
    assert Rule.from_mapping({"path": "/status", "public": True}).methods == frozenset()


def test_rules_from_code_are_checked_too() -> None:
    with pytest.raises(ConfigurationError, match="is public and asks for admin"):
        Rule(path="/x", requirement=ADMIN, public=True)
    with pytest.raises(ConfigurationError, match="methods must be a set of method names"):
        Rule(path="/x", methods="GET", requirement=ADMIN)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="requirement must be a Requirement"):
        Rule(path="/x", requirement="admin")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="public must be true or false"):
        Rule(path="/x", public="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="is not a Rule"):
        PathRules([{"path": "/x", "scopes": "a"}], [])  # type: ignore[list-item]


def test_well_formed_rules_keep_their_fields() -> None:
    parsed = Rule.from_mapping(
        {"methods": "get, head post", "path": "/r/**", "scopes": ["read"], "any_scopes": "a b"}
    )
    assert parsed == Rule(
        path="/r/**",
        methods=frozenset({"GET", "HEAD", "POST"}),
        requirement=Requirement.of(all_of=["read"], any_of=["a", "b"]),
        public=False,
    )
    assert Rule.from_mapping({"path": "/p", "public": True}) == Rule(path="/p", public=True)
    assert Rule.from_mapping({"path": "/p", "methods": ("PUT",), "scopes": "w"}).methods == {"PUT"}
