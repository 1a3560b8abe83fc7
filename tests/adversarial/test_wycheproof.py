"""Project Wycheproof's JOSE and signature vectors through the library's parse and signature path.

The vectors (``tests/vectors/wycheproof``, see SOURCE.md there) sign payloads that are not
JWT claims ("foo", empty, binary), so a vector is judged up to and including the signature,
in the validator's order: the compact form with ``jws.parse``
and ``jws.b64decode``, the header's ``alg`` against the allow-list and ``crit``, the key as
``IssuerKeys`` loads and selects it from a JWKS served over HTTP by a ``LocalIssuer``, then the
signature with the algorithm object the validator calls. Every JWS vector also goes through
``TokenValidator.validate`` whole, which must refuse it with a reason (none of them is an
access token) and never raise anything else.

``valid`` vectors must be accepted and ``invalid`` ones refused; ``acceptable`` ones may go
either way. Where the library is deliberately stricter than a ``valid`` vector, ``STRICTER``
says why; a vector the library accepts against Wycheproof's ``invalid`` always fails.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from jwt.algorithms import get_default_algorithms

from audmw import Settings, TokenValidator, jws
from audmw.errors import AuthError, InvalidToken
from audmw.keys import IssuerKeys
from audmw.settings import DEFAULT_ALGORITHMS
from audmw.testing import LocalIssuer

# Every test here once per base64 decoder: both refuse exactly the same tokens.
pytestmark = pytest.mark.usefixtures("each_base64_decoder")

# The copies in tests/vectors (see SOURCE.md there); WYCHEPROOF_VECTORS names newer ones.
VECTORS = Path(
    os.environ.get("WYCHEPROOF_VECTORS") or Path(__file__).parents[1] / "vectors" / "wycheproof"
)
_ALGORITHMS = get_default_algorithms()
_BASE64URL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_PRIVATE = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_EMPTY_OBJECT = base64.urlsafe_b64encode(b"{}").rstrip(b"=")

# Vectors Wycheproof calls valid that the library refuses on purpose, by reason.
_NOT_JWT = (
    "the payload is not a JSON object; an access token is a JWT, whose payload is one "
    "(RFC 7519 §7.2)"
)
_EMPTY = "an empty payload segment is no JWT (RFC 7519 §7.2); the compact form needs three parts"
_HEADER_NOT_CANONICAL = "non-canonical or foreign bytes in a segment: one token has one spelling"
STRICTER_BY_COMMENT = {
    # RFC 7520 §4.2 (PS384) and §4.3 (ES512) with the JWK the figure lists beside them.
    "Figure20": (
        "the key says alg PS256, the token PS384: a key's own alg binds it (RFC 7517 §4.4)"
    ),
    "Figure27": (
        "the key says alg 'ES521', which is no JOSE algorithm (RFC 7520 §3.1's typo for "
        "ES512): a key whose alg is unknown is not used"
    ),
    "emptyPayload": _EMPTY,
    "InvalidCharacterInsertedInHeader": (
        "a character outside base64url inside a segment, which lenient decoders skip; "
        "the library refuses any such byte (RFC 7515 §2, §7.1)"
    ),
    "InvalidCharacterInsertedInPayload": (
        "a character outside base64url inside a segment, which lenient decoders skip; "
        "the library refuses any such byte (RFC 7515 §2, §7.1)"
    ),
}


@dataclass(frozen=True)
class Vector:
    file: str
    group: dict[str, Any]
    test: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.file.removesuffix('_test.json')}-{self.test['tcId']}"


def _load(name: str) -> list[Vector]:
    document = json.loads((VECTORS / name).read_text())
    return [
        Vector(name, group, test) for group in document["testGroups"] for test in group["tests"]
    ]


def _public(jwk: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in jwk.items() if name not in _PRIVATE}


def _jwks_of(group: dict[str, Any]) -> list[dict[str, Any]]:
    """The public keys a group verifies with: its ``public`` JWK, else its private one's."""
    for member in ("public", "private"):
        if member in group:
            value = group[member]
            keys = value.get("keys", [value])
            return [_public(key) for key in keys if key.get("kty") != "oct"]
    return []


