"""Settings: every refusal at construction, and every source (keywords, env, mappings)."""

from __future__ import annotations

import dataclasses

import pytest

from audmw import ConfigurationError, Rule, Settings
from audmw.settings import DEFAULT_ALGORITHMS

ISS = "https://issuer.example.com/"
AUD = "https://api.example.com"


def test_minimal_settings_have_safe_defaults() -> None:
    settings = Settings(issuer=ISS, audience=AUD)
    assert settings.issuer == (ISS,)
    assert settings.audience == (AUD,)
    assert settings.jwks_uri is None
    assert settings.algorithms == DEFAULT_ALGORITHMS
    assert "none" not in {a.lower() for a in settings.algorithms}
    assert not any(a.startswith("HS") for a in settings.algorithms)
    assert settings.leeway == 30
    assert settings.require_at_jwt is False
    assert settings.scope_claims == ("scope", "scp")
    assert settings.exempt_paths == ()
    assert settings.realm is None
    assert settings.max_token_bytes == 16 * 1024
    assert settings.token_cache_size == 10_000
    assert settings.jwks_ttl == 600
    assert settings.jwks_refresh_cooldown == 30
    assert settings.http_timeout == 5


def test_settings_are_frozen() -> None:
    settings = Settings(issuer=ISS, audience=AUD)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.audience = ("https://other",)  # type: ignore[misc]


def test_configuration_error_is_a_value_error() -> None:
    assert issubclass(ConfigurationError, ValueError)


@pytest.mark.parametrize("audience", [None, "", " , ", []])
def test_no_audience_is_refused(audience: object) -> None:
    with pytest.raises(ConfigurationError, match=r"no audience configured.*AUDMW_AUDIENCE"):
        Settings(issuer=ISS, audience=audience)  # type: ignore[arg-type]


@pytest.mark.parametrize("issuer", [None, "", []])
def test_no_issuer_is_refused(issuer: object) -> None:
    with pytest.raises(ConfigurationError, match=r"no issuer configured.*AUDMW_ISSUER"):
        Settings(issuer=issuer, audience=AUD)  # type: ignore[arg-type]


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_is_refused(alg: str) -> None:
    with pytest.raises(ConfigurationError, match="'none' means unsigned tokens"):
        Settings(issuer=ISS, audience=AUD, algorithms=["RS256", alg])


@pytest.mark.parametrize("alg", ["rs256", "RS1", "ES256K", "HS1024", "RSA-OAEP"])
def test_unknown_algorithm_is_refused(alg: str) -> None:
    with pytest.raises(ConfigurationError, match="unknown algorithm"):
        Settings(issuer=ISS, audience=AUD, algorithms=alg)


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hmac_algorithm_needs_an_explicit_secret(alg: str) -> None:
    with pytest.raises(ConfigurationError, match=r"shared-secret algorithm.*hmac_secret"):
        Settings(issuer=ISS, audience=AUD, algorithms=[alg])


@pytest.mark.parametrize(("alg", "minimum"), [("HS256", 32), ("HS384", 48), ("HS512", 64)])
def test_short_hmac_secret_is_refused(alg: str, minimum: int) -> None:
    with pytest.raises(ConfigurationError, match=f"needs at least {minimum}"):
        Settings(issuer=ISS, audience=AUD, algorithms=[alg], hmac_secret=b"s" * (minimum - 1))
    settings = Settings(issuer=ISS, audience=AUD, algorithms=[alg], hmac_secret="s" * minimum)
    assert settings.hmac_secret == b"s" * minimum


def test_hmac_secret_without_hmac_algorithm_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="no HS256/HS384/HS512"):
        Settings(issuer=ISS, audience=AUD, hmac_secret=b"s" * 64)


def test_hmac_secret_is_not_in_repr() -> None:
    secret = "a-very-secret-shared-key-of-32-bytes!"
    settings = Settings(issuer=ISS, audience=AUD, algorithms="HS256", hmac_secret=secret)
    assert secret not in repr(settings)


@pytest.mark.parametrize("issuer", ["http://idp.example.com", "http://10.0.0.1/realms/x"])
def test_plain_http_issuer_is_refused_unless_loopback(issuer: str) -> None:
    with pytest.raises(ConfigurationError, match=r"uses http://.*Use https://"):
        Settings(issuer=issuer, audience=AUD)


@pytest.mark.parametrize("jwks_uri", ["http://idp.example.com/jwks", "http://192.168.1.2/jwks"])
def test_plain_http_jwks_uri_is_refused_unless_loopback(jwks_uri: str) -> None:
    with pytest.raises(ConfigurationError, match=r"jwks_uri .* uses http://"):
        Settings(issuer=ISS, audience=AUD, jwks_uri=jwks_uri)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080", "http://localhost:9000/realm", "http://[::1]:7000"]
)
def test_loopback_http_is_allowed(url: str) -> None:
    settings = Settings(issuer=url, audience=AUD, jwks_uri=url + "/jwks.json")
    assert settings.issuer == (url,)


