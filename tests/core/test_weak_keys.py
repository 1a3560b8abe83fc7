"""RSA keys of an issuer's JWKS that are never used: ROCA-vulnerable moduli and weak public
exponents (Wycheproof's json_web_key_test.json vectors), refused at JWKS load with a reason."""

from __future__ import annotations

import base64
import json
import logging
import random
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from audmw import InvalidToken
from audmw.testing import LocalIssuer, SigningKey
from audmw.weak_keys import roca_fingerprint, rsa_jwk_weakness, rsa_key_weakness

from .conftest import MakeValidator

VECTORS = Path(__file__).parents[1] / "vectors" / "wycheproof" / "json_web_key_test.json"


def _groups() -> list[dict[str, Any]]:
    document = json.loads(VECTORS.read_text())
    return list(document["testGroups"])


def _group(comment: str) -> dict[str, Any]:
    return next(group for group in _groups() if group["comment"] == comment)


def _int(member: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(member + "=" * (-len(member) % 4)), "big")


def _rsa_groups() -> list[tuple[str, dict[str, Any], str]]:
    found = []
    for group in _groups():
        for jwk in group.get("public", {}).get("keys", []):
            if jwk.get("kty") == "RSA":
                found.append((group["comment"], jwk, group["tests"][0]["result"]))
    return found


def test_the_vectors_mark_a_roca_key() -> None:
    group = _group("jws_rsa_roca_key")
    assert [test["comment"] for test in group["tests"]] == ["rejectsKeyWithRocaVulnerability"]
    assert group["tests"][0]["result"] == "invalid"


@pytest.mark.parametrize(("comment", "jwk", "result"), _rsa_groups())
def test_every_wycheproof_rsa_key(comment: str, jwk: dict[str, Any], result: str) -> None:
    weakness = rsa_jwk_weakness(jwk)
    if comment == "jws_rsa_roca_key":
        assert weakness is not None
        assert weakness.reason == "rsa_key_roca"
    elif comment == "exponentOne":
        assert weakness is not None
        assert weakness.reason == "rsa_exponent_weak"
    else:
        # Sound keys, and those other checks refuse (size, use, EC members under RSA).
        assert weakness is None, (comment, result)


def test_random_keys_have_no_roca_fingerprint(signing_keys: list[SigningKey]) -> None:
    rsa_keys = [key for key in signing_keys if key.family == "rsa"]
    assert rsa_keys
    for key in rsa_keys:
        assert not roca_fingerprint(key.private_key.public_key().public_numbers().n)
    generator = random.Random(9470)  # noqa: S311  # repeatable, not secret
    for _ in range(200):
        odd = generator.getrandbits(2048) | (1 << 2047) | 1
        assert not roca_fingerprint(odd)


def _primorial() -> int:
    product = 1
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73):
        product *= p
    for p in (79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163):
        product *= p
    return product * 167


def test_any_modulus_of_rsalibs_form_has_the_fingerprint() -> None:
    # RSALib's primes are k * M + (65537 ** a mod M); the fingerprint sees only the product.
    m = _primorial()
    generator = random.Random(15361)  # noqa: S311  # repeatable, not secret
    for _ in range(50):
        p, q = (
            generator.getrandbits(800) * m + pow(65537, generator.getrandbits(64), m)
            for _ in range(2)
        )
        assert roca_fingerprint(p * q)


@pytest.mark.parametrize("e", [1, 2, 4, 65536, 0])
def test_weak_exponents(e: int) -> None:
    weakness = rsa_key_weakness((1 << 2047) + 1, e)
    assert weakness is not None
    assert weakness.reason == "rsa_exponent_weak"


@pytest.mark.parametrize("e", [3, 5, 17, 65537, (1 << 64) + 1])
def test_usable_exponents(e: int) -> None:
    assert (
        rsa_key_weakness(rsa.generate_private_key(65537, 2048).public_key().public_numbers().n, e)
        is None
    )


def test_an_exponent_past_the_modulus_is_weak() -> None:
    assert rsa_key_weakness(1001, 1003) is not None


def _roca_private_key() -> rsa.RSAPrivateKey:
    jwk = _group("jws_rsa_roca_key")["private"]["keys"][0]
    public = rsa.RSAPublicNumbers(_int(jwk["e"]), _int(jwk["n"]))
    numbers = rsa.RSAPrivateNumbers(
        p=_int(jwk["p"]),
        q=_int(jwk["q"]),
        d=_int(jwk["d"]),
        dmp1=_int(jwk["dp"]),
        dmq1=_int(jwk["dq"]),
        iqmp=_int(jwk["qi"]),
        public_numbers=public,
    )
    return numbers.private_key()


def test_a_token_signed_by_a_roca_key_is_refused_and_the_load_says_why(
    issuer: LocalIssuer, make_validator: MakeValidator, caplog: pytest.LogCaptureFixture
) -> None:
    key = SigningKey("kid-rsa-roca-sign", "rsa", _roca_private_key())
    public = _group("jws_rsa_roca_key")["public"]["keys"][0]
    issuer.extra_jwks.append(public)
    validator = make_validator()
    token = issuer.mint(key=key)
    with caplog.at_level(logging.WARNING, logger="audmw"), pytest.raises(InvalidToken) as refused:
        validator.validate(token)
    assert refused.value.reason == "unknown_kid"
    assert "kid-rsa-roca-sign" not in {k.kid for k in validator.keys[issuer.issuer].keys}
    lines = [record for record in caplog.records if getattr(record, "audmw_reason", None)]
    assert [record.audmw_reason for record in lines] == ["rsa_key_roca"]  # type: ignore[attr-defined]
    assert "ROCA" in lines[0].getMessage()
    assert "CVE-2017-15361" in lines[0].getMessage()
    # The issuer's sound keys still work.
    assert validator.validate(issuer.mint()).subject == "user-123"


def test_a_key_with_exponent_one_is_refused_at_load(
    issuer: LocalIssuer, make_validator: MakeValidator, caplog: pytest.LogCaptureFixture
) -> None:
    issuer.extra_jwks.append(_group("exponentOne")["public"]["keys"][0])
    validator = make_validator()
    with caplog.at_level(logging.WARNING, logger="audmw"):
        validator.validate(issuer.mint())
    reasons = [getattr(record, "audmw_reason", None) for record in caplog.records]
    assert "rsa_exponent_weak" in reasons
    assert "RS256_2048" not in {k.kid for k in validator.keys[issuer.issuer].keys}
