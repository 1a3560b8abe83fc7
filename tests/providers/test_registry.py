"""The provider package finds its modules itself: a new provider is one new file."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import audmw
from audmw import Settings, diagnostics, providers
from audmw.inspection import guess_provider, token_kind

AUDMW = Path(audmw.__file__).parent
README = AUDMW.parent / "README.md"

ACME = textwrap.dedent(
    '''
    """A provider that exists only in this test."""

    from typing import Any

    from audmw.providers import (
        KindHint,
        Provider,
        Recognition,
        UnverifiedToken,
        host_option,
    )


    def preset(*, domain: str | None = None) -> dict[str, Any]:
        host = host_option(domain, "acme", "domain", "id.acme.test")
        return {"issuer": f"https://{host}/", "jwks_uri": f"https://{host}/keys"}


    def recognize(token: UnverifiedToken) -> Recognition | None:
        if token.host.endswith(".acme.test"):
            return Recognition("acme", "Acme ID", "iss host ends with .acme.test", ("beware",))
        return None


    def kind(token: UnverifiedToken) -> KindHint | None:
        if token.header.get("typ") == "acme-internal":
            return KindHint("access token for Acme's own API", "typ is acme-internal")
        return None


    PROVIDER = Provider(
        name="acme",
        preset=preset,
        recognize=recognize,
        kind=kind,
        typ_hint=lambda typ: "Acme's own kind of token" if typ == "acme-internal" else None,
        audience_hint=lambda audiences: "Acme's console" if "acme" in audiences else None,
        missing_audience_hint="Acme: tick 'audience' in the console",
    )
    '''
)


@pytest.fixture
def package_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on the package's path; the modules put there are forgotten afterwards."""
    monkeypatch.setattr(providers, "__path__", [*providers.__path__, str(tmp_path)])
    yield tmp_path
    for module in tmp_path.glob("*.py"):
        sys.modules.pop(f"audmw.providers.{module.stem}", None)
        if hasattr(providers, module.stem):
            delattr(providers, module.stem)
    monkeypatch.undo()
    providers.refresh()


@pytest.fixture
def acme(package_path: Path) -> None:
    """``acme.py`` dropped into the package, and nothing else changed."""
    (package_path / "acme.py").write_text(ACME)
    providers.refresh()


def test_every_module_of_the_package_is_a_registered_provider() -> None:
    modules = [info.name for info in pkgutil.iter_modules(providers.__path__)]
    registered = set(providers.PROVIDERS.values())
    for name in modules:
        module = importlib.import_module(f"audmw.providers.{name}")
        assert module.PROVIDER in registered, name
    assert len(modules) == len(registered)
    assert providers.names() == (
        "auth0",
        "cognito",
        "entra",
        "google",
        "google-iap",
        "keycloak",
        "okta",
        "rfc9068",
    )
    assert dict(providers.PRESETS) == {
        name: provider.preset for name, provider in providers.PROVIDERS.items()
    }


@pytest.mark.usefixtures("acme")
def test_a_new_module_is_a_new_provider_everywhere() -> None:
    assert "acme" in providers.names()
    assert providers.parameters("acme") == ("domain",)

    settings = Settings.for_provider("acme", domain="id.acme.test", audience="https://api")
    assert settings.issuer == ("https://id.acme.test/",)
    from_env = Settings.from_env(
        {"AUDMW_PROVIDER": "acme", "AUDMW_DOMAIN": "id.acme.test"}, audience="https://api"
    )
    assert from_env == settings

    recognised = guess_provider("https://id.acme.test/", {}, {})
    assert recognised is not None
    assert (recognised.id, recognised.name, recognised.pitfalls) == ("acme", "Acme ID", ("beware",))
    assert token_kind({"typ": "acme-internal"}, {}).label == "access token for Acme's own API"
    assert (
        diagnostics.typ_hint("acme-internal") == "typ is 'acme-internal': Acme's own kind of token"
    )
    assert diagnostics.audience_hint(["acme"], ["https://api"]).endswith("— Acme's console")
    assert "Acme: tick 'audience' in the console" in diagnostics.audience_hint(
        None, ["https://api"]
    )


def test_a_module_without_a_provider_is_refused(package_path: Path) -> None:
    (package_path / "half_done.py").write_text("PRESET = None\n")
    with pytest.raises(TypeError, match="half_done must define PROVIDER"):
        providers.discover()


def test_the_registry_is_back_to_the_package_after_the_test() -> None:
    assert "acme" not in providers.names()


# -- which provider a token points at ------------------------------------------------------------


def test_the_issuer_host_wins_over_the_issuer_path() -> None:
    found = guess_provider("https://tenant.auth0.com/realms/shop", {}, {})
    assert found is not None
    assert found.id == "auth0"


def test_the_issuer_path_wins_over_the_token_shape() -> None:
    # A Keycloak realm whose tokens also list the issuer's /userinfo (Auth0's custom-domain sign).
    iss = "https://sso.example.com/realms/shop/"
    found = guess_provider(iss, {}, {"aud": [iss + "userinfo"]})
    assert found is not None
    assert found.id == "keycloak"
    custom_domain = guess_provider(
        "https://login.example.com/", {}, {"aud": ["https://login.example.com/userinfo"]}
    )
    assert custom_domain is not None
    assert custom_domain.id == "auth0"


def test_nothing_is_guessed_without_an_issuer_or_for_an_unknown_one() -> None:
    assert guess_provider(None, {}, {}) is None
    assert guess_provider("https://as.example.com", {}, {"aud": "x"}) is None


# -- the package's dependencies ------------------------------------------------------------------


def _imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) of each ``from module import name`` in the file."""
    tree = ast.parse(path.read_text())
    return [
        (node.module or "", alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    ]


SHARED = [
    AUDMW / "settings.py",
    AUDMW / "values.py",
    AUDMW / "diagnostics.py",
    AUDMW / "inspection.py",
    *sorted((AUDMW / "providers").glob("*.py")),
]


@pytest.mark.parametrize("path", SHARED, ids=lambda p: p.name)
def test_no_private_name_of_another_module_is_imported(path: Path) -> None:
    private = [f"{module}.{name}" for module, name in _imports(path) if name.startswith("_")]
    assert private == []


@pytest.mark.parametrize("path", sorted((AUDMW / "providers").glob("*.py")), ids=lambda p: p.name)
def test_providers_depend_only_on_values_and_errors(path: Path) -> None:
    # The settings, the log hints and audmw inspect ask the providers, never the other way.
    used = {module for module, _ in _imports(path) if module.startswith("audmw")}
    assert used <= {"audmw.errors", "audmw.values", "audmw.providers"}


def test_the_readme_describes_every_provider() -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Provider presets") :]
    for name in providers.names():
        assert f"— `{name}`" in section, name
