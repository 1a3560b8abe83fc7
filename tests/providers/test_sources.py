"""Presets chosen by name from code, the environment, Django's AUDMW dict and Flask's config."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from audmw import ConfigurationError, Settings, TokenValidator
from audmw.testing import LocalIssuer
from audmw_flask import Audmw, require_scopes

from .conftest import API_CLIENT_ID, APP_ID_URI, TENANT
from .test_entra import v2_token


def test_environment(issuer: LocalIssuer) -> None:
    environ = {
        "AUDMW_PROVIDER": "entra",
        "AUDMW_TENANT_ID": "organizations",
        "AUDMW_CLIENT_ID": API_CLIENT_ID,
        "AUDMW_APP_ID_URI": APP_ID_URI,
        "AUDMW_ALLOWED_TENANTS": TENANT,
        "AUDMW_REQUIRE_APP_ROLES": "true",
        "AUDMW_JWKS_URI": issuer.jwks_uri,
        "AUDMW_LEEWAY": "10",
        "PATH": "/usr/bin",
    }
    settings = Settings.from_env(environ)
    assert settings.allowed_tenants == (TENANT,)
    assert settings.require_any_claim == ("scp", "roles")
    assert settings.jwks_uri == issuer.jwks_uri
    assert settings.leeway == 10
    assert TokenValidator(settings).validate(v2_token(issuer)).claims["tid"] == TENANT


def test_django_style_mapping() -> None:
    settings = Settings.from_mapping(
        {
            "PROVIDER": "keycloak",
            "BASE_URL": "https://sso.example.com",
            "REALM_NAME": "shop",
            "CLIENT_ID": "orders-api",
            "REALM": "orders",
            "EXEMPT_PATHS": ["/health"],
        }
    )
    assert settings.issuer == ("https://sso.example.com/realms/shop",)
    assert settings.audience == ("orders-api",)
    assert settings.realm == "orders"
    assert settings.exempt_paths == ("/health",)


def test_explicit_settings_override_the_preset() -> None:
    settings = Settings.for_provider(
        "auth0",
        domain="t.eu.auth0.com",
        audience="https://api",
        jwks_uri="https://keys.example.com/jwks.json",
        scope_claims="scope",
    )
    assert settings.jwks_uri == "https://keys.example.com/jwks.json"
    assert settings.scope_claims == ("scope",)
    from_env = Settings.from_env(
        {"AUDMW_PROVIDER": "auth0", "AUDMW_DOMAIN": "t.eu.auth0.com"}, audience="https://api"
    )
    assert from_env.audience == ("https://api",)
    assert Settings.from_env({}, provider="okta", domain="o.okta.com").audience == (
        "api://default",
    )


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"PROVIDER": "azure"}, "unknown provider 'azure'; choose from auth0, cognito, entra"),
        ({"PROVIDER": "entra", "CLIENT_ID": API_CLIENT_ID}, "needs tenant_id="),
        ({"PROVIDER": "entra", "TENANT_ID": "contoso.com", "CLIENT_ID": "x"}, "GUID"),
        ({"PROVIDER": "entra", "TENANT_ID": TENANT, "CLIENT_ID": "x", "VERSIONS": "3"}, "1.0"),
        ({"PROVIDER": "auth0", "DOMAIN": "t.auth0.com", "TENANT_ID": "x"}, "TENANT_ID"),
        ({"TENANT_ID": TENANT, "ISSUER": "https://a", "AUDIENCE": "b"}, "unknown setting"),
        ({"PROVIDER": "rfc9068", "AUDIENCE": "b"}, "no issuer"),
    ],
)
def test_configuration_errors(mapping: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_mapping(mapping)


def test_unknown_preset_option_in_code() -> None:
    with pytest.raises(ConfigurationError, match="unknown option tenant for provider 'entra'"):
        Settings.for_provider("entra", tenant=TENANT, client_id="x")


def test_flask_config(issuer: LocalIssuer) -> None:
    app = Flask(__name__)
    app.config.update(
        AUDMW_PROVIDER="entra",
        AUDMW_TENANT_ID=TENANT,
        AUDMW_CLIENT_ID=API_CLIENT_ID,
        AUDMW_JWKS_URI=issuer.jwks_uri,
    )

    @app.get("/orders")
    @require_scopes("Orders.Read")
    def orders() -> dict[str, str]:
        return {"ok": "yes"}

    Audmw(app)
    client = app.test_client()
    good = client.get("/orders", headers={"Authorization": f"Bearer {v2_token(issuer)}"})
    assert good.status_code == 200
    other = v2_token(issuer, tenant="9188040d-6c67-4c5b-b112-36a304b66dad")
    assert client.get("/orders", headers={"Authorization": f"Bearer {other}"}).status_code == 401
    low = v2_token(issuer, scp="Orders.Write")
    assert client.get("/orders", headers={"Authorization": f"Bearer {low}"}).status_code == 403


def test_flask_config_with_a_misspelt_key_is_refused_with_the_key_probably_meant() -> None:
    app = Flask(__name__)
    app.config.update(
        AUDMW_ISSUER="https://issuer.example.com/",
        AUDMW_AUDIENCE="https://api.example.com",
        AUDMW_EXEMPT_PATH="/health",
    )
    with pytest.raises(ConfigurationError, match=r"did you mean AUDMW_EXEMPT_PATHS\?"):
        Audmw(app)


def test_preset_options_in_the_environment_get_the_option_probably_meant() -> None:
    environ = {"AUDMW_PROVIDER": "entra", "AUDMW_TENANT": TENANT, "AUDMW_CLIENT_ID": "x"}
    with pytest.raises(ConfigurationError, match=r"did you mean AUDMW_TENANT_ID\?"):
        Settings.from_env(environ)