@pytest.mark.parametrize("url", ["ftp://idp.example.com", "https://", "idp.example.com"])
def test_non_https_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="not an https:// URL"):
        Settings(issuer=url, audience=AUD)


def test_negative_leeway_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="leeway must be zero or a positive"):
        Settings(issuer=ISS, audience=AUD, leeway=-1)
    assert Settings(issuer=ISS, audience=AUD, leeway=0).leeway == 0


@pytest.mark.parametrize("leeway", ["soon", True, None])
def test_non_numeric_leeway_is_refused(leeway: object) -> None:
    with pytest.raises(ConfigurationError, match="leeway must be a number"):
        Settings(issuer=ISS, audience=AUD, leeway=leeway)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "option",
    ["max_token_bytes", "jwks_ttl", "jwks_refresh_cooldown", "http_timeout", "jwks_max_bytes"],
)
def test_limits_must_be_positive(option: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{option} must be positive"):
        Settings(issuer=ISS, audience=AUD, **{option: 0})


def test_negative_token_cache_size_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="token_cache_size"):
        Settings(issuer=ISS, audience=AUD, token_cache_size=-1)
    assert Settings(issuer=ISS, audience=AUD, token_cache_size=0).token_cache_size == 0


def test_exempt_paths_must_be_absolute() -> None:
    with pytest.raises(ConfigurationError, match="must start with '/'"):
        Settings(issuer=ISS, audience=AUD, exempt_paths=["health"])


def test_empty_scope_claims_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="scope_claims"):
        Settings(issuer=ISS, audience=AUD, scope_claims=[])


def test_several_issuers_and_audiences() -> None:
    settings = Settings(
        issuer=["https://a.example.com/", "https://b.example.com"],
        audience="https://api.example.com, api://orders",
    )
    assert settings.issuer == ("https://a.example.com/", "https://b.example.com")
    assert settings.audience == ("https://api.example.com", "api://orders")


def test_each_of_several_issuers_is_checked() -> None:
    with pytest.raises(ConfigurationError, match="uses http://"):
        Settings(issuer=[ISS, "http://b.example.com"], audience=AUD)


def test_from_env_reads_every_documented_name() -> None:
    settings = Settings.from_env(
        {
            "AUDMW_ISSUER": "https://a.example.com/, https://b.example.com",
            "AUDMW_AUDIENCE": "https://api.example.com,api://orders",
            "AUDMW_JWKS_URI": "https://a.example.com/keys",
            "AUDMW_ALGORITHMS": "RS256, ES256 EdDSA",
            "AUDMW_LEEWAY": "5",
            "AUDMW_REQUIRE_AT_JWT": "true",
            "AUDMW_SCOPE_CLAIMS": "scope,permissions realm_access.roles",
            "AUDMW_EXEMPT_PATHS": "/health, /docs/**",
            "AUDMW_REALM": "orders",
            "PATH": "/usr/bin",
            "HOME": "/root",
        }
    )
    assert settings.issuer == ("https://a.example.com/", "https://b.example.com")
    assert settings.audience == ("https://api.example.com", "api://orders")
    assert settings.jwks_uri == "https://a.example.com/keys"
    assert settings.algorithms == ("RS256", "ES256", "EdDSA")
    assert settings.leeway == 5.0
    assert settings.require_at_jwt is True
    assert settings.scope_claims == ("scope", "permissions", "realm_access.roles")
    assert settings.exempt_paths == ("/health", "/docs/**")
    assert settings.realm == "orders"


def test_from_env_reads_the_other_settings() -> None:
    settings = Settings.from_env(
        {
            "AUDMW_ISSUER": ISS,
            "AUDMW_AUDIENCE": AUD,
            "AUDMW_ALGORITHMS": "RS256 HS256",
            "AUDMW_HMAC_SECRET": "x" * 32,
            "AUDMW_CLIENT_IDS": "spa-client,cli",
            "AUDMW_RULES": '[{"methods": ["GET"], "path": "/reports/**", "scopes": ["read"]}]',
            "AUDMW_MAX_TOKEN_BYTES": "4096",
            "AUDMW_TOKEN_CACHE_SIZE": "0",
            "AUDMW_JWKS_TTL": "120",
            "AUDMW_JWKS_REFRESH_COOLDOWN": "10",
            "AUDMW_JWKS_RETRY_AFTER": "2",
            "AUDMW_HTTP_TIMEOUT": "1.5",
            "AUDMW_JWKS_MAX_BYTES": "65536",
        }
    )
    assert settings.hmac_secret == b"x" * 32
    assert settings.client_ids == ("spa-client", "cli")
    assert settings.rules[0].matches("GET", "/reports/2024")
    assert not settings.rules[0].matches("POST", "/reports/2024")
    assert (settings.max_token_bytes, settings.token_cache_size) == (4096, 0)
    assert (settings.jwks_ttl, settings.jwks_refresh_cooldown) == (120, 10)
    assert (settings.jwks_retry_after, settings.http_timeout) == (2, 1.5)
    assert settings.jwks_max_bytes == 65536