def _secret_of(group: dict[str, Any]) -> bytes | None:
    """The group's shared secret, as ``hmac_secret`` holds one: a lone ``oct`` key.

    A key *set* is what a JWKS serves, and the library never takes a secret from a JWKS.
    """
    value = group.get("private")
    if isinstance(value, dict) and value.get("kty") == "oct":
        secret: bytes = base64.urlsafe_b64decode(value["k"] + "==")
        return secret
    return None


@pytest.fixture(scope="module")
def key_server() -> Iterator[LocalIssuer]:
    with LocalIssuer(keys=[]) as server:
        yield server


def _issuer_keys(server: LocalIssuer, jwks: list[dict[str, Any]]) -> IssuerKeys:
    """The keys as the library loads them: fetched over HTTP, filtered, by ``IssuerKeys``."""
    server.extra_jwks[:] = jwks
    keys = IssuerKeys(server.issuer, Settings(issuer=server.issuer, audience="https://api"))
    keys.refresh(keys.generation)
    return keys


def signature_verdict(
    token: str, keys: IssuerKeys, secret: bytes | None
) -> tuple[bool, str | None]:
    """(accepted, why not) for one compact JWS, up to and including its signature."""
    raw = token.encode("ascii", "replace")
    parts = raw.split(b".")
    if len(parts) != 3:
        return False, "not_a_jwt"
    header_segment, payload_segment, signature_segment = parts
    if not payload_segment:
        return False, "not_a_jwt"
    if payload_segment.translate(None, _BASE64URL):
        return False, "not_a_jwt"
    try:
        jws.b64decode(payload_segment)
        # The header and signature through jws.parse itself; the payload's own rule (a JSON
        # object) is left out here, as these payloads are not claims.
        header, _, _, signature = jws.parse(
            header_segment + b"." + _EMPTY_OBJECT + b"." + signature_segment
        )
    except InvalidToken as refusal:
        return False, refusal.reason
    except ValueError:
        return False, "malformed_jwt"
    alg = header.get("alg")
    allowed = set(DEFAULT_ALGORITHMS) | ({"HS256", "HS384", "HS512"} if secret else set())
    if not isinstance(alg, str) or alg not in allowed:
        return False, "alg_not_allowed"
    if "crit" in header:
        return False, "crit_unsupported"
    signing_input = header_segment + b"." + payload_segment
    algorithm = _ALGORITHMS[alg]
    if alg.startswith("HS"):
        assert secret is not None
        return algorithm.verify(signing_input, secret, signature), "bad_signature"
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        return False, "bad_kid"
    candidates, _ = keys.candidates(kid, alg)
    if not candidates:
        return False, "no_key"
    verified = any(algorithm.verify(signing_input, key.key, signature) for key in candidates)
    return verified, None if verified else "bad_signature"


JWS_FILES = ("json_web_signature_test.json", "json_web_crypto_test.json", "json_web_key_test.json")
JWS_VECTORS = [
    vector
    for name in JWS_FILES
    for vector in _load(name)
    if isinstance(vector.test.get("jws"), str)
]


# Vectors Wycheproof calls invalid that the library accepts, by id, with the reason.
ACCEPTED_AGAINST_VECTOR = {
    "json_web_signature-367": "byte for byte the JWS of tcId 357, which the file calls valid",
    "json_web_signature-370": "byte for byte the JWS of tcId 357, which the file calls valid",
}


def _judge(vector: Vector, accepted: bool, why: str | None) -> str | None:
    result = vector.test["result"]
    comment = vector.test.get("comment", "")
    if result == "acceptable" or accepted == (result == "valid"):
        return None
    if accepted:
        if vector.id in ACCEPTED_AGAINST_VECTOR:
            return None
        return f"{vector.id} ({comment}): accepted, Wycheproof says invalid"
    if comment in STRICTER_BY_COMMENT:
        return None
    if why == "alg_not_allowed" and _secret_in_key_set(vector.group):
        return None  # SECRET_IN_KEY_SET
    return f"{vector.id} ({comment}): refused ({why}), Wycheproof says valid"


SECRET_IN_KEY_SET = (
    "an HS* token verified by an oct key of a key set: the library never takes a shared "
    "secret from a JWKS (an issuer's public document); HS* needs hmac_secret configured"
)


def _secret_in_key_set(group: dict[str, Any]) -> bool:
    value = group.get("private") or group.get("public") or {}
    return any(key.get("kty") == "oct" for key in value.get("keys", []))


