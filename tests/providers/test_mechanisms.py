"""The general settings underneath the presets, usable for a provider that has none."""

from __future__ import annotations

from typing import Any

import pytest

from audmw import ConfigurationError, Settings, TokenValidator
from audmw.testing import LocalIssuer

from .conftest import refusal


def test_issuer_template_needs_a_jwks_uri() -> None:
    with pytest.raises(ConfigurationError, match="jwks_uri"):
        Settings(issuer="https://login.example.com/{tenantid}/v2.0", audience="a")
    with pytest.raises(ConfigurationError, match="placeholder"):
        Settings(issuer="https://login.example.com/{tenant}/", audience="a", jwks_uri="https://k")
    with pytest.raises(ConfigurationError, match="allowed_tenants"):
        Settings(issuer="https://login.example.com/", audience="a", allowed_tenants="x")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("token_use=access", (("token_use", ("access",)),)),
        ("a=1, a=2, b=x", (("a", ("1", "2")), ("b", ("x",)))),
        ('{"email_verified": true, "n": [1, 2]}', (("email_verified", (True,)), ("n", (1, 2)))),
        ({"token_use": "access"}, (("token_use", ("access",)),)),
    ],
)
def test_required_claims_forms(value: Any, expected: Any) -> None:
    settings = Settings(issuer="https://i.example.com", audience="a", required_claims=value)
    assert settings.required_claims == expected


@pytest.mark.parametrize("value", ["token_use", "{not json", '{"a": {"b": 1}}', '{"a": []}'])
def test_required_claims_errors(value: str) -> None:
    with pytest.raises(ConfigurationError, match="required_claims"):
        Settings(issuer="https://i.example.com", audience="a", required_claims=value)


@pytest.mark.parametrize(
    ("wanted", "actual", "accepted"),
    [
        (True, True, True),
        (True, 1, False),
        (1, True, False),
        (1, 1.0, True),
        ("1", 1, False),
        ("a", ["a"], False),
    ],
)
def test_required_claim_values_compare_as_json(
    issuer: LocalIssuer, wanted: Any, actual: Any, accepted: bool
) -> None:
    validator = TokenValidator(
        Settings(issuer=issuer.issuer, audience="a", required_claims={"x": wanted})
    )
    token = issuer.mint(aud="a", x=actual)
    if accepted:
        assert validator.validate(token).claims["x"] == actual
    else:
        assert refusal(validator, token).reason == "claim_mismatch"


def test_audience_claim_for_servers_that_put_the_api_elsewhere(issuer: LocalIssuer) -> None:
    validator = TokenValidator(
        Settings(issuer=issuer.issuer, audience="orders", audience_claim="resource")
    )
    assert validator.validate(issuer.mint(aud=None, resource="orders")).audience == ("orders",)
    # The usual aud does not stand in for the configured claim.
    assert refusal(validator, issuer.mint(aud="orders")).reason == "aud_missing"
    assert refusal(validator, issuer.mint(resource=["billing"])).reason == "aud_mismatch"


def test_nested_claim_paths_with_dotted_names(issuer: LocalIssuer) -> None:
    validator = TokenValidator(
        Settings(
            issuer=issuer.issuer,
            audience="a",
            scope_claims=["roles.api.example.com", "realm.a.b.roles"],
        )
    )
    token = issuer.mint(
        aud="a",
        roles={"api.example.com": ["x"], "api": {"example": {"com": ["wrong"]}}},
        realm={"a.b": {"roles": ["y"]}},
    )
    assert validator.validate(token).scopes == {"x", "y"}