@pytest.mark.parametrize("value", ["1", "yes", "ON", "True"])
def test_env_flags_true(value: str) -> None:
    env = {"AUDMW_ISSUER": ISS, "AUDMW_AUDIENCE": AUD, "AUDMW_REQUIRE_AT_JWT": value}
    assert Settings.from_env(env).require_at_jwt is True


@pytest.mark.parametrize("value", ["", "0", "no", "off", "False"])
def test_env_flags_false(value: str) -> None:
    env = {"AUDMW_ISSUER": ISS, "AUDMW_AUDIENCE": AUD, "AUDMW_REQUIRE_AT_JWT": value}
    assert Settings.from_env(env).require_at_jwt is False


def test_env_flag_that_is_not_a_boolean_is_refused() -> None:
    env = {"AUDMW_ISSUER": ISS, "AUDMW_AUDIENCE": AUD, "AUDMW_REQUIRE_AT_JWT": "maybe"}
    with pytest.raises(ConfigurationError, match="require_at_jwt must be true or false"):
        Settings.from_env(env)


def test_env_bad_number_is_refused() -> None:
    env = {"AUDMW_ISSUER": ISS, "AUDMW_AUDIENCE": AUD, "AUDMW_LEEWAY": "thirty"}
    with pytest.raises(ConfigurationError, match="leeway must be a number"):
        Settings.from_env(env)


def test_env_bad_rules_json_is_refused() -> None:
    env = {"AUDMW_ISSUER": ISS, "AUDMW_AUDIENCE": AUD, "AUDMW_RULES": "[{path: /x}"}
    with pytest.raises(ConfigurationError, match="rules must be JSON"):
        Settings.from_env(env)


def test_unknown_audmw_env_name_is_refused() -> None:
    env = {"AUDMW_ISSUER": ISS, "AUDMW_AUDIENCE": AUD, "AUDMW_AUDIENCES": "typo"}
    with pytest.raises(
        ConfigurationError, match=r"unknown setting AUDMW_AUDIENCES.*AUDMW_AUDIENCE"
    ):
        Settings.from_env(env)


def test_from_env_without_mapping_reads_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUDMW_ISSUER", ISS)
    monkeypatch.setenv("AUDMW_AUDIENCE", AUD)
    assert Settings.from_env().audience == (AUD,)


def test_from_env_keywords_take_precedence() -> None:
    env = {"AUDMW_ISSUER": ISS, "AUDMW_AUDIENCE": AUD, "AUDMW_LEEWAY": "10"}
    settings = Settings.from_env(env, leeway=0, audience="api://other")
    assert settings.leeway == 0
    assert settings.audience == ("api://other",)


def test_from_env_still_validates() -> None:
    with pytest.raises(ConfigurationError, match="no audience"):
        Settings.from_env({"AUDMW_ISSUER": ISS})


def test_from_mapping_without_prefix_like_django() -> None:
    settings = Settings.from_mapping(
        {"ISSUER": ISS, "AUDIENCE": [AUD, "api://two"], "LEEWAY": 0, "RULES": []}
    )
    assert settings.audience == (AUD, "api://two")
    assert settings.leeway == 0
    with pytest.raises(ConfigurationError, match="unknown setting 'AUDIENCES'"):
        Settings.from_mapping({"ISSUER": ISS, "AUDIENCES": AUD})


def test_from_mapping_with_prefix_like_flask_ignores_other_keys() -> None:
    config = {
        "SECRET_KEY": "flask",
        "DEBUG": True,
        "AUDMW_ISSUER": ISS,
        "AUDMW_AUDIENCE": AUD,
        "AUDMW_REALM": "api",
        "AUDMW_RULES": [Rule(path="/admin/**", public=False)],
    }
    settings = Settings.from_mapping(config, prefix="AUDMW_")
    assert settings.realm == "api"
    assert settings.rules[0].path == "/admin/**"
    with pytest.raises(ConfigurationError, match="unknown setting AUDMW_REALMS"):
        Settings.from_mapping({**config, "AUDMW_REALMS": "x"}, prefix="AUDMW_")


def test_lists_from_code_must_hold_strings() -> None:
    with pytest.raises(ConfigurationError, match="audience must be a string or a list"):
        Settings(issuer=ISS, audience=[AUD, 3])  # type: ignore[list-item]
    with pytest.raises(ConfigurationError, match="audience must be a string or a list"):
        Settings(issuer=ISS, audience=7)  # type: ignore[arg-type]
