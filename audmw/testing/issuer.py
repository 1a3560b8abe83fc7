"""``LocalIssuer``: a real OpenID issuer on 127.0.0.1 for tests, demos and manual checks.

It serves discovery, JWKS and a token endpoint (client credentials, token exchange,
on-behalf-of, for registered clients) over HTTP from a background thread, mints tokens with
any claims, header and key, rotates keys, and can be made to fail (HTTP 500, a hang,
garbage), counting the requests it gets.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import EllipsisType
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm, get_default_algorithms

from audmw.mtls import certificate_der, certificate_thumbprint
from audmw.testing.token_endpoint import (
    DPOP_ALGS,
    GRANTS,
    MAX_BODY,
    SIGNED_ANSWER,
    RegisteredClient,
    TokenEndpoint,
)

Mode = Literal["ok", "error", "hang", "garbage", "trickle", "huge"]
HUGE_BODY_BYTES = 10 * 1024 * 1024

_ALG_FAMILY = {
    **dict.fromkeys(("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"), "rsa"),
    "ES256": "ec-p256",
    "ES384": "ec-p384",
    "ES512": "ec-p521",
    "EdDSA": "ed25519",
    "Ed25519": "ed25519",
    "Ed448": "ed448",
}
FAMILIES = ("rsa", "ec-p256", "ec-p384", "ec-p521", "ed25519")
"""The families an issuer starts with; ``ed448`` keys are made on first use."""
DEFAULT_AUDIENCE = "https://api.example.com"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    family: str
    private_key: Any

    def public_jwk(self) -> dict[str, Any]:
        public = self.private_key.public_key()
        if self.family == "rsa":
            jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
        elif self.family.startswith("ec"):
            jwk = ECAlgorithm.to_jwk(public, as_dict=True)
        else:
            jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig"}


def generate_key(family: str, kid: str | None = None, *, rsa_bits: int = 2048) -> SigningKey:
    """A new private key of ``family`` (rsa, ec-p256, ec-p384, ec-p521, ed25519, ed448)."""
    key: Any
    if family == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    elif family == "ec-p256":
        key = ec.generate_private_key(ec.SECP256R1())
    elif family == "ec-p384":
        key = ec.generate_private_key(ec.SECP384R1())
    elif family == "ec-p521":
        key = ec.generate_private_key(ec.SECP521R1())
    elif family == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    elif family == "ed448":
        key = ed448.Ed448PrivateKey.generate()
    else:
        raise ValueError(f"unknown key family {family!r}")
    return SigningKey(kid or f"{family}-{uuid.uuid4().hex[:8]}", family, key)


_CURVE_FAMILY = {"secp256r1": "ec-p256", "secp384r1": "ec-p384", "secp521r1": "ec-p521"}
STATE_FILE = "issuer.json"


def _family_of(private_key: Any) -> str:
    if isinstance(private_key, rsa.RSAPrivateKey):
        return "rsa"
    if isinstance(private_key, ec.EllipticCurvePrivateKey) and private_key.curve.name in (
        _CURVE_FAMILY
    ):
        return _CURVE_FAMILY[private_key.curve.name]
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(private_key, ed448.Ed448PrivateKey):
        return "ed448"
    raise ValueError(f"unsupported private key type {type(private_key).__name__}")


def _key_dir(state_dir: str | os.PathLike[str]) -> Path:
    return Path(state_dir) / "keys"


def save_key(key: SigningKey, state_dir: str | os.PathLike[str]) -> SigningKey:
    """Store ``key`` as ``keys/<kid>.pem`` (mode 600) unless it exists; return the stored key.

    The file appears complete or not at all, so concurrent processes sharing a state
    directory all end up with the same key.
    """
    directory = _key_dir(state_dir)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = directory / f"{key.kid}.pem"
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".pem")
    try:
        os.fchmod(handle, 0o600)
        os.write(handle, pem)
        os.close(handle)
        with contextlib.suppress(FileExistsError):
            os.link(temporary, target)
    finally:
        os.unlink(temporary)
    return _read_key(target)


def _read_key(path: Path) -> SigningKey:
    private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    return SigningKey(path.stem, _family_of(private_key), private_key)


def load_keys(state_dir: str | os.PathLike[str]) -> list[SigningKey]:
    """The keys stored in ``state_dir``, oldest first."""
    directory = _key_dir(state_dir)
    if not directory.is_dir():
        return []
    paths = sorted(directory.glob("*.pem"), key=lambda p: (p.stat().st_mtime, p.name))
    return [_read_key(path) for path in paths if not path.name.startswith(".")]


def read_state(state_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """What the last issuer served from ``state_dir`` recorded (``issuer``, ``port``), if any."""
    try:
        state = json.loads((Path(state_dir) / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


class LocalIssuer:
    """A local authorization server's token-signing side, served on 127.0.0.1.

    >>> with LocalIssuer() as issuer:
    ...     token = issuer.mint(aud="https://api.example.com", scopes=["read:messages"])
    """

    def __init__(
        self,
        *,
        path: str = "",
        discovery: Literal["oidc", "oauth", "both", "none"] = "oidc",
        jwks_max_age: int | None = None,
        port: int = 0,
        keys: Iterable[SigningKey] | None = None,
        audience: str = DEFAULT_AUDIENCE,
    ) -> None:
        self.path = path.rstrip("/")
        # The API the tokens are for unless ``mint(aud=...)`` says otherwise; the settings
        # helpers (``environ``, ``django_settings``, ``flask_config``) name the same one.
        self.audience = audience
        self.discovery = discovery
        self.jwks_max_age = jwks_max_age
        self._port = port
        self.mode: Mode = "ok"
        # In "trickle" mode, the seconds between two bytes of the status line and headers.
        self.trickle_interval = 0.2
        self.issuer_override: str | None = None
        self.jwks_requests = 0
        self.discovery_requests = 0
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.signing_keys: dict[str, SigningKey] = {}
        self.published: list[str] = []
        # Entries served after the published keys exactly as given: odd or unusable JWKs.
        self.extra_jwks: list[Any] = []
        self._current: dict[str, str] = {}
        self.token_endpoint = TokenEndpoint(self)
        for key in keys if keys is not None else map(generate_key, FAMILIES):
            self.add_key(key, current=True)

    @classmethod
    def from_state_dir(
        cls, state_dir: str | os.PathLike[str], *, port: int | None = None, **options: Any
    ) -> LocalIssuer:
        """An issuer whose private keys live in ``state_dir`` (created, and keys generated,
        when missing), so that separate processes mint and serve with the same keys.

        ``port`` defaults to the one recorded by ``save_state``, else a free one.
        """
        stored = {key.family: key for key in load_keys(state_dir)}  # newest of each family wins
        keys = [
            stored.get(family) or save_key(generate_key(family), state_dir) for family in FAMILIES
        ]
        if port is None:
            recorded = (read_state(state_dir) or {}).get("port")
            port = recorded if isinstance(recorded, int) else 0
        return cls(port=port, keys=keys, **options)

    def save_state(self, state_dir: str | os.PathLike[str]) -> None:
        """Record where this issuer serves, for later ``from_state_dir`` users."""
        path = Path(state_dir)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        document = {"issuer": self.issuer, "jwks_uri": self.jwks_uri, "port": self.port}
        temporary = path / f".{STATE_FILE}.{os.getpid()}"
        temporary.write_text(json.dumps(document, indent=2) + "\n")
        os.replace(temporary, path / STATE_FILE)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> LocalIssuer:
        if self._server is not None:
            return self
        self._release.clear()
        server = ThreadingHTTPServer(("127.0.0.1", self._port), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever,
            # stop() waits for one poll; the default 0.5 s made every test issuer slow to stop.
            kwargs={"poll_interval": 0.02},
            name="audmw-local-issuer",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> LocalIssuer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def issuer(self) -> str:
        return self.origin + self.path

    @property
    def jwks_uri(self) -> str:
        return self.origin + self.path + "/jwks.json"

    # -- keys ------------------------------------------------------------------------------

    def add_key(self, key: SigningKey, *, current: bool = True, publish: bool = True) -> SigningKey:
        with self._lock:
            self.signing_keys[key.kid] = key
            if publish and key.kid not in self.published:
                self.published.append(key.kid)
            if current or key.family not in self._current:
                self._current[key.family] = key.kid
        return key

    def key_for(self, alg: str) -> SigningKey:
        """The current signing key for ``alg``, generated on first use."""
        family = _ALG_FAMILY[alg]
        kid = self._current.get(family)
        if kid is None:
            return self.add_key(generate_key(family))
        return self.signing_keys[kid]

    def rotate(self, alg: str = "RS256", *, keep_old: bool = True) -> SigningKey:
        """A new current key for ``alg``'s family; the old one stays published if ``keep_old``."""
        family = _ALG_FAMILY[alg]
        old = self._current.get(family)
        key = self.add_key(generate_key(family))
        if old is not None and not keep_old:
            self.unpublish(old)
        return key

    def unpublish(self, kid: str) -> None:
        with self._lock:
            if kid in self.published:
                self.published.remove(kid)

    def jwks(self) -> dict[str, Any]:
        with self._lock:
            kids = list(self.published)
            extra = list(self.extra_jwks)
        return {"keys": [self.signing_keys[kid].public_jwk() for kid in kids] + extra}

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer_override or self.issuer,
            "jwks_uri": self.jwks_uri,
            # Listed because clients require it; only the token endpoint answers.
            "authorization_endpoint": self.origin + self.path + "/authorize",
            "token_endpoint": self.token_endpoint.url,
            "introspection_endpoint": self.token_endpoint.introspection_url,
            "grant_types_supported": sorted(GRANTS),
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
            ],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
            "dpop_signing_alg_values_supported": list(DPOP_ALGS),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        }

    # -- clients of the token endpoint --------------------------------------------------------

    def register_client(
        self,
        client_id: str,
        *,
        secret: str | None = None,
        keys: Iterable[Any] = (),
        **options: Any,
    ) -> RegisteredClient:
        """A client that may request tokens at ``/token``: with ``secret`` (basic or post) or
        with ``keys`` (``private_key_jwt``: ``SigningKey``s, public keys or JWKs). ``options``
        are ``RegisteredClient``'s: ``audiences``, ``scopes``, ``grant_types``,
        ``default_audience``, ``require_audience``, ``assertion_audience``."""
        for name in ("audiences", "scopes", "grant_types"):
            if options.get(name) is not None:
                options[name] = frozenset(options[name])
        client = RegisteredClient(client_id, secret, tuple(keys), **options)
        return self.token_endpoint.register(client)

    @property
    def token_url(self) -> str:
        return self.token_endpoint.url

    # -- tokens ----------------------------------------------------------------------------

    def mint(
        self,
        *,
        sub: str | None = "user-123",
        aud: str | list[str] | EllipsisType | None = ...,
        scopes: str | Iterable[str] | None = None,
        expires_in: float = 300,
        typ: str | None = "at+jwt",
        alg: str = "RS256",
        kid: str | None = None,
        include_kid: bool = True,
        iss: str | None = None,
        key: SigningKey | Any | None = None,
        headers: Mapping[str, Any] | None = None,
        client_id: str | None = "test-client",
        dpop: Any = None,
        certificate: bytes | str | None = None,
        **claims: Any,
    ) -> str:
        """A signed token; any claim or header can be set, overridden or (with None) left out.

        ``aud`` defaults to the issuer's ``audience``. Other claims are keywords, in the
        order given: ``acr="phrh", auth_time=time.time() - 600`` say how and when the user
        authenticated (RFC 9470), ``authorization_details=[{"type": ...}]`` what the token
        may touch (RFC 9396), ``sub=None`` or ``gty="client-credentials"`` make an app token.
        ``key`` may be a ``SigningKey`` (also one this issuer does not publish), a raw secret
        for HS* algorithms, or omitted to use the current key for ``alg``.
        ``dpop`` (an ``audmw.testing.dpop.DPoPKey``) binds the token to that key
        (``cnf.jkt``); ``certificate`` (DER bytes or PEM) to a client certificate
        (``cnf["x5t#S256"]``).
        """
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": iss if iss is not None else self.issuer,
            "sub": sub,
            "aud": self.audience if aud is ... else aud,
            "iat": now,
            "exp": now + int(expires_in),
            "jti": uuid.uuid4().hex,
            "client_id": client_id,
        }
        if scopes is not None:
            payload["scope"] = scopes if isinstance(scopes, str) else " ".join(scopes)
        if dpop is not None or certificate is not None:
            cnf: dict[str, str] = {}
            if dpop is not None:
                cnf["jkt"] = dpop.thumbprint
            if certificate is not None:
                der = certificate_der(certificate) if isinstance(certificate, str) else certificate
                if der is None:
                    raise ValueError("certificate is not a PEM or DER certificate")
                cnf["x5t#S256"] = certificate_thumbprint(der)
            payload["cnf"] = cnf
        payload.update(claims)
        payload = {name: value for name, value in payload.items() if value is not None}
        header: dict[str, Any] = {"alg": alg}
        if alg.startswith("HS"):
            if key is None:
                raise ValueError("HS* tokens need key=<shared secret>")
            secret: Any = key.encode() if isinstance(key, str) else key
            header_kid = kid
        else:
            signing = key if isinstance(key, SigningKey) else self.key_for(alg)
            secret = signing.private_key
            header_kid = kid if kid is not None else signing.kid
        if typ is not None:
            header["typ"] = typ
        if include_kid and header_kid is not None:
            header["kid"] = header_kid
        header.update(headers or {})
        return sign_compact(header, payload, secret)

    def mint_opaque(
        self,
        *,
        sub: str | None = "user-123",
        aud: str | list[str] | EllipsisType | None = ...,
        scopes: str | Iterable[str] | None = None,
        expires_in: float = 300,
        client_id: str | None = "test-client",
        **claims: Any,
    ) -> str:
        """An opaque token (a random reference) that the introspection endpoint describes
        with these claims (``mint``'s defaults; None leaves one out) until it expires or
        ``revoke`` is called."""
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "sub": sub,
            "aud": self.audience if aud is ... else aud,
            "iat": now,
            "exp": now + int(expires_in),
            "client_id": client_id,
            "token_type": "Bearer",
        }
        if scopes is not None:
            payload["scope"] = scopes if isinstance(scopes, str) else " ".join(scopes)
        payload.update(claims)
        payload = {name: value for name, value in payload.items() if value is not None}
        return self.token_endpoint.issue_opaque(payload)

    def revoke(self, token: str) -> None:
        """The introspection endpoint says ``token`` (opaque or JWT) is inactive from now on."""
        self.token_endpoint.revoke(token)

    @property
    def introspection_url(self) -> str:
        return self.token_endpoint.introspection_url

    def bearer(self, scopes: str | Iterable[str] | None = None, **claims: Any) -> dict[str, str]:
        """The ``Authorization`` header of a new token: ``client.get(url, headers=...)``.

        ``claims`` are ``mint``'s arguments, so a token the app must refuse is one argument
        away: ``aud="https://other.example"``, ``expires_in=-300``, ``iss=...``.
        """
        return {"Authorization": "Bearer " + self.mint(scopes=scopes, **claims)}

    # -- the app's settings under test -------------------------------------------------------

    def environ(self, audience: str | None = None, **settings: str) -> dict[str, str]:
        """``AUDMW_ISSUER``, ``AUDMW_AUDIENCE`` (and ``AUDMW_<NAME>`` for each other setting,
        written as in the environment) for ``os.environ.update`` before the app is built.

        ``audience`` becomes the issuer's ``audience``, so the tokens it mints from then on
        are for the API these settings describe.
        """
        return {"AUDMW_" + name: value for name, value in self._settings(audience, settings)}

    def django_settings(self, audience: str | None = None, **settings: Any) -> dict[str, Any]:
        """A value for Django's ``settings.AUDMW`` (``override_settings(AUDMW=...)``, pytest-
        django's ``settings`` fixture or a test ``settings.py``); ``audience`` as in
        ``environ``, other settings by name (``exempt_paths=[...]``, ``token_user=True``)."""
        return dict(self._settings(audience, settings))

    def flask_config(self, audience: str | None = None, **settings: Any) -> dict[str, Any]:
        """Keys for Flask's ``app.config`` (``AUDMW_ISSUER``, ``AUDMW_AUDIENCE``, ...), for an
        app factory or ``app.config.update``; ``audience`` as in ``environ``."""
        return {"AUDMW_" + name: value for name, value in self._settings(audience, settings)}

    def _settings(self, audience: str | None, settings: Mapping[str, Any]) -> list[tuple[str, Any]]:
        """The upper-case names and values of the settings pointing an app at this issuer."""
        if audience is not None:
            self.audience = audience
        named = [(name.upper(), value) for name, value in settings.items()]
        return [("ISSUER", self.issuer), ("AUDIENCE", self.audience), *named]

    # -- faults ----------------------------------------------------------------------------

    def set_mode(self, mode: Mode) -> None:
        """``ok``, ``error`` (HTTP 500), ``hang`` (no answer until stopped), ``garbage`` (an
        HTML page), ``trickle`` (the status line and headers one byte every
        ``trickle_interval`` seconds, then the document) or ``huge`` (a 10 MiB JSON body)."""
        self.mode = mode
        if mode != "hang":
            self._release.set()
            self._release = threading.Event()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_compact(header: Mapping[str, Any], payload: Mapping[str, Any] | bytes, key: Any) -> str:
    """A compact JWS with exactly this header (``alg`` included) and payload, signed by ``key``."""
    alg = header["alg"]
    # RFC 9864's fully specified names sign as EdDSA does, with the key of their curve.
    algorithm = get_default_algorithms()["EdDSA" if alg in ("Ed25519", "Ed448") else alg]
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = f"{b64url(json.dumps(dict(header)).encode())}.{b64url(body)}"
    signature = algorithm.sign(signing_input.encode("ascii"), algorithm.prepare_key(key))
    return f"{signing_input}.{b64url(signature)}"


