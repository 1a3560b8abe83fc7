"""A real OpenID provider (Node.js ``oidc-provider``) on 127.0.0.1, run from Python.

Used by the end-to-end tests and by the demo (``--issuer oidc-provider``)::

    with OidcProvider() as provider:
        token = provider.get_token(resource=API, scope="read:messages")
        provider.issuer            # http://127.0.0.1:PORT, what AUDMW_ISSUER must be
        provider.rotate()          # a new RSA key signs from now on; the old one stays published
        provider.stop(); provider.start()   # same port, same keys

Tokens are obtained the way a real client does: ``POST /token`` with client_secret_basic,
``grant_type=client_credentials``, ``resource=<the API>`` and ``scope=...`` (RFC 8707). The
signing keys (RSA for RS256, EC P-256 for ES256) are generated here and handed to the provider
as private JWKs; nothing is written outside a temporary directory.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import httpx
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "provider.mjs"

API = "https://api.example.com"
API_SCOPES = ("read:messages", "write:messages", "admin")
OTHER_API = "https://reports.example.com"
OTHER_API_SCOPES = ("read:reports",)
AUTHORIZATION_DETAILS_TYPES = ("payment_initiation", "account_information")  # RFC 9396

INSTALL_NODE = (
    "the end-to-end tests run a real OpenID provider (oidc-provider) on Node.js, and `node` "
    "is not on PATH: install Node.js 20 or newer with npm (https://nodejs.org/, or your "
    "package manager's `nodejs` and `npm`), then run `npm ci` in tests/e2e (./run test does it)"
)
INSTALL_PACKAGES = (
    "oidc-provider is not installed in tests/e2e/node_modules: run `npm ci --prefix tests/e2e` "
    "(./run test does it) with Node.js 20+ and npm"
)


class ProviderUnavailable(RuntimeError):
    """Node.js or the pinned oidc-provider package is missing, or the provider did not start."""


class TokenRequestFailed(RuntimeError):
    """The token endpoint refused the request; the message holds its OAuth error."""


class ProviderKey(NamedTuple):
    """One signing key of the provider: ``kid``, ``alg`` and the private JWK it is given."""

    kid: str
    alg: str
    private_jwk: dict[str, Any]

    @classmethod
    def generate(cls, alg: str = "RS256", kid: str | None = None) -> ProviderKey:
        """A new RSA-2048 (``RS256``) or EC P-256 (``ES256``) key."""
        if alg == "RS256":
            jwk = RSAAlgorithm.to_jwk(
                rsa.generate_private_key(public_exponent=65537, key_size=2048), as_dict=True
            )
        elif alg == "ES256":
            jwk = ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()), as_dict=True)
        else:
            raise ValueError(f"unsupported signing algorithm {alg!r}; use RS256 or ES256")
        kid = kid or f"{alg.lower()}-{secrets.token_hex(4)}"
        # oidc-provider publishes key_ops as given; PyJWT marks private keys "sign", which a
        # resource server rightly refuses for verification, so leave it out.
        jwk.pop("key_ops", None)
        return cls(kid, alg, {**jwk, "kid": kid, "alg": alg, "use": "sig"})


def find_node() -> str:
    """The ``node`` executable, or ``ProviderUnavailable`` saying what to install."""
    node = shutil.which("node")
    if node is None:
        raise ProviderUnavailable(INSTALL_NODE)
    if not (HERE / "node_modules" / "oidc-provider" / "package.json").is_file():
        raise ProviderUnavailable(INSTALL_PACKAGES)
    return node


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OidcProvider:
    """``oidc-provider`` as a child process on 127.0.0.1, with its clients and resources.

    Two confidential clients use the client-credentials grant: one gets RS256 access tokens,
    the other ES256 (``get_token(alg=...)``). Two resource servers are known: ``API``
    (``https://api.example.com``, scopes ``read:messages write:messages admin``) and
    ``OTHER_API``; both get JWT access tokens (``typ: at+jwt``). A token requested without
    ``resource`` is opaque.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        keys: Sequence[ProviderKey] | None = None,
        token_ttl: int = 300,
        startup_timeout: float = 30.0,
        resources: Mapping[str, str] | None = None,
    ) -> None:
        self.port = port or free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.token_endpoint = f"{self.issuer}/token"
        self.jwks_uri = f"{self.issuer}/jwks"
        self.keys: list[ProviderKey] = list(keys or (ProviderKey.generate("RS256"),))
        if not any(key.alg == "ES256" for key in self.keys):
            self.keys.append(ProviderKey.generate("ES256"))
        self.token_ttl = token_ttl
        # Resource servers besides API and OTHER_API: resource indicator -> its scopes.
        self.resources = dict(resources or {})
        self.startup_timeout = startup_timeout
        self.clients = {
            alg: (f"audmw-e2e-{alg.lower()}", secrets.token_urlsafe(32))
            for alg in ("RS256", "ES256")
        }
        # Clients of the calling side: one sending its secret in the form, one with a key
        # (private_key_jwt), both asking for tokens by client credentials and resource=.
        self.post_client = ("audmw-e2e-post", secrets.token_urlsafe(32))
        self.jwt_client_id = "audmw-e2e-private-key-jwt"
        self.jwt_client_key = ProviderKey.generate("ES256")
        self._directory = Path(tempfile.mkdtemp(prefix="audmw-oidc-provider-"))
        self.log_path = self._directory / "provider.log"
        self._process: subprocess.Popen[bytes] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> OidcProvider:
        """Start the provider (same port and keys as before) and wait for its discovery."""
        if self.running:
            return self
        node = find_node()
        config = self._directory / "config.json"
        config.write_text(json.dumps(self._config()))
        config.chmod(0o600)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [node, str(SCRIPT), str(config)],
                cwd=HERE,
                stdin=subprocess.PIPE,  # closed when this process ends: the provider exits
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the provider process; safe to call at any time, any number of times."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdin is not None:
            process.stdin.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    def rotate(self, alg: str = "RS256", *, retire: str | None = None) -> ProviderKey:
        """Restart with a new key that signs from now on.

        The previous keys stay published, except the one whose kid is ``retire``.
        """
        key = ProviderKey.generate(alg)
        self.keys = [key, *(k for k in self.keys if k.kid != retire)]
        self.restart()
        return key

    def retire(self, kid: str) -> None:
        """Restart without the key ``kid``: tokens it signed can no longer be verified."""
        self.keys = [key for key in self.keys if key.kid != kid]
        self.restart()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._directory, ignore_errors=True)

    def __enter__(self) -> OidcProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- tokens ------------------------------------------------------------------------------

    def request_token(
        self,
        *,
        resource: str | None = API,
        scope: str | None = None,
        alg: str = "RS256",
        authorization_details: list[dict[str, Any]] | None = None,
        dpop: Any = None,
    ) -> httpx.Response:
        """The token endpoint's raw answer to a client-credentials request; with ``dpop`` (an
        ``audmw.testing.DPoPKey``) the request carries a DPoP proof, once more with the
        provider's nonce if it asks for one."""
        client_id, secret = self.clients[alg]
        form = {"grant_type": "client_credentials"}
        if resource is not None:
            form["resource"] = resource
        if scope is not None:
            form["scope"] = scope
        if authorization_details is not None:
            form["authorization_details"] = json.dumps(authorization_details)
        nonce = None
        for _ in range(2):
            headers = {}
            if dpop is not None:
                headers["DPoP"] = dpop.proof("POST", self.token_endpoint, nonce=nonce)
            response = httpx.post(
                self.token_endpoint,
                data=form,
                headers=headers,
                auth=(client_id, secret),
                timeout=10,
            )
            nonce = response.headers.get("DPoP-Nonce")
            if response.status_code != 400 or nonce is None:
                return response
        return response

    def get_token(
        self,
        resource: str | None = API,
        scope: str | None = None,
        *,
        alg: str = "RS256",
        authorization_details: list[dict[str, Any]] | None = None,
        dpop: Any = None,
    ) -> str:
        """An access token: a JWT for ``resource`` (opaque when ``resource`` is None), with
        the RFC 9396 ``authorization_details`` entries asked for; bound to ``dpop``'s key
        when given."""
        response = self.request_token(
            resource=resource,
            scope=scope,
            alg=alg,
            authorization_details=authorization_details,
            dpop=dpop,
        )
        if response.status_code != 200:
            raise TokenRequestFailed(
                f"token endpoint answered HTTP {response.status_code}: {response.text[:300]}"
            )
        token = response.json()["access_token"]
        assert isinstance(token, str)
        return token

    def client_id(self, alg: str = "RS256") -> str:
        return self.clients[alg][0]

    # -- internals ---------------------------------------------------------------------------

    def _config(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "port": self.port,
            "host": "127.0.0.1",
            "exit_with_stdin": True,
            "keys": [key.private_jwk for key in self.keys],
            "clients": [
                *(
                    {"client_id": client_id, "client_secret": secret, "access_token_alg": alg}
                    for alg, (client_id, secret) in self.clients.items()
                ),
                {
                    "client_id": self.post_client[0],
                    "client_secret": self.post_client[1],
                    "token_endpoint_auth_method": "client_secret_post",
                },
                {
                    "client_id": self.jwt_client_id,
                    "token_endpoint_auth_method": "private_key_jwt",
                    "token_endpoint_auth_signing_alg": "ES256",
                    "jwks": {"keys": [self._public_jwk(self.jwt_client_key)]},
                },
            ],
            "resources": {
                API: {"scope": " ".join(API_SCOPES), "ttl": self.token_ttl},
                OTHER_API: {"scope": " ".join(OTHER_API_SCOPES), "ttl": self.token_ttl},
                **{
                    resource: {"scope": scopes, "ttl": self.token_ttl}
                    for resource, scopes in self.resources.items()
                },
            },
            "authorization_details_types": list(AUTHORIZATION_DETAILS_TYPES),
        }

    @staticmethod
    def _public_jwk(key: ProviderKey) -> dict[str, Any]:
        private = {"d", "p", "q", "dp", "dq", "qi"}
        return {name: value for name, value in key.private_jwk.items() if name not in private}

    def _wait_until_ready(self) -> None:
        discovery = f"{self.issuer}/.well-known/openid-configuration"
        deadline = time.monotonic() + self.startup_timeout
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                raise ProviderUnavailable(
                    f"oidc-provider exited with code {self._process.returncode}:\n{self.log()}"
                )
            try:
                response = httpx.get(discovery, timeout=2)
                if response.status_code == 200 and response.json().get("issuer") == self.issuer:
                    return
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise ProviderUnavailable(
                    f"oidc-provider did not serve {discovery} within {self.startup_timeout} s:\n"
                    f"{self.log()}"
                )
            time.sleep(0.05)

    def log(self, limit: int = 4000) -> str:
        """The end of the provider's output (for failure messages)."""
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except OSError:
            return ""


def main() -> None:
    """Run the provider in the foreground and print how to get a token (Ctrl-C stops it)."""
    with OidcProvider(port=int(os.environ.get("PORT", "0"))) as provider:
        client_id, secret = provider.clients["RS256"]
        print(f"issuer: {provider.issuer}")
        print(
            f"curl -s -u {client_id}:{secret} -d grant_type=client_credentials "
            f"-d resource={API} -d 'scope=read:messages' {provider.token_endpoint}"
        )
        try:
            while provider.running:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
