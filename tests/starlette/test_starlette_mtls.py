"""Certificate-bound tokens (RFC 8705) with uvicorn serving TLS with client certificates.

A CA, the server's certificate and two clients' certificates are made here with
``cryptography``. uvicorn checks the client's certificate chain but does not hand the
certificate to the app, so the server runs with an HTTP protocol that puts it in the ASGI
``tls`` extension (``client_cert_chain``), as the ASGI TLS extension describes.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from audmw import Settings
from audmw.starlette import AudienceMiddleware
from audmw.testing import LocalIssuer, assert_refused

AUDIENCE = "https://api.example.com"


class Certificates:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ca = self._certificate("audmw test CA", self.ca_key, None, ca=True)
        self.ca_path = self._write("ca", self.ca, None)

    def _certificate(
        self,
        name: str,
        key: Any,
        issuer: tuple[x509.Certificate, Any] | None,
        *,
        ca: bool = False,
        server: bool = False,
    ) -> x509.Certificate:
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer[0].subject if issuer else subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        else:
            usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        signer = issuer[1] if issuer else key
        return builder.sign(signer, hashes.SHA256())

    def _write(self, name: str, certificate: x509.Certificate, key: Any) -> Path:
        path = self.directory / f"{name}.pem"
        path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        if key is not None:
            (self.directory / f"{name}.key").write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        return path

    def issue(self, name: str, *, server: bool = False) -> tuple[x509.Certificate, Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = self._certificate(name, key, (self.ca, self.ca_key), server=server)
        path = self._write(name, certificate, key)
        return certificate, path, self.directory / f"{name}.key"


class ClientCertificateProtocol(H11Protocol):
    """uvicorn's h11 protocol, giving the app the client's certificate (ASGI ``tls``)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if der is None:
            return
        pem = ssl.DER_cert_to_PEM_cert(der)
        app = self.app

        async def with_certificate(scope: Any, receive: Any, send: Any) -> None:
            extensions = dict(scope.get("extensions") or {})
            extensions["tls"] = {"client_cert_chain": [pem], "tls_version": None}
            await app({**scope, "extensions": extensions}, receive, send)

        self.app = with_certificate


async def me(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.user.token.subject})


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return Certificates(tmp_path_factory.mktemp("mtls"))


@pytest.fixture(scope="module")
def tls_server(certificates: Certificates, audmw_session_issuer: LocalIssuer) -> Iterator[str]:
    _, server_cert, server_key = certificates.issue("server", server=True)
    settings = Settings(issuer=audmw_session_issuer.issuer, audience=AUDIENCE)
    app = Starlette(
        routes=[Route("/me", me)], middleware=[Middleware(AudienceMiddleware, settings)]
    )
    with _socket_port() as port:
        pass
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http=ClientCertificateProtocol,
        ssl_certfile=str(server_cert),
        ssl_keyfile=str(server_key),
        ssl_ca_certs=str(certificates.ca_path),
        ssl_cert_reqs=ssl.CERT_OPTIONAL,  # so that a request without one reaches audmw
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"https://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


class _socket_port:
    def __enter__(self) -> int:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        return port

    def __exit__(self, *exc: object) -> None:
        return None


def _client(certificates: Certificates, name: str | None) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(certificates.ca_path))
    if name is not None:
        context.load_cert_chain(
            str(certificates.directory / f"{name}.pem"), str(certificates.directory / f"{name}.key")
        )
    return httpx.Client(verify=context, timeout=15)


def test_a_certificate_bound_token_needs_its_certificate(
    certificates: Certificates, tls_server: str, audmw_session_issuer: LocalIssuer
) -> None:
    alice, _, _ = certificates.issue("alice")
    certificates.issue("mallory")
    token = audmw_session_issuer.mint(
        aud=AUDIENCE, certificate=alice.public_bytes(serialization.Encoding.DER)
    )
    headers = {"Authorization": f"Bearer {token}"}
    with _client(certificates, "alice") as client:
        accepted = client.get(tls_server + "/me", headers=headers)
        assert accepted.status_code == 200, accepted.text
    # The same token over another client's TLS connection, or over one without a certificate.
    with _client(certificates, "mallory") as client:
        assert_refused(client.get(tls_server + "/me", headers=headers), 401, "invalid_token")
    with _client(certificates, None) as client:
        assert_refused(client.get(tls_server + "/me", headers=headers), 401, "invalid_token")
        # A token bound to nothing needs no certificate.
        plain = {"Authorization": f"Bearer {audmw_session_issuer.mint(aud=AUDIENCE)}"}
        assert client.get(tls_server + "/me", headers=plain).status_code == 200
