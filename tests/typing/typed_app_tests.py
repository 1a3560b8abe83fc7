"""A user's tests of the apps beside this file, under ``mypy --strict``: the fixtures, the
settings helpers and ``assert_refused`` with each framework's test client."""

from __future__ import annotations

import os

import pytest
from django.test import Client, override_settings
from fastapi.testclient import TestClient
from typed_fastapi_app import app as fastapi_app
from typed_flask_app import create_app

from audmw import Settings
from audmw.testing import LocalIssuer, assert_refused, generate_key, session_issuer

os.environ.update(session_issuer().environ(audience="https://api.example.com"))


@pytest.fixture(scope="session")
def client() -> TestClient:
    return TestClient(fastapi_app)


def test_fastapi(client: TestClient, audmw_session_issuer: LocalIssuer) -> None:
    headers: dict[str, str] = audmw_session_issuer.bearer(scopes=["read:messages"])
    assert client.get("/api/messages", headers=headers).status_code == 200
    refused = client.get("/api/me", headers=audmw_session_issuer.bearer(key=generate_key("rsa")))
    assert_refused(refused, 401, "invalid_token")


@override_settings(AUDMW=session_issuer().django_settings(token_user=True))
def test_django(audmw_session_issuer: LocalIssuer) -> None:
    response = Client().get("/api/messages", headers=audmw_session_issuer.bearer())
    assert_refused(response, 403, "insufficient_scope", scope="read:messages")


def test_flask(audmw_session_issuer: LocalIssuer) -> None:
    settings = Settings.from_mapping(audmw_session_issuer.flask_config(), "AUDMW_")
    response = create_app(settings).test_client().get("/me")
    assert_refused(response, 401)


def test_a_changed_issuer(audmw_issuer: LocalIssuer) -> None:
    audmw_issuer.set_mode("error")
    environ: dict[str, str] = audmw_issuer.environ(exempt_paths="/health")
    assert environ["AUDMW_ISSUER"] == audmw_issuer.issuer
