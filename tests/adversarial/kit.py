"""What the corpus builds its requests from: the issuer, an attacker's keys, exact bytes.

Tokens are assembled here byte for byte (header and payload as given, any signer), so a
case can hold what no JWT library would write: duplicate members, padding, spare bits.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from jwt.algorithms import get_default_algorithms

from audmw.testing import LocalIssuer, SigningKey, generate_key
from audmw.testing.issuer import FAMILIES

AUDIENCE = "https://api.example.com"
CLIENT_ID = "corpus-client"  # in the servers' client_ids: an aud naming it is an ID token
DROP: Any = object()  # a claim or header member value that leaves the member out

_ALGORITHMS = get_default_algorithms()
_HMAC_HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
ALG_FAMILY = {
    **dict.fromkeys(("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"), "rsa"),
    "ES256": "ec-p256",
    "ES384": "ec-p384",
    "ES512": "ec-p521",
    "EdDSA": "ed25519",
}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def sign(alg: str, key: Any, signing_input: bytes) -> bytes:
    """A signature with ``key``: a private key, or for HS* any bytes (a PEM, a DER...)."""
    if alg in _HMAC_HASHES:
        return hmac.new(key, signing_input, _HMAC_HASHES[alg]).digest()
    algorithm = _ALGORITHMS[alg]
    return algorithm.sign(signing_input, algorithm.prepare_key(key))


def self_signed(key: SigningKey) -> str:
    """A base64 DER certificate for ``key`` (an ``x5c`` member)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker.example")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key.private_key, hashes.SHA256())
    )
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


@dataclass
class Kit:
    """The session's issuer and the keys a case may sign with."""

    issuer: LocalIssuer
    attacker: dict[str, SigningKey]  # by family: keys the issuer never published
    weak: dict[str, SigningKey]  # by kid: published keys the library must not use
    counting_url: str  # a server that counts every request it gets (jku, x5u)

    @property
    def now(self) -> float:
        return time.time()

    @classmethod
    def create(cls, issuer: LocalIssuer, counting_url: str) -> Kit:
        attacker = {family: generate_key(family, f"attacker-{family}") for family in FAMILIES}
        kit = cls(issuer, attacker, {}, counting_url)
        kit._publish_weak_keys()
        return kit

    def _publish_weak_keys(self) -> None:
        """Keys in the issuer's JWKS that must never verify anything, served before any fetch."""
        weak_rsa = generate_key("rsa", "weak-rsa-1024", rsa_bits=1024)
        rs384 = generate_key("rsa", "rsa-alg-rs384")
        encryption = generate_key("rsa", "rsa-use-enc")
        ops = generate_key("ec-p256", "ec-ops-sign-only")
        wrong_curve = generate_key("ec-p384", "ec-p384-says-p256")
        private = generate_key("ec-p256", "ec-with-private-d")
        entries: list[Any] = [
            weak_rsa.public_jwk(),
            {**rs384.public_jwk(), "alg": "RS384"},
            {**encryption.public_jwk(), "use": "enc"},
            {**ops.public_jwk(), "key_ops": ["sign"]},
            {**wrong_curve.public_jwk(), "crv": "P-256", "x": "AA", "y": "AA"},
            {**private.public_jwk(), "d": b64(b"\x01" * 32)},
            {"kty": "oct", "kid": "oct-secret", "k": b64(b"s" * 32), "alg": "HS256"},
            {"kty": "RSA", "kid": "rsa-e-1", "n": b64(b"\xc1" * 256), "e": "AQ"},
        ]
        for key in (weak_rsa, rs384, encryption, ops, wrong_curve, private):
            self.weak[key.kid] = key
        self.issuer.extra_jwks.extend(entries)

    # -- tokens ------------------------------------------------------------------------------

    def key(self, alg: str) -> SigningKey:
        return self.issuer.key_for(alg)

    def claims(self, **changes: Any) -> dict[str, Any]:
        now = int(self.now)
        claims: dict[str, Any] = {
            "iss": self.issuer.issuer,
            "sub": "corpus-user",
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + 3600,
            "client_id": "corpus-app",
            "scope": "profile",
        }
        claims.update(changes)
        return {name: value for name, value in claims.items() if value is not DROP}

    def header(self, alg: str = "RS256", **changes: Any) -> dict[str, Any]:
        header: dict[str, Any] = {"alg": alg, "typ": "at+jwt"}
        if alg in ALG_FAMILY:
            header["kid"] = self.key(alg).kid
        header.update(changes)
        return {name: value for name, value in header.items() if value is not DROP}

    def compact(
        self,
        header: Mapping[str, Any] | bytes,
        payload: Mapping[str, Any] | bytes,
        *,
        alg: str | None = None,
        key: Any = None,
    ) -> str:
        """``header.payload.signature`` of exactly these bytes, signed with ``key``.

        ``alg`` defaults to the header's; ``key`` to the issuer's current key for it.
        """
        header_bytes = header if isinstance(header, bytes) else dumps(dict(header))
        payload_bytes = payload if isinstance(payload, bytes) else dumps(dict(payload))
        if alg is None:
            assert isinstance(header, Mapping)
            alg = header["alg"]
        signing_input = f"{b64(header_bytes)}.{b64(payload_bytes)}".encode("ascii")
        if key is None:
            key = self.key(alg).private_key
        elif isinstance(key, SigningKey):
            key = key.private_key
        return f"{signing_input.decode('ascii')}.{b64(sign(alg, key, signing_input))}"

    def token(
        self, alg: str = "RS256", *, header: Mapping[str, Any] | None = None, **claims: Any
    ) -> str:
        """A token the issuer signed with its current key for ``alg``; members as changed."""
        return self.compact(self.header(alg, **(header or {})), self.claims(**claims), alg=alg)

    def public_pem(self) -> bytes:
        return (
            self.key("RS256")
            .private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def public_der(self) -> bytes:
        return (
            self.key("RS256")
            .private_key.public_key()
            .public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def public_jwk_text(self) -> bytes:
        return json.dumps(self.key("RS256").public_jwk()).encode()
