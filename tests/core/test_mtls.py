"""Certificate-bound tokens (RFC 8705) through the Guard: the certificate from the server, or
from a trusted proxy's header (RFC 9440 ``Client-Cert``, PEM, URL-encoded PEM)."""

from __future__ import annotations

import base64
import ssl
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from audmw import Guard, Settings
from audmw.errors import AuthError
from audmw.request import IncomingRequest
from audmw.testing import LocalIssuer

AUDIENCE = "https://api.example.com"


def _der(name: str) -> bytes:
    import datetime

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    from cryptography.hazmat.primitives.serialization import Encoding

    return certificate.public_bytes(Encoding.DER)


ALICE, MALLORY = _der("alice"), _der("mallory")


def _request(
    token: str,
    *,
    certificate: str | None = None,
    peer: str = "192.0.2.9",
    header: str | None = None,
    name: str = "client-cert",
) -> IncomingRequest:
    return IncomingRequest(
        "GET",
        "/reports",
        (f"Bearer {token}",),
        scheme="https",
        host="api.example.com",
        client_certificate=certificate,
        peer=peer,
        proxy=((name, header),) if header is not None else (),
    )


def _refused(guard: Guard, incoming: IncomingRequest) -> AuthError:
    with pytest.raises(AuthError) as caught:
        guard.authorize(incoming)
    assert caught.value.error == "invalid_token"
    return caught.value


def test_the_certificate_from_the_connection(issuer: LocalIssuer) -> None:
    guard = Guard(Settings(issuer=issuer.issuer, audience=AUDIENCE))
    token = issuer.mint(aud=AUDIENCE, certificate=ALICE)
    guard.authorize(_request(token, certificate=ssl.DER_cert_to_PEM_cert(ALICE)))
    mismatch = _refused(guard, _request(token, certificate=ssl.DER_cert_to_PEM_cert(MALLORY)))
    assert mismatch.reason == "client_certificate_mismatch"
    assert _refused(guard, _request(token)).reason == "client_certificate_missing"


@pytest.mark.parametrize(
    "form",
    [
        lambda der: ":" + base64.b64encode(der).decode() + ":",  # RFC 9440
        lambda der: ssl.DER_cert_to_PEM_cert(der),
        lambda der: quote(ssl.DER_cert_to_PEM_cert(der)),  # nginx $ssl_client_escaped_cert
        lambda der: base64.b64encode(der).decode(),
    ],
    ids=["rfc9440", "pem", "escaped-pem", "base64-der"],
)
def test_the_certificate_from_a_trusted_proxy(issuer: LocalIssuer, form: object) -> None:
    guard = Guard(Settings(issuer=issuer.issuer, audience=AUDIENCE, trusted_proxies="10.0.0.1"))
    token = issuer.mint(aud=AUDIENCE, certificate=ALICE)
    header = form(ALICE)  # type: ignore[operator]
    guard.authorize(_request(token, peer="10.0.0.1", header=header))
    # The same header from anyone else is the client's own claim: ignored.
    refused = _refused(guard, _request(token, peer="192.0.2.9", header=header))
    assert refused.reason == "client_certificate_missing"
    other = form(MALLORY)  # type: ignore[operator]
    refused = _refused(guard, _request(token, peer="10.0.0.1", header=other))
    assert refused.reason == "client_certificate_mismatch"


def test_a_configured_header_and_garbage(issuer: LocalIssuer) -> None:
    guard = Guard(
        Settings(
            issuer=issuer.issuer,
            audience=AUDIENCE,
            trusted_proxies="10.0.0.0/8",
            client_cert_header="x-ssl-client-cert",
        )
    )
    token = issuer.mint(aud=AUDIENCE, certificate=ALICE)
    pem = ssl.DER_cert_to_PEM_cert(ALICE)
    guard.authorize(_request(token, peer="10.1.2.3", header=pem, name="x-ssl-client-cert"))
    refused = _refused(guard, _request(token, peer="10.1.2.3", header=pem))  # client-cert
    assert refused.reason == "client_certificate_missing"
    refused = _refused(
        guard,
        _request(token, peer="10.1.2.3", header=":bm90IGEgY2VydA==:", name="x-ssl-client-cert"),
    )
    assert refused.reason == "client_certificate_invalid"


def test_an_unbound_token_needs_no_certificate(issuer: LocalIssuer) -> None:
    guard = Guard(Settings(issuer=issuer.issuer, audience=AUDIENCE))
    guard.authorize(_request(issuer.mint(aud=AUDIENCE)))
    bad = issuer.mint(aud=AUDIENCE, cnf={"x5t#S256": 42})
    assert _refused(guard, _request(bad)).reason == "cnf_invalid"
    worse = issuer.mint(aud=AUDIENCE, cnf="x")
    assert _refused(guard, _request(worse)).reason == "cnf_invalid"
