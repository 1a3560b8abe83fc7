"""Each setting is declared once; keywords, names, the README table and the CLI follow it."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest

from audmw import ConfigurationError, Settings
from audmw.cli import build_parser
from audmw.cli.check_token import SETTING_OPTIONS, settings_from
from audmw.settings import DECLARED, PROVIDER_SETTING, TABLE_HEADER, markdown_table

README = Path(__file__).parents[2] / "README.md"
ISS = "https://issuer.example.com/"
AUD = "https://api.example.com"
REGENERATE = (
    "The README's settings table differs from the declaration in audmw/settings.py. "
    "Rewrite it with: AUDMW_UPDATE_README=1 .venv/bin/python -m pytest "
    "tests/core/test_settings_declaration.py (or paste audmw.settings.markdown_table())"
)


def _readme_table(text: str) -> tuple[int, int]:
    """The first and the past-the-end line index of the settings table in the README."""
    lines = text.splitlines()
    start = lines.index(TABLE_HEADER[0])
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return start, end


def test_the_readme_table_is_the_generated_one() -> None:
    text = README.read_text(encoding="utf-8")
    start, end = _readme_table(text)
    lines = text.splitlines(keepends=True)
    current, generated = "".join(lines[start:end]), markdown_table()
    if os.environ.get("AUDMW_UPDATE_README") and current != generated:
        README.write_text("".join([*lines[:start], generated, *lines[end:]]), encoding="utf-8")
        current = generated
    assert current == generated, REGENERATE


def test_every_field_is_declared_with_a_meaning() -> None:
    assert [setting.name for setting in DECLARED] == [f.name for f in dataclasses.fields(Settings)]
    for setting in DECLARED:
        assert setting.meaning.strip(), setting.name
        assert "|" not in setting.meaning or "\\|" in markdown_table()
        assert setting.env_name == "AUDMW_" + setting.name.upper()


def test_the_table_has_one_row_per_setting_and_one_for_the_provider() -> None:
    rows = markdown_table().splitlines()[len(TABLE_HEADER) :]
    assert [row.split(" | ")[0].removeprefix("| ") for row in rows] == [
        *(setting.name for setting in DECLARED),
        PROVIDER_SETTING.name,
    ]
    assert "| cors_preflight | `AUDMW_CORS_PREFLIGHT` | false | Let CORS preflight" in "\n".join(
        rows
    )


def test_cors_preflight_is_off_unless_asked_for() -> None:
    assert Settings(issuer=ISS, audience=AUD).cors_preflight is False
    env = {"AUDMW_ISSUER": ISS, "AUDMW_AUDIENCE": AUD, "AUDMW_CORS_PREFLIGHT": "yes"}
    assert Settings.from_env(env).cors_preflight is True
    with pytest.raises(ConfigurationError, match="cors_preflight must be true or false"):
        Settings(issuer=ISS, audience=AUD, cors_preflight="sometimes")


def test_each_default_is_what_the_declaration_says() -> None:
    settings = Settings(issuer=ISS, audience=AUD)
    for setting in DECLARED:
        if not setting.required:
            assert getattr(settings, setting.name) == setting.default, setting.name


# -- unknown names, from every source ----------------------------------------------------------


def test_an_unknown_keyword_is_refused_with_the_name_probably_meant() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown setting 'audiance' \(did you mean "):
        Settings(issuer=ISS, audiance=AUD)
    with pytest.raises(ConfigurationError, match="did you mean 'jwks_uri'"):
        Settings(issuer=ISS, audience=AUD, jwks_url="https://keys.example.com/jwks")


def test_a_keyword_far_from_every_name_gets_the_list_only() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings(issuer=ISS, audience=AUD, zzz=1)
    assert "did you mean" not in str(caught.value)
    assert "known: accept_id_tokens" in str(caught.value)


def test_a_provider_keyword_points_at_for_provider() -> None:
    with pytest.raises(ConfigurationError, match=r"Settings\.for_provider"):
        Settings(provider="auth0", audience=AUD)


@pytest.mark.parametrize(
    ("mapping", "prefix", "words"),
    [
        ({"AUDMW_ISSUER": ISS, "AUDMW_AUDIENCES": AUD}, "AUDMW_", "did you mean AUDMW_AUDIENCE?"),
        ({"AUDMW_ISSUER": ISS, "AUDMW_LEEWAI": "5"}, "AUDMW_", "did you mean AUDMW_LEEWAY?"),
        ({"ISSUER": ISS, "AUDIENCE": AUD, "EXEMPT_PATH": "/h"}, "", "did you mean 'EXEMPT_PATHS'"),
        ({"ISSUER": ISS, "Audience": AUD}, "", "did you mean 'AUDIENCE'"),
        ({"PROVIDR": "auth0"}, "", "did you mean 'PROVIDER'"),
        ({"PROVIDER": "auth0", "DOMAN": "t.auth0.com"}, "", "did you mean 'DOMAIN'"),
    ],
)
def test_an_unknown_key_is_refused_with_the_key_probably_meant(
    mapping: dict[str, Any], prefix: str, words: str
) -> None:
    with pytest.raises(ConfigurationError, match="unknown setting") as caught:
        Settings.from_mapping(mapping, prefix)
    assert words in str(caught.value)


def test_the_environment_gets_the_same_answer() -> None:
    with pytest.raises(ConfigurationError, match=r"did you mean AUDMW_JWKS_TTL\?"):
        Settings.from_env({"AUDMW_ISSUER": ISS, "AUDMW_AUDIENCE": AUD, "AUDMW_JWKS_TT": "5"})


def test_an_adapter_key_is_skipped_and_suggested() -> None:
    mapping = {"ISSUER": ISS, "AUDIENCE": AUD, "TOKEN_USER": True}
    assert Settings.from_mapping(mapping, adapter_keys={"TOKEN_USER"}).audience == (AUD,)
    with pytest.raises(ConfigurationError, match="did you mean 'TOKEN_USER'"):
        Settings.from_mapping({**mapping, "TOKEN_USERS": True}, adapter_keys={"TOKEN_USER"})


def test_an_unknown_provider_and_preset_option_get_the_name_probably_meant() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown provider 'entr' \(did you mean entra"):
        Settings.for_provider("entr")
    with pytest.raises(ConfigurationError, match=r"unknown option tenant .*did you mean tenant_id"):
        Settings.for_provider("entra", tenant="x")


# -- every input form each parser takes ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("jwks_uri", "  ", None),
        ("jwks_uri", " https://keys.example.com/jwks ", "https://keys.example.com/jwks"),
        (
            "algorithms",
            "",
            (
                "RS256",
                "RS384",
                "RS512",
                "PS256",
                "PS384",
                "PS512",
                "ES256",
                "ES384",
                "ES512",
                "EdDSA",
                "Ed25519",
                "Ed448",
            ),
        ),
        ("leeway", "0", 0.0),
        ("leeway", 7, 7.0),
        ("scope_claims", None, ("scope", "scp")),
        ("realm", "", None),
        ("audience_claim", " client_id ", "client_id"),
        ("token_header", " X-Token ", "x-token"),
        ("token_header", "", "authorization"),
        ("max_token_bytes", "4096", 4096),
        ("token_cache_size", 0, 0),
        ("http_timeout", "0.5", 0.5),
        ("cors_preflight", "on", True),
        ("require_any_claim", ["scp", " roles "], ("scp", "roles")),
    ],
)
def test_input_forms(name: str, value: Any, expected: Any) -> None:
    assert getattr(Settings(issuer=ISS, audience=AUD, **{name: value}), name) == expected


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("jwks_uri", 5, "jwks_uri must be a string"),
        ("realm", ["a"], "realm must be a string"),
        ("hmac_secret", 12345, "hmac_secret must be a string or bytes"),
        ("leeway", "nan", "leeway must be a finite number"),
        ("http_timeout", float("inf"), "http_timeout must be a finite number"),
        ("jwks_max_bytes", "1e400", "jwks_max_bytes must be a finite number"),
        ("audience_claim", " ", "audience_claim must name a claim"),
        ("token_header", "x_token", "not a header name"),
    ],
)
def test_bad_input_is_refused_with_the_setting_named(name: str, value: Any, words: str) -> None:
    with pytest.raises(ConfigurationError, match=words):
        Settings(issuer=ISS, audience=AUD, **{name: value})


@pytest.mark.parametrize("path", ["/a/../b", "/x?y", "/a//b"])
def test_exempt_paths_are_checked_as_path_patterns(path: str) -> None:
    with pytest.raises(ConfigurationError, match=r"in exempt_paths, path pattern"):
        Settings(issuer=ISS, audience=AUD, exempt_paths=[path])


# -- the audmw check options -----------------------------------------------------------------


def test_the_check_options_are_the_declared_ones() -> None:
    options = {option: setting.name for option, setting in SETTING_OPTIONS}
    assert options == {
        "--issuer": "issuer",
        "--audience": "audience",
        "--jwks-uri": "jwks_uri",
        "--algorithms": "algorithms",
        "--leeway": "leeway",
        "--require-at-jwt": "require_at_jwt",
        "--scope-claims": "scope_claims",
        "--client-ids": "client_ids",
        "--timeout": "http_timeout",
        "--resource": "resource",
        "--introspection": "introspection",
        "--introspection-endpoint": "introspection_endpoint",
        "--introspection-client-id": "introspection_client_id",
        "--introspection-client-secret": "introspection_client_secret",
        "--introspection-client-auth": "introspection_client_auth",
        "--introspection-client-key": "introspection_client_key",
    }
    for _, setting in SETTING_OPTIONS:
        assert f"({setting.env_name})" in setting.help


def test_each_check_option_sets_its_setting_over_the_environment() -> None:
    env = {"AUDMW_ISSUER": "https://env.example.com/", "AUDMW_AUDIENCE": "env", "AUDMW_LEEWAY": "9"}
    argv = [
        "check",
        "--issuer",
        ISS,
        "--audience",
        AUD,
        "--jwks-uri",
        "https://keys.example.com/jwks",
        "--algorithms",
        "ES256",
        "--leeway",
        "3",
        "--require-at-jwt",
        "--scope-claims",
        "scp",
        "--client-ids",
        "spa",
        "--timeout",
        "2",
    ]
    settings = settings_from(build_parser().parse_args(argv), env)
    assert settings == Settings(
        issuer=ISS,
        audience=AUD,
        jwks_uri="https://keys.example.com/jwks",
        algorithms="ES256",
        leeway=3,
        require_at_jwt=True,
        scope_claims="scp",
        client_ids="spa",
        http_timeout=2,
    )
    from_env = settings_from(build_parser().parse_args(["check"]), env)
    assert (from_env.issuer, from_env.leeway, from_env.require_at_jwt) == (
        ("https://env.example.com/",),
        9,
        False,
    )
