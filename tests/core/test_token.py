"""AccessToken: what a verified token says, scopes from any configured claim, client ids."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from audmw import AccessToken, TokenValidator
from audmw.testing import LocalIssuer

from .conftest import AUDIENCE, MakeValidator


def test_fields(issuer: LocalIssuer, validator: TokenValidator) -> None:
    raw = issuer.mint(sub="alice", scopes=["read", "write"], jti="id-1", expires_in=120)
    token = validator.validate(raw)
    assert isinstance(token, AccessToken)
    assert token.subject == "alice"
    assert token.issuer == issuer.issuer
    assert token.audience == (AUDIENCE,)
    assert token.scopes == frozenset({"read", "write"})
    assert isinstance(token.scopes, frozenset)
    assert token.client_id == "test-client"
    assert token.expires_at == token.claims["exp"]
    assert token.token_id == "id-1"
    assert token.fingerprint == hashlib.sha256(raw.encode()).hexdigest()[:16]
    assert token["sub"] == "alice"
    assert token.has_scopes("read")
    assert not token.has_scopes("read", "admin")


def test_claims_are_read_only(issuer: LocalIssuer, validator: TokenValidator) -> None:
    token = validator.validate(issuer.mint())
    with pytest.raises(TypeError):
        token.claims["sub"] = "mallory"  # type: ignore[index]
    with pytest.raises(AttributeError):
        token.subject = "mallory"  # type: ignore[misc]


def test_repr_never_shows_the_token(issuer: LocalIssuer, validator: TokenValidator) -> None:
    raw = issuer.mint(scopes="read")
    token = validator.validate(raw)
    text = repr(token) + str(token)
    for part in [raw, *raw.split(".")[1:]]:
        assert part not in text
    assert token.fingerprint in text
    assert "read" in text


def test_non_string_subject_and_jti_are_none(
    issuer: LocalIssuer, validator: TokenValidator
) -> None:
    token = validator.validate(issuer.mint(sub=None, jti=7))
    assert token.subject is None
    assert token.token_id is None
    assert validator.validate(issuer.mint(sub=42)).subject is None


@pytest.mark.parametrize(
    ("claims", "scopes"),
    [
        # Only spaces separate scope tokens (RFC 6749 §3.3): a tab does not.
        ({"scope": "read  write\tadmin"}, {"read", "write\tadmin"}),
        ({"scope": ["read", "write"]}, {"read", "write"}),
        ({"scp": ["read", "write"]}, {"read", "write"}),
        ({"scp": "read write"}, {"read", "write"}),
        ({"scope": "read", "scp": ["write"]}, {"read", "write"}),
        ({"scope": ["read", 7, None, {"x": 1}]}, {"read"}),
        ({"scope": 7}, set()),
        ({"scope": ""}, set()),
        ({}, set()),
        ({"permissions": ["admin"]}, set()),  # not a configured claim
    ],
)
def test_scopes_from_default_claims(
    issuer: LocalIssuer, validator: TokenValidator, claims: dict[str, Any], scopes: set[str]
) -> None:
    assert validator.validate(issuer.mint(**claims)).scopes == scopes


def test_scopes_from_custom_claims(issuer: LocalIssuer, make_validator: MakeValidator) -> None:
    validator = make_validator(scope_claims=["scope", "permissions", "realm_access.roles"])
    token = validator.validate(
        issuer.mint(
            scope="openid",
            permissions=["read:messages", "write:messages"],
            realm_access={"roles": ["admin", "user"]},
            scp=["ignored"],
        )
    )
    assert token.scopes == {"openid", "read:messages", "write:messages", "admin", "user"}


def test_only_the_configured_claims(issuer: LocalIssuer, make_validator: MakeValidator) -> None:
    validator = make_validator(scope_claims="permissions")
    token = validator.validate(issuer.mint(scope="read", permissions="write admin"))
    assert token.scopes == {"write", "admin"}


@pytest.mark.parametrize(
    "claims",
    [
        {"realm_access": {"roles": "admin"}},
        {"realm_access.roles": ["admin"]},  # a literal dotted name is found too
    ],
)
def test_dotted_scope_claims(
    issuer: LocalIssuer, make_validator: MakeValidator, claims: dict[str, Any]
) -> None:
    validator = make_validator(scope_claims=["realm_access.roles"])
    assert validator.validate(issuer.mint(**claims)).scopes == {"admin"}


@pytest.mark.parametrize(
    "claims", [{"realm_access": ["roles"]}, {"realm_access": {"other": ["admin"]}}, {}]
)
def test_dotted_scope_claims_that_do_not_resolve(
    issuer: LocalIssuer, make_validator: MakeValidator, claims: dict[str, Any]
) -> None:
    validator = make_validator(scope_claims=["realm_access.roles"])
    assert validator.validate(issuer.mint(**claims)).scopes == frozenset()


@pytest.mark.parametrize("claim", ["client_id", "azp", "cid", "appid"])
def test_client_id_sources(issuer: LocalIssuer, validator: TokenValidator, claim: str) -> None:
    claims: dict[str, Any] = {"client_id": None, claim: "the-client"}
    token = validator.validate(issuer.mint(**claims))
    assert token.client_id == "the-client"


def test_client_id_takes_precedence(issuer: LocalIssuer, validator: TokenValidator) -> None:
    token = validator.validate(issuer.mint(client_id="first", azp="second", appid="fourth"))
    assert token.client_id == "first"
    token = validator.validate(issuer.mint(client_id=7, azp="second", cid="third"))
    assert token.client_id == "second"
    assert validator.validate(issuer.mint(client_id=None)).client_id is None


@pytest.mark.parametrize(
    ("claims", "username"),
    [
        ({"username": "alice"}, "alice"),  # RFC 7662's member, Cognito's claim
        ({"preferred_username": "alice@example.com"}, "alice@example.com"),  # Keycloak, Entra
        ({"username": "alice", "preferred_username": "other"}, "alice"),
        ({"username": 42, "preferred_username": "bob"}, "bob"),  # not a string: not a name
        ({"username": ""}, None),
        ({}, None),
    ],
)
def test_username(
    issuer: LocalIssuer, validator: TokenValidator, claims: dict[str, Any], username: str | None
) -> None:
    token = validator.validate(issuer.mint(**claims))
    assert token.username == username
    assert token.subject == "user-123"  # the identity stays the subject
