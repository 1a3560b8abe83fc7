"""How a client proves who it is to a token (or introspection) endpoint.

Each method adds what it needs to a form and headers about to be posted; nothing else about
the request is its business, so any endpoint that authenticates clients (token,
introspection, revocation) can use the same objects.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, Literal
from urllib.parse import quote_plus

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import get_default_algorithms

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_TYP = "client-authentication+jwt"
Form = MutableMapping[str, list[str]]
AssertionAudience = Literal["issuer", "token_endpoint"]

_CURVE_ALGS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}


class ClientAuthentication:
    """Base of the client authentication methods (RFC 6749 §2.3, RFC 7523 §2.2)."""

    method: str = ""

    def __init__(self, client_id: str) -> None:
        if not isinstance(client_id, str) or not client_id:
            raise ValueError("client_id must be a non-empty string")
        self.client_id = client_id

    def apply(
        self, form: Form, headers: MutableMapping[str, str], *, issuer: str | None, endpoint: str
    ) -> None:
        """Add the client's credentials to the ``form`` and ``headers`` of a request to
        ``endpoint`` of the authorization server ``issuer``."""
        raise NotImplementedError

    def secrets(self) -> tuple[str, ...]:
        """What must never be shown (removed from server texts quoted in errors)."""
        return ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(client_id={self.client_id!r})"


class _SharedSecret(ClientAuthentication):
    """A client authenticated by a secret it shares with the server."""

    def __init__(self, client_id: str, client_secret: str) -> None:
        super().__init__(client_id)
        if not isinstance(client_secret, str) or not client_secret:
            raise ValueError("client_secret must be a non-empty string")
        self._secret = client_secret

    def secrets(self) -> tuple[str, ...]:
        return (self._secret,)


class ClientSecretBasic(_SharedSecret):
    """The client id and secret in an HTTP Basic ``Authorization`` header (the default)."""

    method = "client_secret_basic"

    def apply(
        self, form: Form, headers: MutableMapping[str, str], *, issuer: str | None, endpoint: str
    ) -> None:
        # RFC 6749 §2.3.1: both are form-encoded before they are joined and base64-encoded.
        pair = f"{quote_plus(self.client_id)}:{quote_plus(self._secret)}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")


class ClientSecretPost(_SharedSecret):
    """The client id and secret as ``client_id`` and ``client_secret`` form fields."""

    method = "client_secret_post"

    def apply(
        self, form: Form, headers: MutableMapping[str, str], *, issuer: str | None, endpoint: str
    ) -> None:
        form["client_id"] = [self.client_id]
        form["client_secret"] = [self._secret]


class PrivateKeyJwt(ClientAuthentication):
    """A JWT signed with the client's private key (RFC 7523 §2.2, ``private_key_jwt``).

    The assertion's ``aud`` is the authorization server's issuer identifier as its only
    value (draft-ietf-oauth-rfc7523bis): an assertion aimed at a token endpoint URL can be
    replayed by a malicious server that lists an honest server's endpoint as its own.
    ``assertion_audience="token_endpoint"`` is for servers that still demand the URL;
    any other string is used as given.
    """

    method = "private_key_jwt"

    def __init__(
        self,
        client_id: str,
        private_key: Any,
        *,
        kid: str | None = None,
        alg: str | None = None,
        assertion_audience: str = "issuer",
        lifetime: int = 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(client_id)
        key, jwk_kid = load_private_key(private_key)
        self._key = key
        self.kid = kid if kid is not None else jwk_kid
        self.alg = alg or signing_alg_for(key)
        if self.alg not in get_default_algorithms() or self.alg.startswith("HS"):
            raise ValueError(f"alg {self.alg!r} is not an asymmetric signature algorithm")
        if not 1 <= lifetime <= 300:
            raise ValueError("lifetime must be 1 to 300 seconds: assertions are short-lived")
        self.assertion_audience = assertion_audience
        self.lifetime = lifetime
        self._clock = clock

    def audience_for(self, issuer: str | None, endpoint: str) -> str:
        if self.assertion_audience == "token_endpoint":
            return endpoint
        if self.assertion_audience != "issuer":
            return self.assertion_audience
        if issuer is None:
            raise ValueError(
                "private_key_jwt needs the authorization server's issuer identifier (the "
                "assertion's aud): pass issuer=, or assertion_audience='token_endpoint' for a "
                "server that wants the endpoint URL"
            )
        return issuer

    def assertion(self, *, issuer: str | None, endpoint: str) -> str:
        """A new signed assertion for a request to ``endpoint`` of ``issuer``."""
        now = int(self._clock())
        header: dict[str, Any] = {"alg": self.alg, "typ": ASSERTION_TYP}
        if self.kid is not None:
            header["kid"] = self.kid
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.audience_for(issuer, endpoint),  # one string, never an array
            "jti": secrets.token_urlsafe(24),
            "iat": now,
            "exp": now + self.lifetime,
        }
        algorithm = get_default_algorithms()[self.alg]
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = algorithm.sign(signing_input.encode("ascii"), self._key)
        return f"{signing_input}.{_b64(signature)}"

    def apply(
        self, form: Form, headers: MutableMapping[str, str], *, issuer: str | None, endpoint: str
    ) -> None:
        form["client_id"] = [self.client_id]
        form["client_assertion_type"] = [ASSERTION_TYPE]
        form["client_assertion"] = [self.assertion(issuer=issuer, endpoint=endpoint)]

    def __repr__(self) -> str:
        return f"PrivateKeyJwt(client_id={self.client_id!r}, alg={self.alg!r}, kid={self.kid!r})"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load_private_key(value: Any) -> tuple[Any, str | None]:
    """A private key object and the kid its JWK names, from a key object, PEM or private JWK."""
    if isinstance(value, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        return value, None
    if isinstance(value, ed25519.Ed25519PrivateKey):
        return value, None
    private_key = getattr(value, "private_key", None)  # audmw.testing's SigningKey
    if private_key is not None and not isinstance(value, (str, bytes, Mapping)):
        return load_private_key(private_key)[0], getattr(value, "kid", None)
    if isinstance(value, Mapping):
        return _from_jwk(value)
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            document = json.loads(value)
        except ValueError:
            raise ValueError("private_key is neither a PEM key nor a JWK") from None
        if isinstance(document, dict):
            return _from_jwk(document)
    if isinstance(value, (str, bytes)):
        data = value.encode() if isinstance(value, str) else value
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            raise ValueError(
                "private_key is not an unencrypted PEM private key (nor a JWK)"
            ) from None
        return _checked(key), None
    raise ValueError("private_key must be a private key object, PEM text or a private JWK")


def _from_jwk(jwk: Mapping[str, Any]) -> tuple[Any, str | None]:
    kty = jwk.get("kty")
    names = {"RSA": "RS256", "EC": "ES256", "OKP": "EdDSA"}
    if kty not in names or "d" not in jwk:
        raise ValueError("private_key as a JWK must be a private RSA, EC or OKP key")
    try:
        key = get_default_algorithms()[names[str(kty)]].from_jwk(dict(jwk))
    except Exception:  # PyJWT's InvalidKeyError and cryptography's errors
        raise ValueError("private_key is a malformed JWK") from None
    kid = jwk.get("kid")
    return _checked(key), kid if isinstance(kid, str) else None


def _checked(key: Any) -> Any:
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < 2048:
        raise ValueError("RSA private_key is shorter than 2048 bits")
    if not isinstance(
        key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)
    ):
        raise ValueError("private_key must be an RSA, EC or Ed25519 private key")
    return key


def signing_alg_for(key: Any) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        alg = _CURVE_ALGS.get(key.curve.name)
        if alg is None:
            raise ValueError(f"unsupported curve {key.curve.name}")
        return alg
    return "EdDSA"