def test_jws_vectors(key_server: LocalIssuer) -> None:
    assert len(JWS_VECTORS) > 400
    problems = []
    stricter = []
    by_group: dict[int, IssuerKeys] = {}
    for vector in JWS_VECTORS:
        keys = by_group.get(id(vector.group))
        if keys is None:
            keys = by_group[id(vector.group)] = _issuer_keys(key_server, _jwks_of(vector.group))
        accepted, why = signature_verdict(vector.test["jws"], keys, _secret_of(vector.group))
        found = _judge(vector, accepted, why)
        if found is not None:
            problems.append(found)
        elif not accepted and vector.test["result"] == "valid":
            stricter.append(vector.id)
    assert not problems, "\n".join(problems)
    assert stricter  # each one of the reasoned kinds above (empty payload, key alg, ...)


def test_every_jws_vector_is_refused_whole_by_the_validator(key_server: LocalIssuer) -> None:
    """None is an access token (no claims): each is refused with a reason, nothing raises."""
    key_server.extra_jwks[:] = []
    validator = TokenValidator(Settings(issuer=key_server.issuer, audience="https://api"))
    reasons: set[str] = set()
    for vector in JWS_VECTORS:
        with pytest.raises(AuthError) as refused:
            validator.validate(vector.test["jws"])
        reasons.add(refused.value.reason)
    assert reasons <= {"not_a_jwt", "malformed_jwt", "alg_not_allowed", "iss_mismatch"}


SIGNATURE_FILES = {
    "ecdsa_secp256r1_sha256_p1363_test.json": "ES256",
    "ecdsa_secp384r1_sha384_p1363_test.json": "ES384",
    "ecdsa_secp521r1_sha512_p1363_test.json": "ES512",
    "ed25519_test.json": "EdDSA",
    "rsa_signature_2048_sha256_test.json": "RS256",
    "rsa_pss_2048_sha256_mgf1_32_test.json": "PS256",
}


_CURVES = {"secp256r1": ("P-256", 32), "secp384r1": ("P-384", 48), "secp521r1": ("P-521", 66)}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _public_jwk(group: dict[str, Any], alg: str) -> dict[str, Any]:
    """The group's public key as a JWK (given, or written from its numbers)."""
    if "publicKeyJwk" in group:
        return dict(group["publicKeyJwk"])
    public = group["publicKey"]
    if alg.startswith("ES"):
        curve, size = _CURVES[public["curve"]]
        x = int(public["wx"], 16).to_bytes(size, "big")
        y = int(public["wy"], 16).to_bytes(size, "big")
        return {"kty": "EC", "crv": curve, "x": _b64(x), "y": _b64(y)}
    modulus = bytes.fromhex(public["modulus"]).lstrip(b"\x00")
    exponent = bytes.fromhex(public["publicExponent"]).lstrip(b"\x00")
    return {
        "kty": "RSA",
        "n": base64.urlsafe_b64encode(modulus).rstrip(b"=").decode(),
        "e": base64.urlsafe_b64encode(exponent).rstrip(b"=").decode(),
    }


@pytest.mark.parametrize("name", sorted(SIGNATURE_FILES))
def test_signature_vectors(name: str, key_server: LocalIssuer) -> None:
    """Raw signatures (r‖s for ECDSA, as JWS encodes them) with the keys the library loads."""
    alg = SIGNATURE_FILES[name]
    vectors = _load(name)
    assert vectors
    groups = {id(vector.group): vector.group for vector in vectors}
    kids = {}
    jwks = []
    for index, (key, group) in enumerate(groups.items()):
        jwk = _public_jwk(group, alg)
        jwk = {**_public(jwk), "kid": f"group-{index}"}
        jwk.pop("alg", None)
        kids[key] = jwk["kid"]
        jwks.append(jwk)
    keys = _issuer_keys(key_server, jwks)
    algorithm = _ALGORITHMS[alg]
    problems = []
    for vector in vectors:
        candidates, _ = keys.candidates(kids[id(vector.group)], alg)
        assert candidates, f"{vector.id}: the library did not load the group's key"
        accepted = algorithm.verify(
            bytes.fromhex(vector.test["msg"]), candidates[0].key, bytes.fromhex(vector.test["sig"])
        )
        found = _judge(vector, accepted, None)
        if found is not None:
            problems.append(found)
    assert not problems, "\n".join(problems)
