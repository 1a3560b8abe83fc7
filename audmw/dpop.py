"""DPoP proofs (RFC 9449): the token is presented by the holder of the key it is bound to.

``ProofChecker.check`` runs the checks of RFC 9449 §4.3 and §7 on the request's ``DPoP``
header once the access token is known, in an order that needs no I/O, and returns the
``Replay`` entry (a digest of the proof key's thumbprint and the proof's ``jti``) that the
caller adds to the replay store, synchronously or not: only a proof not seen before passes.

Nonces (§9) are stateless: an HMAC of the current time slot under ``dpop_nonce_secret``, so
every process with the same secret issues and accepts the same nonces; the previous slot's
nonce is still accepted while clients catch up with the rotation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import os
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

from jwt.algorithms import Algorithm, get_default_algorithms

from audmw import diagnostics, jws
from audmw.errors import InvalidDPoPProof, InvalidToken, UseDPoPNonce
from audmw.forwarded import RequestURLs, normalise_url
from audmw.request import IncomingRequest
from audmw.settings import AUTHORIZATION_HEADER, Settings

__all__ = [
    "MAX_PROOF_BYTES",
    "ProofChecker",
    "Replay",
    "jwk_thumbprint",
    "metadata_members",
    "proof_header",
    "proof_payload",
]

MAX_PROOF_BYTES = 8 * 1024
_MAX_JTI = 256
_ALGORITHMS: dict[str, Algorithm] = get_default_algorithms()
# Members of a private or symmetric JWK (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# RFC 7638 §3.2: the required members of each key type, in lexicographic order.
_THUMBPRINT_MEMBERS = {
    "EC": ("crv", "kty", "x", "y"),
    "RSA": ("e", "kty", "n"),
    "OKP": ("crv", "kty", "x"),
}
_KEY_TYPES = {
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
    "EdDSA": ("OKP", None),
}
_MIN_RSA_BITS = 2048
_KEY_MEMO_SIZE = 1024


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str | None:
    """The RFC 7638 SHA-256 thumbprint of a public JWK, base64url; None when it has none."""
    members = _THUMBPRINT_MEMBERS.get(jwk.get("kty"))  # type: ignore[arg-type]
    if members is None or not all(isinstance(jwk.get(name), str) for name in members):
        return None
    canonical = json.dumps(
        {name: jwk[name] for name in members}, separators=(",", ":"), sort_keys=True
    )
    return _b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def access_token_hash(token: bytes) -> str:
    """The ``ath`` of a token: base64url(SHA-256(the token's ASCII bytes))."""
    return _b64url(hashlib.sha256(token).digest())


def proof_header(alg: str, public_jwk: Mapping[str, Any]) -> dict[str, Any]:
    """The JOSE header of a proof (RFC 9449 §4.2): its type, algorithm and public key."""
    return {"typ": "dpop+jwt", "alg": alg, "jwk": dict(public_jwk)}


def proof_payload(
    method: str,
    url: str,
    *,
    token: str | None = None,
    nonce: str | None = None,
    iat: float,
    jti: str,
) -> dict[str, Any]:
    """The claims of a proof (RFC 9449 §4.2) for one request: ``htu`` is ``url`` without its
    query and fragment, ``ath`` is present when a ``token`` goes with the request."""
    parts = urlsplit(url)
    payload: dict[str, Any] = {
        "jti": jti,
        "htm": method,
        "htu": urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")),
        "iat": int(iat),
    }
    if token is not None:
        payload["ath"] = access_token_hash(token.encode("ascii"))
    if nonce is not None:
        payload["nonce"] = nonce
    return payload


def metadata_members(settings: Settings, needs: tuple[object, ...]) -> Mapping[str, Any]:
    """What the resource metadata (RFC 9728 §2) says of sender-constrained tokens."""
    dpop = settings.dpop if settings.token_header == AUTHORIZATION_HEADER else "off"
    return {
        "dpop_signing_alg_values_supported": list(settings.dpop_algorithms)
        if dpop != "off"
        else None,
        "dpop_bound_access_tokens_required": dpop == "required",
        "tls_client_certificate_bound_access_tokens": settings.client_certificates,
    }


class Replay(NamedTuple):
    """What the replay store must not have seen: its key, and how long to remember it."""

    key: bytes
    ttl: float


def _refused(reason: str, hint: str) -> InvalidDPoPProof:
    return InvalidDPoPProof(reason, hint=hint)


class ProofChecker:
    """Checks DPoP proofs for one ``Settings``; thread-safe."""

    def __init__(
        self,
        settings: Settings,
        urls: RequestURLs | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.algorithms = settings.dpop_algorithms
        self._allowed = frozenset(settings.dpop_algorithms)
        self._max_age = settings.dpop_max_age
        self._leeway = settings.dpop_leeway
        self._clock = clock
        self._urls = urls or RequestURLs(settings)
        self.nonces = settings.dpop_nonce
        self._nonce_secret = settings.dpop_nonce_secret or os.urandom(32)
        self._nonce_lifetime = settings.dpop_nonce_lifetime
        self._known: dict[bytes, tuple[str, Any, str | None]] = {}
        self._parsed: dict[bytes, dict[str, Any]] = {}
        self.replay_ttl = settings.dpop_max_age + 2 * settings.dpop_leeway
        """How long a ``jti`` is remembered: as long as its proof could be accepted."""

    # -- nonces -------------------------------------------------------------------------------

    def _nonce_for(self, slot: int) -> str:
        stamp = slot.to_bytes(8, "big")
        mac = hmac.new(self._nonce_secret, b"audmw-dpop-nonce" + stamp, hashlib.sha256)
        return _b64url(stamp + mac.digest()[:16])

    def current_nonce(self) -> str:
        """The nonce a client should put in its next proof."""
        return self._nonce_for(int(self._clock() // self._nonce_lifetime))

    def _nonce_accepted(self, nonce: object) -> bool:
        if not isinstance(nonce, str) or len(nonce) > 64:
            return False
        slot = int(self._clock() // self._nonce_lifetime)
        return any(
            hmac.compare_digest(nonce, self._nonce_for(candidate)) for candidate in (slot, slot - 1)
        )

    def fresh_nonce(self, request: IncomingRequest) -> str | None:
        """The current nonce when the request's accepted proof carried an older one, for the
        answer's ``DPoP-Nonce`` header (RFC 9449 §8.2); None when it is current or unused."""
        if not self.nonces or len(request.dpop) != 1:
            return None
        value = request.dpop[0]
        proof = value if isinstance(value, bytes) else value.encode("latin-1", "replace")
        try:
            claims = jws.parse(proof.strip(b" \t"), self._parsed).payload
        except InvalidToken:
            return None
        current = self.current_nonce()
        return None if claims.get("nonce") == current else current

    # -- the proof ----------------------------------------------------------------------------

    def check(self, request: IncomingRequest, token: bytes, jkt: str) -> Replay:
        """The proof's ``Replay`` entry once everything but replay is checked, else a refusal.

        ``token`` is the access token exactly as sent, ``jkt`` its ``cnf.jkt``.
        """
        values = request.dpop
        if not values:
            raise _refused("dpop_proof_missing", "Authorization: DPoP without a DPoP header")
        if len(values) > 1:
            raise _refused("dpop_proof_multiple", "more than one DPoP header")
        value = values[0]
        proof = value if isinstance(value, bytes) else value.encode("latin-1", "replace")
        proof = proof.strip(b" \t")
        if b"," in proof:  # a server that folds repeated headers joins them with a comma
            raise _refused("dpop_proof_multiple", "more than one DPoP header (joined by a comma)")
        if len(proof) > MAX_PROOF_BYTES:
            raise _refused(
                "dpop_proof_too_large", f"the proof is {len(proof)} bytes, limit {MAX_PROOF_BYTES}"
            )
        try:
            header, claims, signing_input, signature = jws.parse(proof, self._parsed)
        except InvalidToken as error:
            raise _refused(
                "dpop_proof_malformed", f"the proof is not a compact JWS: {error.hint}"
            ) from None
        # A client's proofs share their header segment byte for byte (typ, alg, jwk): its
        # checks, key object and thumbprint are worked out once per segment.
        segment = signing_input.partition(b".")[0]
        known = self._known.get(segment)
        if known is None:
            alg = self._check_header(header)
            known = (alg, self._public_key(header["jwk"], alg), jwk_thumbprint(header["jwk"]))
            if len(self._known) >= _KEY_MEMO_SIZE:
                self._known.clear()
            self._known[segment] = known
        alg, key, thumbprint = known
        if not _ALGORITHMS[alg].verify(signing_input, key, signature):
            raise _refused("dpop_bad_signature", "the proof's signature is not by its jwk")
        self._check_claims(request, claims, token)
        if thumbprint is None or not hmac.compare_digest(thumbprint, jkt):
            raise InvalidDPoPProof(
                "dpop_key_mismatch",
                hint="the proof is signed by another key than the one the token is bound to "
                "(cnf.jkt); a stolen token is being replayed, or the client changed its key",
            )
        digest = hashlib.sha256(
            b"dpop\0" + thumbprint.encode("ascii") + b"\0" + claims["jti"].encode("utf-8")
        ).digest()
        return Replay(b"dpop:" + digest.hex().encode("ascii"), self.replay_ttl)

    def _check_header(self, header: Mapping[str, Any]) -> str:
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() != "dpop+jwt":
            raise _refused(
                "dpop_bad_typ", f"the proof's typ is {diagnostics.shown(typ)}, not dpop+jwt"
            )
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._allowed:
            raise _refused(
                "dpop_alg_not_allowed",
                f"the proof's alg {diagnostics.shown(alg)} is not in dpop_algorithms "
                f"({', '.join(self.algorithms)})",
            )
        if "crit" in header:
            raise _refused("dpop_crit_unsupported", "the proof lists crit extensions")
        jwk = header.get("jwk")
        if not isinstance(jwk, dict):
            raise _refused("dpop_jwk_missing", "the proof's header has no jwk object")
        private = _PRIVATE_MEMBERS.intersection(jwk)
        if private:
            raise _refused(
                "dpop_jwk_private",
                f"the proof's jwk holds private members ({', '.join(sorted(private))}); the "
                "client is leaking its private key",
            )
        return alg

    def _public_key(self, jwk: Mapping[str, Any], alg: str) -> Any:
        kty = jwk.get("kty")
        wanted = _KEY_TYPES.get(alg, ("RSA", None))
        if kty != wanted[0] or (wanted[1] is not None and jwk.get("crv") != wanted[1]):
            raise _refused(
                "dpop_jwk_alg_mismatch",
                f"the proof's jwk (kty {diagnostics.shown(kty)}, crv "
                f"{diagnostics.shown(jwk.get('crv'))}) is not a key for {alg}",
            )
        try:
            key = _ALGORITHMS[alg].from_jwk(dict(jwk))
        except Exception:  # PyJWT raises several types for a bad key
            raise _refused(
                "dpop_jwk_invalid", "the proof's jwk is not a valid public key"
            ) from None
        if kty == "RSA" and key.key_size < _MIN_RSA_BITS:
            raise _refused("dpop_jwk_invalid", f"the proof's RSA key is under {_MIN_RSA_BITS} bits")
        return key

    def _check_claims(
        self, request: IncomingRequest, claims: Mapping[str, Any], token: bytes
    ) -> None:
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > _MAX_JTI:
            raise _refused("dpop_jti_invalid", "the proof has no jti, or not a short string")
        htm = claims.get("htm")
        if htm != request.method:
            raise _refused(
                "dpop_htm_mismatch",
                f"the proof's htm {diagnostics.shown(htm)} is not the request's method "
                f"{request.method[:16]!r}",
            )
        htu = claims.get("htu")
        wanted, why = self._urls.url(request)
        if wanted is None:
            raise _refused("dpop_htu_mismatch", why)
        given = normalise_url(htu) if isinstance(htu, str) else None
        if given != wanted:
            raise _refused(
                "dpop_htu_mismatch",
                f"the proof's htu {diagnostics.shown(htu)} is not this request's URL "
                f"{wanted[:120]!r}; behind a proxy, list it in trusted_proxies (or set origins)",
            )
        value: Any = claims.get("iat")
        try:
            iat = float(value) if type(value) in (int, float) else math.nan
        except OverflowError:  # an integer of hundreds of digits
            iat = math.nan
        if not math.isfinite(iat):
            raise _refused("dpop_iat_invalid", "the proof's iat is not a finite number")
        now = self._clock()
        if iat > now + self._leeway:
            raise _refused(
                "dpop_iat_in_future",
                f"the proof's iat is {int(iat - now)} s in the future (dpop_leeway "
                f"{self._leeway:g} s); check the client's clock",
            )
        if iat < now - self._max_age:
            raise _refused(
                "dpop_proof_expired",
                f"the proof was made {int(now - iat)} s ago (dpop_max_age {self._max_age:g} s); "
                "a client makes a new proof for every request",
            )
        ath = claims.get("ath")
        if not isinstance(ath, str) or not hmac.compare_digest(ath, access_token_hash(token)):
            raise _refused(
                "dpop_ath_mismatch",
                "the proof's ath is missing or is not the hash of this access token",
            )
        if self.nonces and not self._nonce_accepted(claims.get("nonce")):
            raise UseDPoPNonce(
                "dpop_nonce_required" if "nonce" not in claims else "dpop_nonce_stale",
                self.current_nonce(),
                hint="the proof must carry the nonce of the DPoP-Nonce header (dpop_nonce)",
            )