_CORS = {"Access-Control-Allow-Origin": "*"}
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")
_TOKEN_HEADERS = {**_CORS, "Cache-Control": "no-store", "Pragma": "no-cache"}


def _handler_for(issuer: LocalIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            with issuer._lock:
                issuer.requests.append(path)
            if path == issuer.path + "/jwks.json":
                with issuer._lock:
                    issuer.jwks_requests += 1
                self._answer(issuer.jwks, max_age=issuer.jwks_max_age)
                return
            oidc = issuer.path + "/.well-known/openid-configuration"
            oauth = "/.well-known/oauth-authorization-server" + issuer.path
            if (path == oidc and issuer.discovery in ("oidc", "both")) or (
                path == oauth and issuer.discovery in ("oauth", "both")
            ):
                with issuer._lock:
                    issuer.discovery_requests += 1
                self._answer(issuer.metadata)
                return
            self._send(404, b'{"error":"not_found"}')

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            with issuer._lock:
                issuer.requests.append(path)
            endpoint = issuer.token_endpoint
            introspection = path == issuer.path + "/introspect"
            if not introspection and path != issuer.path + "/token":
                self._send(404, b'{"error":"not_found"}')
                return
            try:
                length = int(self.headers.get("Content-Length") or "")
            except ValueError:
                length = -1
            if not 0 <= length <= MAX_BODY:
                self.close_connection = True
                self._send(400, b'{"error":"invalid_request"}', _TOKEN_HEADERS)
                return
            body = self.rfile.read(length)
            headers = {name.lower(): value for name, value in self.headers.items()}
            if introspection:
                status, answer = endpoint.introspect(headers, body)
                signed = endpoint.signed_answer(headers, answer, body)
                if signed is not None and issuer.mode == "ok":
                    self._send(200, signed, {**_TOKEN_HEADERS, "Content-Type": SIGNED_ANSWER})
                    return
                extra = dict(_TOKEN_HEADERS)
            else:
                proofs = self.headers.get_all("DPoP") or []
                if len(proofs) > 1:
                    headers["dpop"] = ",".join(proofs)  # refused: exactly one proof
                status, answer, answer_headers = endpoint.respond(headers, body)
                extra = {**_TOKEN_HEADERS, **answer_headers}
            if status == 401 and "authorization" in headers:
                extra["WWW-Authenticate"] = 'Basic realm="token"'
            self._answer(lambda: answer, status=status, headers=extra)

        def do_OPTIONS(self) -> None:
            # CORS preflight: a browser page (Swagger UI) may ask for tokens.
            self.send_response(204)
            for name, value in _CORS.items():
                self.send_header(name, value)
            self.send_header("Access-Control-Allow-Methods", "POST")
            # Swagger UI adds X-Requested-With (and others may add more): allow what is asked.
            asked = self.headers.get("Access-Control-Request-Headers", "")
            allowed = ", ".join(
                name.strip() for name in asked.split(",") if _HEADER_NAME.fullmatch(name.strip())
            )
            self.send_header("Access-Control-Allow-Headers", allowed or "Authorization")
            self.send_header("Access-Control-Max-Age", "600")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _answer(
            self,
            document: Any,
            max_age: int | None = None,
            status: int = 200,
            headers: Mapping[str, str] | None = None,
        ) -> None:
            mode = issuer.mode
            if mode == "hang":
                issuer._release.wait(timeout=60)
                return
            if mode == "error":
                self._send(500, b"internal error")
                return
            if mode == "garbage":
                self._send(200, b"<html>not json</html>")
                return
            if mode == "huge":
                padding = b" " * (HUGE_BODY_BYTES - 2)
                self._send(200, b"{" + padding + b"}")
                return
            if mode == "trickle":
                self._trickle(json.dumps(document()).encode())
                return
            extra = dict(headers or {})
            if max_age is not None:
                extra["Cache-Control"] = f"max-age={max_age}"
            self._send(status, json.dumps(document()).encode(), extra)

        def _send(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
            self.send_response(status)
            extra = dict(headers or {})
            self.send_header("Content-Type", extra.pop("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(body)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _trickle(self, body: bytes) -> None:
            head = (
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\n\r\n"
            ).encode("latin-1")
            release = issuer._release
            try:
                for index in range(len(head)):
                    self.wfile.write(head[index : index + 1])
                    if release.wait(issuer.trickle_interval):
                        return  # stopped, or the mode changed
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up, as it should
            self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
