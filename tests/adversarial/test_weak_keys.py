"""A published RSA key with the ROCA structure (CVE-2017-15361) never verifies anything."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from audmw import InvalidToken, Settings, TokenValidator
from audmw.keys import has_roca_fingerprint
from audmw.testing import LocalIssuer, generate_key

_PRIMES = tuple(p for p in range(3, 168) if all(p % d for d in range(2, p)))


def _roca_shaped(bits: int = 2048) -> int:
    """A number of the ROCA form, 65537^a mod M plus a multiple of M (M: the primes' product).

    Not a usable key: only its residues, the fingerprint, matter here.
    """
    primorial = 1
    for p in _PRIMES:
        primorial *= p
    return pow(65537, 123456789, primorial) + primorial * ((1 << (bits - 1)) // primorial + 1)


def test_generated_keys_have_no_fingerprint() -> None:
    for _ in range(5):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        assert not has_roca_fingerprint(key.public_key().public_numbers().n)


def test_a_roca_shaped_modulus_has_the_fingerprint() -> None:
    assert has_roca_fingerprint(_roca_shaped())
    assert not has_roca_fingerprint(_roca_shaped() + 2)


def test_a_roca_key_in_the_jwks_is_not_used() -> None:
    key = generate_key("rsa", "roca")
    jwk = key.public_jwk()
    modulus = _roca_shaped()
    jwk["n"] = _b64(modulus.to_bytes((modulus.bit_length() + 7) // 8, "big"))
    # Beside a usable key: a set with none at all is a failed fetch (503), not this case.
    with LocalIssuer(keys=[generate_key("ec-p256")]) as issuer:
        issuer.extra_jwks.append(jwk)
        validator = TokenValidator(Settings(issuer=issuer.issuer, audience=issuer.audience))
        # Signed by another key: only whether the key was loaded decides the reason.
        token = issuer.mint(key=key, kid="roca")
        with pytest.raises(InvalidToken) as refused:
            validator.validate(token)
    assert refused.value.reason == "unknown_kid"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
