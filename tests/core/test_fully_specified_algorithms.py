"""RFC 9864's fully specified ``Ed25519`` and ``Ed448``, beside the polymorphic ``EdDSA``,
each bound to the keys of its own curve."""

from __future__ import annotations

import pytest

from audmw import InvalidToken, TokenValidator
from audmw.settings import DEFAULT_ALGORITHMS
from audmw.testing import LocalIssuer

from .conftest import MakeValidator


def reason_of(validator: TokenValidator, token: str) -> str:
    with pytest.raises(InvalidToken) as refused:
        validator.validate(token)
    return refused.value.reason


def test_both_are_allowed_by_default() -> None:
    assert {"EdDSA", "Ed25519", "Ed448"} <= set(DEFAULT_ALGORITHMS)


@pytest.mark.parametrize("alg", ["Ed25519", "Ed448", "EdDSA"])
def test_tokens_signed_with_each_name_are_accepted(
    issuer: LocalIssuer, make_validator: MakeValidator, alg: str
) -> None:
    assert make_validator().validate(issuer.mint(alg=alg)).subject == "user-123"


def test_eddsa_verifies_with_either_curve(
    issuer: LocalIssuer, make_validator: MakeValidator
) -> None:
    ed448_key = issuer.key_for("Ed448")
    token = issuer.mint(alg="EdDSA", key=ed448_key)
    assert make_validator().validate(token).subject == "user-123"


@pytest.mark.parametrize(("alg", "other"), [("Ed25519", "Ed448"), ("Ed448", "Ed25519")])
def test_a_name_never_uses_the_other_curve(
    issuer: LocalIssuer, make_validator: MakeValidator, alg: str, other: str
) -> None:
    # Signed with the other curve's key, under that key's kid: the key does not fit the alg.
    token = issuer.mint(alg=alg, key=issuer.key_for(other))
    assert reason_of(make_validator(), token) == "key_alg_mismatch"


def test_a_key_bound_to_eddsa_does_not_verify_ed25519(
    issuer: LocalIssuer, make_validator: MakeValidator
) -> None:
    key = issuer.key_for("Ed25519")
    issuer.unpublish(key.kid)
    issuer.extra_jwks.append({**key.public_jwk(), "alg": "EdDSA"})
    validator = make_validator()
    assert validator.validate(issuer.mint(alg="EdDSA")).subject == "user-123"
    assert reason_of(validator, issuer.mint(alg="Ed25519")) == "key_alg_mismatch"


def test_a_key_bound_to_ed25519_does_not_verify_eddsa(
    issuer: LocalIssuer, make_validator: MakeValidator
) -> None:
    key = issuer.key_for("Ed25519")
    issuer.unpublish(key.kid)
    issuer.extra_jwks.append({**key.public_jwk(), "alg": "Ed25519"})
    validator = make_validator()
    assert validator.validate(issuer.mint(alg="Ed25519")).subject == "user-123"
    assert reason_of(validator, issuer.mint(alg="EdDSA")) == "key_alg_mismatch"


def test_the_allow_list_holds_for_the_new_names(
    issuer: LocalIssuer, make_validator: MakeValidator
) -> None:
    only_eddsa = make_validator(algorithms=["EdDSA"])
    assert reason_of(only_eddsa, issuer.mint(alg="Ed25519")) == "alg_not_allowed"
    only_ed25519 = make_validator(algorithms=["Ed25519"])
    assert reason_of(only_ed25519, issuer.mint(alg="EdDSA")) == "alg_not_allowed"
    assert reason_of(only_ed25519, issuer.mint(alg="Ed448")) == "alg_not_allowed"
    assert only_ed25519.validate(issuer.mint(alg="Ed25519")).subject == "user-123"
