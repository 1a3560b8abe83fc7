"""Scope requirements, the marking decorators, path patterns, rules and Guard.requirement."""

from __future__ import annotations

from typing import Any

import pytest

from audmw import (
    ConfigurationError,
    Guard,
    InsufficientScope,
    Requirement,
    Rule,
    Settings,
    public,
    require_any_scope,
    require_scopes,
)
from audmw.decision import View
from audmw.marks import is_public, requirement_of
from audmw.request import IncomingRequest
from audmw.requirements import ANY_VALID_TOKEN
from audmw.rules import compile_path_pattern
from audmw.token import AccessToken

ISS = "https://issuer.example.com/"
AUD = "https://api.example.com"


def token_with(*scopes: str) -> AccessToken:
    return AccessToken(
        claims={},
        subject="u",
        issuer=ISS,
        audience=(AUD,),
        scopes=frozenset(scopes),
        client_id=None,
        expires_at=0,
    )


def test_all_of() -> None:
    requirement = Requirement.of(all_of=["read", "write"])
    requirement.check(token_with("read", "write", "other"))
    with pytest.raises(InsufficientScope) as refused:
        requirement.check(token_with("read"))
    assert refused.value.scope == ("read", "write")
    assert refused.value.status == 403
    assert refused.value.error == "insufficient_scope"
    assert refused.value.reason == "insufficient_scope"
    assert refused.value.hint is not None
    assert "missing write" in refused.value.hint
    with pytest.raises(InsufficientScope):
        requirement.check(token_with())


def test_any_of() -> None:
    requirement = Requirement.of(any_of=["admin", "owner"])
    requirement.check(token_with("owner"))
    requirement.check(token_with("admin", "owner"))
    with pytest.raises(InsufficientScope) as refused:
        requirement.check(token_with("read"))
    assert refused.value.scope == ("admin", "owner")
    assert refused.value.hint is not None
    assert "needs one of admin, owner" in refused.value.hint


def test_combined_requirements_need_both() -> None:
    combined = Requirement.of(all_of=["read"]) & Requirement.of(any_of=["a", "b"])
    combined = combined & Requirement.of(all_of=["write"], any_of=["c"])
    assert combined.all_of == {"read", "write"}
    assert combined.any_of == (frozenset({"a", "b"}), frozenset({"c"}))
    combined.check(token_with("read", "write", "b", "c"))
    for scopes in [("read", "write", "b"), ("read", "b", "c"), ("write", "a", "c")]:
        with pytest.raises(InsufficientScope):
            combined.check(token_with(*scopes))
    with pytest.raises(InsufficientScope) as refused:
        combined.check(token_with("read", "write", "c"))
    assert refused.value.scope == ("read", "write", "a", "b")


def test_the_empty_requirement_is_any_valid_token() -> None:
    assert not ANY_VALID_TOKEN
    assert bool(Requirement.of(all_of=["x"]))
    ANY_VALID_TOKEN.check(token_with())
    assert ANY_VALID_TOKEN.describe() == "any valid token"
    assert (Requirement.of(["b", "a"]) & Requirement.of(any_of=["y", "x"])).describe() == (
        "a b (x | y)"
    )


def test_a_scope_string_is_split() -> None:
    assert Requirement.of(all_of="read write").all_of == {"read", "write"}


@pytest.mark.parametrize("scope", ["two words", 'quo"te', "back\\slash", "", "tab\t", "é"])
def test_scopes_that_cannot_go_into_a_challenge_are_refused(scope: str) -> None:
    with pytest.raises(ConfigurationError, match="not a valid scope"):
        Requirement.of(all_of=[scope])
    with pytest.raises(ConfigurationError):
        require_scopes(scope)


# -- marks -----------------------------------------------------------------------------------


def test_decorators_return_the_function_unchanged() -> None:
    def view() -> str:
        return "ok"

    assert require_scopes("read")(view) is view
    assert requirement_of(view) == Requirement.of(all_of=["read"])
    assert view() == "ok"
    assert public(view) is view
    assert is_public(view)


def test_unmarked_objects() -> None:
    def view() -> None: ...

    assert requirement_of(view) is None
    assert not is_public(view)
    assert requirement_of(object()) is None


def test_stacked_decorators_combine() -> None:
    @require_scopes("read")
    @require_any_scope("admin", "owner")
    async def view() -> None: ...

    assert requirement_of(view) == Requirement(
        frozenset({"read"}), (frozenset({"admin", "owner"}),)
    )


def test_require_any_scope_needs_a_scope() -> None:
    with pytest.raises(ValueError, match="at least one scope"):
        require_any_scope()


def test_class_and_method_marks() -> None:
    @require_scopes("read")
    class Resource:
        @require_scopes("write")
        def post(self) -> None: ...

        def get(self) -> None: ...

    @require_scopes("admin")
    class Admin(Resource):
        pass

    class Plain(Resource):
        pass

    assert requirement_of(Resource) == Requirement.of(all_of=["read"])
    assert requirement_of(Resource.post) == Requirement.of(all_of=["write"])
    assert requirement_of(Resource.get) is None
    assert requirement_of(Admin) == Requirement.of(all_of=["read", "admin"])
    assert requirement_of(Plain) == Requirement.of(all_of=["read"])
    class_and_method = requirement_of(Resource)
    method = requirement_of(Resource.post)
    assert class_and_method is not None
    assert method is not None
    assert (class_and_method & method).all_of == {"read", "write"}


