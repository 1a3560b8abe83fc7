"""``audmw check`` explains a DPoP-bound token and its proof, and a certificate-bound token."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

from audmw.testing import DPoPKey, LocalIssuer
from tests.cli.conftest import Run
from tests.core.test_mtls import ALICE, MALLORY

AUDIENCE = "https://api.example.com"
URL = "https://api.example.com/items"


def _args(issuer: LocalIssuer, *extra: str) -> list[str]:
    return ["check", "--issuer", issuer.issuer, "--audience", AUDIENCE, *extra]


def _holder(document: dict[str, object]) -> dict[str, str]:
    checks = document["checks"]
    assert isinstance(checks, list)
    found: dict[str, str] = next(check for check in checks if check["id"] == "holder")
    return found


def test_a_dpop_bound_token_without_its_proof(issuer: LocalIssuer, run_cli: Run) -> None:
    key = DPoPKey()
    token = issuer.mint(dpop=key)
    document = json.loads(run_cli([*_args(issuer), "--json"], stdin=token).out)
    assert document["verdict"] == "rejected"
    assert document["reason"] == "dpop_bound_token_as_bearer"
    assert _holder(document)["status"] == "fail"
    assert "--dpop-proof" in document["fix"]
    assert key.thumbprint in document["fix"]
    text = run_cli(_args(issuer), stdin=token).out
    assert "DPoP-bound" not in text or token not in text


def test_a_dpop_proof_is_explained(issuer: LocalIssuer, run_cli: Run) -> None:
    key = DPoPKey()
    token = issuer.mint(dpop=key, scopes="read")
    proof = key.proof("POST", URL, token)
    accepted = run_cli(
        [*_args(issuer), "--dpop-proof", proof, "--method", "POST", "--url", URL, "--json"],
        stdin=token,
    )
    document = json.loads(accepted.out)
    assert document["verdict"] == "accepted", document
    assert key.thumbprint in _holder(document)["detail"]

    wrong = run_cli(
        [*_args(issuer), "--dpop-proof", proof, "--method", "GET", "--url", URL, "--json"],
        stdin=token,
    )
    document = json.loads(wrong.out)
    assert (document["reason"], _holder(document)["status"]) == ("dpop_htm_mismatch", "fail")
    assert "POST" in document["fix"]
    assert token not in wrong.out + wrong.err


def test_inspect_says_a_token_is_bound(issuer: LocalIssuer, run_cli: Run) -> None:
    token = issuer.mint(dpop=DPoPKey(), certificate=ALICE)
    result = run_cli(["inspect"], stdin=token)
    assert "DPoP-bound" in result.out
    assert "certificate-bound" in result.out


def test_a_certificate_bound_token(issuer: LocalIssuer, run_cli: Run, tmp_path: Path) -> None:
    token = issuer.mint(certificate=ALICE)
    missing = json.loads(run_cli([*_args(issuer), "--json"], stdin=token).out)
    assert missing["reason"] == "client_certificate_missing"
    assert "--client-cert" in missing["fix"]
    alice, mallory = tmp_path / "alice.pem", tmp_path / "mallory.der"
    alice.write_text(ssl.DER_cert_to_PEM_cert(ALICE))
    mallory.write_bytes(MALLORY)
    ok = json.loads(
        run_cli([*_args(issuer), "--client-cert", str(alice), "--json"], stdin=token).out
    )
    assert ok["verdict"] == "accepted"
    other = run_cli([*_args(issuer), "--client-cert", str(mallory), "--json"], stdin=token)
    assert json.loads(other.out)["reason"] == "client_certificate_mismatch"
