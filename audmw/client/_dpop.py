"""DPoP (RFC 9449) on the calling side: tokens bound to a key the client holds.

The token request carries a proof, so the server binds the token to the key (``cnf.jkt``,
``token_type`` DPoP); each API request carries ``Authorization: DPoP <token>`` and a fresh
proof with the token's hash (``ath``). A server that wants nonces (§8, §9) answers
``use_dpop_nonce`` with a ``DPoP-Nonce`` header: the nonce is remembered per origin and the
request is sent once more with it.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import get_default_algorithms

from audmw.client._authentication import load_private_key, signing_alg_for
from audmw.dpop import jwk_thumbprint, proof_header, proof_payload

if TYPE_CHECKING:
    from audmw.client._grants import IssuedToken

# RFC 9449 §8.1: a nonce is 1*NQCHAR (printable ASCII but the double quote and backslash).
_NONCE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,512}")
_MAX_ORIGINS = 256
_PUBLIC_MEMBERS = {
    "EC": ("kty", "crv", "x", "y"),
    "RSA": ("kty", "n", "e"),
    "OKP": ("kty", "crv", "x"),
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class DPoPPresentation:
    """``Authorization: DPoP <token>`` with a proof signed by ``key`` on every request.

    ``key`` is a private key (an object of ``cryptography``, a PEM, a private JWK); without
    one a new EC P-256 key (ES256) is made, which lives as long as this object: its tokens are
    bound to it. Thread-safe; one object can serve several grants and APIs.
    """

    token_types = ("dpop",)

    def __init__(self, key: Any = None, *, clock: Callable[[], float] = time.time) -> None:
        private_key = ec.generate_private_key(ec.SECP256R1()) if key is None else key
        self._key, _ = load_private_key(private_key)
        self.alg = signing_alg_for(self._key)
        algorithm = get_default_algorithms()[self.alg]
        jwk = json.loads(algorithm.to_jwk(self._key.public_key()))
        self.public_jwk: dict[str, Any] = {name: jwk[name] for name in _PUBLIC_MEMBERS[jwk["kty"]]}
        thumbprint = jwk_thumbprint(self.public_jwk)
        assert thumbprint is not None
        self.thumbprint = thumbprint
        """The RFC 7638 thumbprint of the key: what the server puts in ``cnf.jkt``."""
        self._algorithm = algorithm
        self._header = proof_header(self.alg, self.public_jwk)
        self._clock = clock
        self._nonces: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def binding(self) -> str:
        return f"dpop:{self.thumbprint}"

    def __repr__(self) -> str:
        return f"DPoPPresentation(alg={self.alg!r}, jkt={self.thumbprint!r})"

    # -- proofs -------------------------------------------------------------------------------

    def proof(
        self, method: str, url: str, token: str | None = None, *, nonce: str | None = None
    ) -> str:
        """A new proof for one ``method`` and ``url`` (and ``token``'s ``ath``)."""
        payload = proof_payload(
            method, url, token=token, nonce=nonce, iat=self._clock(), jti=secrets.token_urlsafe(24)
        )
        header = _b64(json.dumps(self._header, separators=(",", ":")).encode())
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        signing_input = f"{header}.{body}"
        signature = self._algorithm.sign(signing_input.encode("ascii"), self._key)
        return f"{signing_input}.{_b64(signature)}"

    def nonce_for(self, url: str | httpx.URL) -> str | None:
        """The last nonce the origin of ``url`` gave, if any."""
        with self._lock:
            return self._nonces.get(_origin(url))

    def _proof_for(self, request: httpx.Request, token: str | None) -> str:
        return self.proof(
            request.method, str(request.url), token, nonce=self.nonce_for(request.url)
        )

    # -- the Presentation protocol --------------------------------------------------------

    def prepare_token_request(self, request: httpx.Request) -> None:
        request.headers["DPoP"] = self._proof_for(request, None)

    def present(self, request: httpx.Request, token: IssuedToken) -> None:
        request.headers["Authorization"] = f"DPoP {token.access_token}"
        request.headers["DPoP"] = self._proof_for(request, token.access_token)

    def answered(
        self, request: httpx.Request, status: int, headers: Mapping[str, str], error: str | None
    ) -> bool:
        """Remember the answer's ``DPoP-Nonce`` for its origin (§8.2: any answer may bring a
        new one); True when it is a ``use_dpop_nonce`` refusal that a proof with the new
        nonce can answer."""
        given = headers.get("dpop-nonce")
        if given is None or not _NONCE.fullmatch(given):
            return False
        origin = _origin(request.url)
        sent = request.headers.get("dpop")
        with self._lock:
            self._nonces[origin] = given
            self._nonces.move_to_end(origin)
            while len(self._nonces) > _MAX_ORIGINS:
                self._nonces.popitem(last=False)
        if error != "use_dpop_nonce" or status not in (400, 401) or sent is None:
            return False
        return _sent_nonce(sent) != given  # the same nonce again would be refused again


def _origin(url: str | httpx.URL) -> str:
    parts = urlsplit(str(url))
    return f"{parts.scheme.lower()}://{(parts.netloc or '').lower()}"


def _sent_nonce(proof: str) -> object:
    try:
        segment = proof.split(".")[1]
        payload = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (IndexError, ValueError):
        return None
    return payload.get("nonce") if isinstance(payload, dict) else None