# -- path patterns and rules ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/health", "/health", True),
        ("/health", "/health/", False),
        ("/health", "/healthz", False),
        ("/users/*/profile", "/users/42/profile", True),
        ("/users/*/profile", "/users/42/43/profile", False),
        ("/users/*", "/users/", True),
        ("/docs/**", "/docs", True),
        ("/docs/**", "/docs/", True),
        ("/docs/**", "/docs/a/b/c", True),
        ("/docs/**", "/docsearch", False),
        ("/a/**/z", "/a/b/c/z", True),
        ("/v1.0/x", "/v1.0/x", True),
        ("/v1.0/x", "/v1x0/x", False),
        ("/a+b", "/aab", False),
    ],
)
def test_path_patterns(pattern: str, path: str, matches: bool) -> None:
    assert bool(compile_path_pattern(pattern).fullmatch(path)) is matches


def test_path_patterns_must_be_absolute() -> None:
    with pytest.raises(ConfigurationError, match="must start with '/'"):
        compile_path_pattern("docs/**")


def test_rule_from_mapping() -> None:
    rule = Rule.from_mapping(
        {"methods": "get, head", "path": "/reports/**", "scopes": ["read"], "any_scopes": ["a"]}
    )
    assert rule.methods == {"GET", "HEAD"}
    assert rule.requirement == Requirement.of(all_of=["read"], any_of=["a"])
    assert rule.matches("get", "/reports/1")
    assert not rule.matches("POST", "/reports/1")
    assert not rule.matches("GET", "/other")
    single = Rule.from_mapping({"methods": "DELETE", "path": "/x", "scopes": "delete"})
    assert single.matches("DELETE", "/x")
    assert not single.matches("GET", "/x")
    assert Rule.from_mapping({"path": "/any", "scopes": "a"}).matches("PATCH", "/any")


@pytest.mark.parametrize(
    "data",
    [
        {"methods": ["GET"]},
        "/path",
        {"path": "/x", "scope": "read"},
        {"path": "/x", "method": ["GET"], "scopes": ["read"]},
        ["/x"],
    ],
)
def test_bad_rules_are_refused(data: Any) -> None:
    with pytest.raises(ConfigurationError):
        Rule.from_mapping(data)


def test_guard_requirement() -> None:
    guard = Guard(
        Settings(
            issuer=ISS,
            audience=AUD,
            exempt_paths=["/health", "/docs/**"],
            rules=[
                {"path": "/reports/**", "methods": ["GET"], "scopes": ["read:reports"]},
                {"path": "/reports/**", "methods": ["POST"], "scopes": ["write:reports"]},
                {"path": "/status", "public": True},
                {"path": "/admin/**", "any_scopes": ["admin", "owner"]},
            ],
        )
    )
    marked = View((Requirement.of(all_of=["read"]),))
    open_view = View((public(lambda: None),))
    plain = View((lambda: None,))

    def needs(method: str, path: str, view: View | None = plain) -> Requirement | None:
        return guard.requirement(IncomingRequest(method, path), view)

    # Public views and exempt paths never read the token.
    assert needs("GET", "/anything", open_view) is None
    assert needs("GET", "/health") is None
    assert needs("GET", "/docs") is None
    assert needs("GET", "/docs/openapi.json", None) is None
    assert needs("GET", "/status") is None
    # ...but never open a view that asks for a requirement.
    assert needs("GET", "/docs/openapi.json", marked) == Requirement.of(all_of=["read"])
    assert needs("GET", "/health", marked) == Requirement.of(all_of=["read"])
    # Everything else needs a token: deny by default, also for unknown URLs.
    assert needs("GET", "/healthz") == ANY_VALID_TOKEN
    assert needs("GET", "/unknown", None) == ANY_VALID_TOKEN
    assert needs("GET", "/x", marked) == Requirement.of(all_of=["read"])
    assert needs("GET", "/reports/1") == Requirement.of(all_of=["read:reports"])
    assert needs("POST", "/reports/1", marked) == Requirement.of(all_of=["read", "write:reports"])
    assert needs("GET", "/admin/users") == Requirement.of(any_of=["admin", "owner"])
    # A scope rule on the path wins over @public.
    assert needs("GET", "/reports/1", open_view) == Requirement.of(all_of=["read:reports"])


def test_guard_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(issuer=ISS, audience=AUD)
    assert Guard(settings).settings is settings
    monkeypatch.setenv("AUDMW_ISSUER", ISS)
    monkeypatch.setenv("AUDMW_AUDIENCE", AUD)
    assert Guard().settings.audience == (AUD,)
    assert Guard(realm="api").settings.realm == "api"
    with pytest.raises(TypeError):
        Guard(settings, realm="api")
    guard = Guard(validator=Guard(settings).validator)
    assert guard.settings is settings
