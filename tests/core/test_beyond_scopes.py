"""Requirements beyond scopes: the user's authentication (RFC 9470), authorization details
(RFC 9396) and the kind of token (RFC 9700 §4.15), their combination and their answers."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import pytest

from audmw import (
    ConfigurationError,
    DetailRequirement,
    Guard,
    InsufficientAuthorizationDetails,
    InsufficientScope,
    InsufficientUserAuthentication,
    Requirement,
    Rule,
    Settings,
    WrongTokenKind,
    answer,
    require_app,
    require_authentication,
    require_authorization_details,
    require_scopes,
    require_user,
)
from audmw.decision import View, decide
from audmw.marks import hidden_marks, requirement_of
from audmw.request import IncomingRequest
from audmw.requirements import acr_values_of, authorization_details_types_of
from audmw.testing import LocalIssuer
from audmw.token import AccessToken, token_kind

ISS = "https://issuer.example.com/"
AUD = "https://api.example.com"
NOW = 1_800_000_000.0


def token(scopes: tuple[str, ...] = (), **claims: Any) -> AccessToken:
    claims.setdefault("sub", "alice")
    claims.setdefault("client_id", "app1")
    return AccessToken(
        claims=claims,
        subject=claims.get("sub"),
        issuer=ISS,
        audience=(AUD,),
        scopes=frozenset(scopes),
        client_id=claims.get("client_id"),
        expires_at=NOW + 300,
    )


def small_payment(entry: Mapping[str, Any]) -> bool:
    amount = entry["instructedAmount"]["amount"]
    return isinstance(amount, int | float) and amount <= 100


PAYMENT = DetailRequirement("payment_initiation", small_payment)


# -- the user's authentication ------------------------------------------------------------------


def test_acr_values_are_any_of() -> None:
    requirement = Requirement.of(acr_values=["phr", "phrh"])
    requirement.check(token(acr="phr"), NOW)
    requirement.check(token(acr="phrh"), NOW)
    for claims in ({"acr": "1"}, {}, {"acr": ["phr"]}, {"acr": 2}):
        with pytest.raises(InsufficientUserAuthentication) as refused:
            requirement.check(token(**claims), NOW)
        assert refused.value.status == 401
        assert refused.value.reason == "acr_not_accepted"
        assert refused.value.acr_values == ("phr", "phrh")
        assert refused.value.max_age is None


def test_max_age_against_auth_time() -> None:
    requirement = Requirement.of(max_age=300)
    requirement.check(token(auth_time=NOW - 300), NOW)
    requirement.check(token(auth_time=int(NOW) - 10), NOW)
    for claims, reason in (
        ({"auth_time": NOW - 301}, "authentication_too_old"),
        ({}, "auth_time_missing"),
        ({"auth_time": "1800000000"}, "auth_time_missing"),
        ({"auth_time": True}, "auth_time_missing"),
        ({"auth_time": NOW + 3600}, "auth_time_in_future"),
    ):
        with pytest.raises(InsufficientUserAuthentication) as refused:
            requirement.check(token(**claims), NOW)
        assert refused.value.reason == reason
        assert refused.value.max_age == 300
        assert refused.value.acr_values == ()


def test_max_age_zero_needs_an_authentication_now() -> None:
    Requirement.of(max_age=0).check(token(auth_time=NOW), NOW)
    with pytest.raises(InsufficientUserAuthentication):
        Requirement.of(max_age=0).check(token(auth_time=NOW - 1), NOW)


def test_the_step_up_challenge_is_rfc_9470s() -> None:
    error = InsufficientUserAuthentication(
        "acr_not_accepted", acr_values=("phr", "phrh"), max_age=300
    )
    status, headers, body = answer(error)
    assert status == 401
    assert dict(headers)["WWW-Authenticate"] == (
        'Bearer error="insufficient_user_authentication", error_description="The user '
        'authentication does not meet the requirements of this resource", '
        'acr_values="phr phrh", max_age="300"'
    )
    assert json.loads(body) == {
        "error": "insufficient_user_authentication",
        "error_description": "The user authentication does not meet the requirements of "
        "this resource",
        "acr_values": "phr phrh",
        "max_age": 300,
    }


def test_the_challenge_names_only_what_is_required() -> None:
    with pytest.raises(InsufficientUserAuthentication) as refused:
        Requirement.of(max_age=60).check(token(auth_time=NOW - 61), NOW)
    value = dict(answer(refused.value).headers)["WWW-Authenticate"]
    assert value == (
        'Bearer error="insufficient_user_authentication", error_description="A more recent '
        'authentication is required", max_age="60"'
    )


@pytest.mark.parametrize("values", [[], "", ["a b"], ['a"'], ["a\\b"], [1]])
def test_acr_values_that_cannot_go_into_a_challenge_are_refused(values: Any) -> None:
    with pytest.raises(ConfigurationError):
        Requirement.of(acr_values=values)


@pytest.mark.parametrize("age", [-1, 1.5, True, "60", float("inf"), float("nan")])
def test_bad_max_age_is_refused(age: Any) -> None:
    with pytest.raises(ConfigurationError):
        Requirement.of(max_age=age)


def test_require_authentication_needs_something() -> None:
    with pytest.raises(ValueError):
        require_authentication()


def test_step_up_comes_before_scopes() -> None:
    # One round trip: the client asks the user to authenticate and for the scopes at once.
    requirement = Requirement.of(["write"], acr_values=["phr"])
    with pytest.raises(InsufficientUserAuthentication):
        requirement.check(token(("read",), acr="1"), NOW)
    with pytest.raises(InsufficientScope):
        requirement.check(token(("read",), acr="phr"), NOW)
    requirement.check(token(("write",), acr="phr"), NOW)


# -- combining ---------------------------------------------------------------------------------


def test_combined_acr_values_are_the_ones_in_common() -> None:
    both = Requirement.of(acr_values=["a", "b"]) & Requirement.of(acr_values=["b", "c"])
    assert both.acr_values == frozenset({"b"})
    both.check(token(acr="b"), NOW)
    with pytest.raises(InsufficientUserAuthentication):
        both.check(token(acr="a"), NOW)


def test_acr_values_with_nothing_in_common_refuse_every_token() -> None:
    both = Requirement.of(acr_values=["a"]) & Requirement.of(acr_values=["b"])
    assert both.acr_values == frozenset()
    for acr in ("a", "b"):
        with pytest.raises(InsufficientUserAuthentication) as refused:
            both.check(token(acr=acr), NOW)
        assert "nothing in common" in (refused.value.hint or "")


def test_combined_max_age_is_the_shorter() -> None:
    both = Requirement.of(max_age=600) & Requirement.of(["read"], max_age=60)
    assert both.max_age == 60
    assert both.all_of == frozenset({"read"})
    assert (Requirement.of(max_age=60) & Requirement()).max_age == 60


def test_combining_is_order_free_and_never_loosens() -> None:
    parts = [
        Requirement.of(["read"]),
        Requirement.of(acr_values=["a", "b"], max_age=600),
        Requirement.of(details=[PAYMENT]),
        Requirement.of(kind="user"),
        Requirement.of(acr_values=["b"], max_age=60),
    ]
    forward = parts[0]
    for part in parts[1:]:
        forward = forward & part
    backward = parts[-1]
    for part in reversed(parts[:-1]):
        backward = backward & part
    assert forward == backward
    for part in parts:
        assert forward.includes(part)
        assert not part.includes(forward)


def test_includes() -> None:
    strong = Requirement.of(acr_values=["phrh"], max_age=60)
    weak = Requirement.of(acr_values=["phr", "phrh"], max_age=600)
    assert strong.includes(weak)
    assert not weak.includes(strong)
    assert not Requirement().includes(Requirement.of(max_age=1))
    assert not Requirement().includes(Requirement.of(kind="app"))


def test_marks_stack_and_a_scope_decorator_takes_step_up_arguments() -> None:
    @require_user
    @require_authorization_details("payment_initiation", small_payment)
    @require_scopes("pay", acr_values=["phr"], max_age=300)
    def view() -> None: ...

    found = requirement_of(view)
    assert found == Requirement.of(
        ["pay"], acr_values=["phr"], max_age=300, details=[PAYMENT], kind="user"
    )
    assert found is not None
    assert "acr (phr)" in found.describe()
    assert "max_age 300" in found.describe()
    assert "authorization_details payment_initiation where small_payment" in found.describe()


def test_public_never_opens_a_step_up_view() -> None:
    from audmw import public

    @public
    @require_authentication(max_age=60)
    def view() -> None: ...

    assert decide(View((view,)), True, None, False) == Requirement.of(max_age=60)


def test_a_hidden_step_up_mark_is_found() -> None:
    @require_authentication(acr_values=["phr"])
    def inner() -> None: ...

    def outer() -> None:
        inner()

    outer.__wrapped__ = inner  # type: ignore[attr-defined]
    assert hidden_marks([outer]) == [inner]


# -- authorization details ---------------------------------------------------------------------


def payment(amount: Any, **more: Any) -> dict[str, Any]:
    return {"type": "payment_initiation", "instructedAmount": {"amount": amount}, **more}


def test_an_entry_of_the_type_meeting_the_condition() -> None:
    requirement = Requirement.of(details=[PAYMENT])
    requirement.check(token(authorization_details=[payment(100)]), NOW)
    requirement.check(
        token(authorization_details=[{"type": "account_information"}, payment(5)]), NOW
    )
    for claims in (
        {"authorization_details": [payment(101)]},
        {"authorization_details": [{"type": "account_information"}]},
        {"authorization_details": []},
        {"authorization_details": payment(5)},  # not an array
        {"authorization_details": [[payment(5)]]},
        {"authorization_details": [{"instructedAmount": {"amount": 5}}]},  # no type
        {},
    ):
        with pytest.raises(InsufficientAuthorizationDetails) as refused:
            requirement.check(token(**claims), NOW)
        assert refused.value.status == 403
        assert refused.value.types == ("payment_initiation",)


def test_a_condition_that_raises_or_is_not_a_bool_means_not_met() -> None:
    requirement = Requirement.of(details=[PAYMENT])
    for entry in (payment("5"), {"type": "payment_initiation"}, payment(None)):
        with pytest.raises(InsufficientAuthorizationDetails) as refused:
            requirement.check(token(authorization_details=[entry]), NOW)
        assert "condition raised" in (refused.value.hint or "") or "payment_initiation" in (
            refused.value.hint or ""
        )
    truthy = Requirement.of(details=[DetailRequirement("t", lambda entry: 1)])  # type: ignore[arg-type,return-value]
    with pytest.raises(InsufficientAuthorizationDetails) as refused:
        truthy.check(token(authorization_details=[{"type": "t"}]), NOW)
    assert "not True or False" in (refused.value.hint or "")


def test_the_hint_never_quotes_the_entry() -> None:
    def picky(entry: Mapping[str, Any]) -> bool:
        raise ValueError(f"bad {entry['secret']}")

    requirement = Requirement.of(details=[DetailRequirement("t", picky)])
    with pytest.raises(InsufficientAuthorizationDetails) as refused:
        requirement.check(token(authorization_details=[{"type": "t", "secret": "s3cr3t"}]), NOW)
    assert "s3cr3t" not in (refused.value.hint or "")
    assert "ValueError" in (refused.value.hint or "")


def test_every_detail_requirement_must_be_met() -> None:
    requirement = Requirement.of(details=[PAYMENT, DetailRequirement("account_information")])
    with pytest.raises(InsufficientAuthorizationDetails) as refused:
        requirement.check(token(authorization_details=[payment(1)]), NOW)
    assert refused.value.types == ("account_information",)
    requirement.check(
        token(authorization_details=[payment(1), {"type": "account_information"}]), NOW
    )


def test_the_details_answer() -> None:
    status, headers, body = answer(InsufficientAuthorizationDetails(("payment_initiation",)))
    assert status == 403
    assert dict(headers)["WWW-Authenticate"] == (
        'Bearer error="insufficient_authorization_details", error_description="The access '
        'token lacks the authorization details this resource requires"'
    )
    assert json.loads(body)["error"] == "insufficient_authorization_details"


def test_the_token_shows_its_well_formed_entries() -> None:
    entries = [payment(1), "x", {"type": 3}, {"type": "account_information", "accounts": []}]
    found = token(authorization_details=entries)
    assert found.authorization_details == (entries[0], entries[3])
    assert found.authorization_details_of("payment_initiation") == (entries[0],)
    assert token().authorization_details == ()


@pytest.mark.parametrize("kind", ["a b", "", 'x"', 5])
def test_detail_types_that_cannot_be_named_are_refused(kind: Any) -> None:
    with pytest.raises(ConfigurationError):
        DetailRequirement(kind)


def test_a_condition_must_be_callable() -> None:
    with pytest.raises(ConfigurationError):
        DetailRequirement("t", 5)  # type: ignore[arg-type]


# -- the kind of token -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "kind"),
    [
        ({"idtyp": "app", "sub": "x", "appid": "c"}, "app"),
        ({"idtyp": "user", "sub": "x", "appid": "c"}, "user"),
        ({"gty": "client-credentials", "sub": "c@clients", "azp": "c"}, "app"),
        ({"client_id": "c"}, "app"),  # no sub: no user
        ({"sub": "c", "client_id": "c"}, "app"),  # RFC 9068 §2.2
        ({"sub": "c", "cid": "c"}, "app"),  # Okta
        ({"sub": "alice", "client_id": "c"}, "user"),
        ({"sub": "alice", "azp": "c", "gty": "password"}, "user"),
        ({"sub": "alice"}, None),  # nothing to compare with
        # Entra ID without idtyp: app tokens have sub == oid; user tokens carry scp.
        ({"sub": "o1", "oid": "o1", "tid": "t", "appid": "c", "roles": ["r"]}, "app"),
        ({"sub": "p1", "oid": "o1", "tid": "t", "appid": "c", "scp": "read"}, "user"),
        ({"sub": "p1", "oid": "o1", "tid": "t", "appid": "c"}, None),
        # Keycloak service accounts.
        ({"sub": "u1", "azp": "c", "preferred_username": "service-account-c"}, "app"),
        ({"sub": "u1", "azp": "c", "clientHost": "10.0.0.1"}, "app"),
    ],
)
def test_token_kind(claims: dict[str, Any], kind: str | None) -> None:
    assert token_kind(claims) == kind


def test_require_user_and_require_app() -> None:
    @require_user
    def for_users() -> None: ...

    @require_app
    def for_apps() -> None: ...

    user_token = token(sub="alice", client_id="c")
    app_token = token(sub="c", client_id="c")
    unknown = token(sub="alice", client_id=None)
    users, apps = requirement_of(for_users), requirement_of(for_apps)
    assert users is not None
    assert apps is not None
    users.check(user_token, NOW)
    apps.check(app_token, NOW)
    for requirement, refused_token, needed in (
        (users, app_token, "user"),
        (users, unknown, "user"),
        (apps, user_token, "app"),
        (apps, unknown, "app"),
    ):
        with pytest.raises(WrongTokenKind) as refused:
            requirement.check(refused_token, NOW)
        assert refused.value.status == 403
        assert refused.value.reason == f"{needed}_token_required"
        _status, headers, _ = answer(refused.value)
        assert dict(headers)["WWW-Authenticate"].startswith('Bearer error="insufficient_scope"')
        assert "scope=" not in dict(headers)["WWW-Authenticate"]
    both = users & apps
    for either in (user_token, app_token):
        with pytest.raises(WrongTokenKind):
            both.check(either, NOW)


# -- rules ---------------------------------------------------------------------------------------


def test_rules_ask_for_everything_decorators_can() -> None:
    rule = Rule.from_mapping(
        {
            "path": "/pay/**",
            "scopes": "pay",
            "acr_values": ["phr", "phrh"],
            "max_age": 300,
            "authorization_details": ["payment_initiation"],
            "token_kind": "user",
        }
    )
    assert rule.requirement == Requirement.of(
        ["pay"],
        acr_values=["phr", "phrh"],
        max_age=300,
        details=[DetailRequirement("payment_initiation")],
        kind="user",
    )
    alone = Rule.from_mapping({"path": "/x", "max_age": 0})
    assert alone.requirement == Requirement.of(max_age=0)
    coded = Rule.from_mapping({"path": "/x", "authorization_details": [PAYMENT]})
    assert coded.requirement.details == frozenset({PAYMENT})


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"path": "/x", "public": True, "max_age": 5}, "is public and names"),
        ({"path": "/x", "public": True, "token_kind": "app"}, "is public and names"),
        ({"path": "/x", "acr_values": []}, "acr_values is empty"),
        ({"path": "/x", "max_age": "soon"}, "max_age"),
        ({"path": "/x", "token_kind": "robot"}, "'user' or 'app'"),
        ({"path": "/x", "authorization_details": {"type": "t"}}, "list of types"),
        ({"path": "/x", "authorization_details": [5]}, "neither a type"),
        ({"path": "/x", "authorization_details": []}, "asks for nothing"),
        ({"path": "/x", "acr": "phr"}, "did you mean 'acr_values'"),
        ({"path": "/x", "kind": "user"}, "did you mean 'token_kind'"),
    ],
)
def test_rules_that_mean_nothing_are_refused(data: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        Rule.from_mapping(data)
    assert words in str(refused.value)


# -- what resource metadata advertises (RFC 9728 §2) -------------------------------------------


def test_the_acr_values_and_types_the_requirements_name() -> None:
    requirements = [
        Requirement.of(["read"]),
        None,
        Requirement.of(acr_values=["phrh", "phr"], details=[PAYMENT]),
        Requirement.of(acr_values=["mfa"], max_age=60),
        Requirement.of(details=[DetailRequirement("account_information"), PAYMENT]),
    ]
    assert acr_values_of(requirements) == ("mfa", "phr", "phrh")
    assert authorization_details_types_of(requirements) == (
        "account_information",
        "payment_initiation",
    )
    assert acr_values_of([Requirement.of(["read"])]) == ()


# -- through Guard, with a real issuer -----------------------------------------------------------


def test_guard_logs_the_reason_and_never_the_token(
    issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    guard = Guard(Settings(issuer=issuer.issuer, audience=issuer.audience))
    requirement = Requirement.of(acr_values=["phrh"], max_age=60, details=[PAYMENT])
    raw = issuer.mint(acr="phr", auth_time=int(time.time()) - 5)
    request = IncomingRequest("GET", "/pay", credentials=(f"Bearer {raw}",))
    with (
        caplog.at_level(logging.INFO, logger="audmw"),
        pytest.raises(InsufficientUserAuthentication) as refused,
    ):
        guard.authorize(request, requirement)
    assert refused.value.reason == "acr_not_accepted"
    (record,) = [r for r in caplog.records if getattr(r, "audmw_reason", None)]
    assert record.audmw_reason == "acr_not_accepted"  # type: ignore[attr-defined]
    assert "acr 'phr' is not one of phrh" in record.getMessage()
    assert raw not in caplog.text
    assert raw.split(".")[1] not in caplog.text

    good = issuer.mint(
        acr="phrh", auth_time=int(time.time()) - 5, authorization_details=[payment(5)]
    )
    token = guard.authorize(
        IncomingRequest("GET", "/pay", credentials=(f"Bearer {good}",)), requirement
    )
    assert token.authorization_details == (payment(5),)
    assert token.authentication_context == "phrh"
