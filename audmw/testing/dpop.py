"""DPoP for tests: a client's key pair, its proofs, and proofs with exactly one defect.

::

    key = DPoPKey()
    token = issuer.mint(dpop=key, scopes=["read"])
    proof = key.proof("GET", "http://testserver/reports", token)
    client.get("/reports", headers={"Authorization": f"DPoP {token}", "DPoP": proof})

``key.headers(method, url, token)`` gives both headers; ``key.proof(..., defect=name)`` a proof
wrong in one way only (``DEFECTS`` lists them), so a test can show each rule is enforced.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from audmw.dpop import access_token_hash, jwk_thumbprint, proof_header, proof_payload
from audmw.testing.issuer import SigningKey, b64url, generate_key, sign_compact

__all__ = ["DEFECTS", "DPoPKey"]

_FAMILY = {"ES256": "ec-p256", "ES384": "ec-p384", "ES512": "ec-p521", "EdDSA": "ed25519"}

DEFECTS = {
    "typ": "typ is jwt, not dpop+jwt",
    "no_typ": "no typ",
    "alg_none": "alg none, no signature",
    "alg_hs256": "alg HS256 (symmetric), signed with a secret",
    "alg_not_allowed": "alg ES384 with a P-384 key, when only ES256 is allowed",
    "no_jwk": "no jwk in the header",
    "private_jwk": "the jwk holds the private key (d)",
    "jwk_alg_mismatch": "an RSA jwk with alg ES256",
    "bad_signature": "signed by another key than its jwk",
    "crit": "a crit header",
    "htm": "htm is another method",
    "htu": "htu is another URL",
    "htu_path": "htu with another path on the same origin",
    "no_jti": "no jti",
    "iat_old": "iat older than the window",
    "iat_future": "iat beyond the leeway in the future",
    "no_iat": "no iat",
    "ath": "ath of another token",
    "no_ath": "no ath",
    "other_key": "a valid proof by another key than the token's cnf.jkt",
    "nonce": "a nonce the server never issued",
    "malformed": "not a JWS",
}
"""Every single defect ``DPoPKey.proof`` can make, and what it is."""


class DPoPKey:
    """A client's DPoP key pair (ES256 unless ``alg`` says otherwise)."""

    def __init__(self, alg: str = "ES256", key: SigningKey | None = None) -> None:
        self.alg = alg
        self.key = key or generate_key(_FAMILY.get(alg, "rsa"))

    @property
    def public_jwk(self) -> dict[str, Any]:
        """The public JWK as a proof carries it (no ``kid``, ``use``)."""
        return {
            name: value
            for name, value in self.key.public_jwk().items()
            if name not in ("kid", "use", "alg")
        }

    @property
    def thumbprint(self) -> str:
        """The RFC 7638 thumbprint: the token's ``cnf.jkt``."""
        found = jwk_thumbprint(self.public_jwk)
        assert found is not None
        return found

    def proof(
        self,
        method: str,
        url: str,
        token: str | None = None,
        *,
        nonce: str | None = None,
        iat: float | None = None,
        jti: str | None = None,
        defect: str | None = None,
        header: Mapping[str, Any] | None = None,
        claims: Mapping[str, Any] | None = None,
    ) -> str:
        """A proof for ``method`` and ``url`` (and ``token``'s ``ath``), or with ``defect``.

        ``header`` and ``claims`` override members (None removes one).
        """
        if defect is not None and defect not in DEFECTS:
            raise ValueError(f"unknown defect {defect!r}; see audmw.testing.dpop.DEFECTS")
        jwt_header = proof_header(self.alg, self.public_jwk)
        payload = proof_payload(
            method,
            url,
            token=token,
            nonce=nonce,
            iat=time.time() if iat is None else iat,
            jti=jti or uuid.uuid4().hex,
        )
        signer: Any = self.key.private_key
        if defect == "typ":
            jwt_header["typ"] = "jwt"
        elif defect == "no_typ":
            del jwt_header["typ"]
        elif defect == "no_jwk":
            del jwt_header["jwk"]
        elif defect == "private_jwk":
            private = generate_key("ec-p256")
            jwt_header["alg"] = "ES256"
            jwt_header["jwk"] = _private_jwk(private)
            signer = private.private_key
        elif defect == "jwk_alg_mismatch":
            jwt_header["alg"] = "ES256"
            jwt_header["jwk"] = DPoPKey("RS256").public_jwk
        elif defect == "bad_signature":
            signer = generate_key(_FAMILY.get(self.alg, "rsa")).private_key
        elif defect == "crit":
            jwt_header["crit"] = ["exp"]
            jwt_header["exp"] = 1
        elif defect == "htm":
            payload["htm"] = "DELETE" if method != "DELETE" else "GET"
        elif defect == "htu":
            payload["htu"] = "https://other.example.com/elsewhere"
        elif defect == "htu_path":
            payload["htu"] = url.rstrip("/") + "/other"
        elif defect == "no_jti":
            del payload["jti"]
        elif defect == "iat_old":
            payload["iat"] = int(time.time()) - 3600
        elif defect == "iat_future":
            payload["iat"] = int(time.time()) + 3600
        elif defect == "no_iat":
            del payload["iat"]
        elif defect == "ath":
            payload["ath"] = access_token_hash(b"another-token")
        elif defect == "no_ath":
            payload.pop("ath", None)
        elif defect == "nonce":
            payload["nonce"] = "bm90LWEtbm9uY2UtaXNzdWVkLWhlcmU"
        elif defect == "other_key":
            return DPoPKey(self.alg).proof(method, url, token, nonce=nonce)
        elif defect == "malformed":
            return "not-a-proof"
        elif defect == "alg_not_allowed":
            return DPoPKey("ES384").proof(method, url, token, nonce=nonce)
        for name, value in (header or {}).items():
            if value is None:
                jwt_header.pop(name, None)
            else:
                jwt_header[name] = value
        for name, value in (claims or {}).items():
            if value is None:
                payload.pop(name, None)
            else:
                payload[name] = value
        if defect == "alg_none":
            jwt_header["alg"] = "none"
            encoded = (b64url(json.dumps(part).encode()) for part in (jwt_header, payload))
            # A signature segment all the same: an empty one would fail as malformed first.
            return ".".join(encoded) + ".AAAA"
        if defect == "alg_hs256":
            jwt_header["alg"] = "HS256"
            signer = b"s" * 32
        return sign_compact(jwt_header, payload, signer)

    def headers(
        self, method: str, url: str, token: str, *, nonce: str | None = None, **options: Any
    ) -> dict[str, str]:
        """``Authorization: DPoP <token>`` and a ``DPoP`` proof for one request."""
        proof = self.proof(method, url, token, nonce=nonce, **options)
        return {"Authorization": f"DPoP {token}", "DPoP": proof}


def _private_jwk(key: SigningKey) -> dict[str, Any]:
    from jwt.algorithms import ECAlgorithm

    jwk: dict[str, Any] = ECAlgorithm.to_jwk(key.private_key, as_dict=True)
    return jwk
