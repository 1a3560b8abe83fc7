"""Settings rules hold for every way a framework reaches a view: HEAD, trailing slashes."""

from __future__ import annotations

import pytest

from audmw import Guard, Requirement, Settings, public
from audmw.decision import View
from audmw.request import IncomingRequest
from audmw.testing import LocalIssuer

from .conftest import AUDIENCE

# -- settings rules hold for every way a framework reaches the view --------------------------------


def _needs(guard: Guard, method: str, path: str, view: View | None = None) -> Requirement | None:
    return guard.requirement(IncomingRequest(method, path), view)


def _guard(issuer: LocalIssuer, *rules: dict[str, object]) -> Guard:
    return Guard(Settings(issuer=issuer.issuer, audience=AUDIENCE, rules=list(rules)))


def test_a_get_rule_holds_for_head(issuer: LocalIssuer) -> None:
    # Starlette, Django and Flask all answer HEAD with the GET view.
    guard = _guard(issuer, {"methods": ["GET"], "path": "/reports/**", "scopes": ["read:reports"]})
    needed = Requirement.of(all_of=["read:reports"])
    assert _needs(guard, "GET", "/reports/1") == needed
    assert _needs(guard, "HEAD", "/reports/1") == needed
    assert _needs(guard, "head", "/reports/1") == needed
    assert _needs(guard, "POST", "/reports/1") == Requirement()


def test_a_head_rule_does_not_hold_for_get(issuer: LocalIssuer) -> None:
    guard = _guard(issuer, {"methods": ["HEAD"], "path": "/reports", "scopes": ["probe"]})
    assert _needs(guard, "GET", "/reports") == Requirement()


def test_a_public_get_rule_opens_head_too(issuer: LocalIssuer) -> None:
    guard = _guard(issuer, {"methods": ["GET"], "path": "/status", "public": True})
    assert _needs(guard, "HEAD", "/status") is None
    assert _needs(guard, "POST", "/status") == Requirement()


@pytest.mark.parametrize(
    ("pattern", "path"),
    [
        ("/admin", "/admin/"),
        ("/admin/", "/admin"),
        ("/users/*", "/users/42/"),
        ("/users/*/profile", "/users/42/profile/"),
    ],
)
def test_a_scope_rule_holds_with_or_without_a_trailing_slash(
    issuer: LocalIssuer, pattern: str, path: str
) -> None:
    guard = _guard(issuer, {"path": pattern, "scopes": ["admin"]})
    assert _needs(guard, "GET", path) == Requirement.of(all_of=["admin"])


def test_public_rules_and_exempt_paths_match_only_as_written(issuer: LocalIssuer) -> None:
    guard = Guard(
        Settings(
            issuer=issuer.issuer,
            audience=AUDIENCE,
            exempt_paths=["/health"],
            rules=[{"path": "/status", "public": True}],
        )
    )
    assert _needs(guard, "GET", "/health") is None
    assert _needs(guard, "GET", "/status") is None
    assert _needs(guard, "GET", "/health/") == Requirement()
    assert _needs(guard, "GET", "/status/") == Requirement()


def test_a_scope_rule_still_ends_at_its_last_segment(issuer: LocalIssuer) -> None:
    guard = _guard(issuer, {"path": "/admin", "scopes": ["admin"]})
    assert _needs(guard, "GET", "/admins") == Requirement()
    assert _needs(guard, "GET", "/admin/x") == Requirement()


def test_decisions_by_path_stay_right_and_bounded_for_made_up_paths(issuer: LocalIssuer) -> None:
    guard = _guard(issuer, {"methods": ["GET"], "path": "/reports/*", "scopes": ["read:reports"]})
    needed = Requirement.of(all_of=["read:reports"])
    marked = Requirement.of(all_of=["admin"])
    open_view = View((public(lambda: None),))
    for number in range(5000):
        assert _needs(guard, "GET", f"/reports/{number}") == needed
        assert _needs(guard, "GET", f"/reports/{number}", View((marked,))) == needed & marked
        # A scope rule on the path wins over @public.
        assert _needs(guard, "GET", f"/reports/{number}", open_view) == needed
        assert _needs(guard, "GET", f"/other/{number}") == Requirement()
    assert guard.paths.remembered <= 1024
