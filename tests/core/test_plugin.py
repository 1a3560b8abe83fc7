"""The pytest plugin, as users get it from the entry point."""

from __future__ import annotations

import httpx
import pytest

from audmw import Settings, TokenValidator
from audmw.testing import LocalIssuer


def test_the_plugin_is_registered(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.has_plugin("audmw")


def test_audmw_issuer_fixture(audmw_issuer: LocalIssuer) -> None:
    assert isinstance(audmw_issuer, LocalIssuer)
    assert audmw_issuer.issuer.startswith("http://127.0.0.1:")
    metadata = httpx.get(audmw_issuer.issuer + "/.well-known/openid-configuration").json()
    assert metadata["issuer"] == audmw_issuer.issuer
    assert metadata["jwks_uri"] == audmw_issuer.jwks_uri
    validator = TokenValidator(
        Settings(issuer=audmw_issuer.issuer, audience="https://api.example.com")
    )
    token = audmw_issuer.mint(sub="alice", scopes=["read:messages"])
    assert validator.validate(token).scopes == {"read:messages"}
    assert audmw_issuer.jwks_requests == 1
