"""Fixtures of the end-to-end suite: the real OpenID provider and the three example apps.

Each example app runs as its own server process (``python -m example_apps.<name> --port P``)
pointed at the provider; every process started here is tracked and always stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from e2e.app_process import APPS, AppProcess
from e2e.provider import API, OTHER_API, OidcProvider, ProviderUnavailable, find_node


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[OidcProvider]:
    """The real OpenID provider; a missing Node.js fails the suite saying what to install."""
    problem = None
    try:
        find_node()
    except ProviderUnavailable as exc:
        problem = str(exc)
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    provider = OidcProvider()
    try:
        provider.start()
        yield provider
    finally:
        provider.close()


@pytest.fixture(autouse=True)
def _provider_back_up(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that stops the provider leaves it running again for the next one."""
    yield
    provider = request.node.funcargs.get("oidc_provider")
    if isinstance(provider, OidcProvider):
        provider.start()


@pytest.fixture(scope="session")
def app_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e-app-logs")


@pytest.fixture(scope="session", params=APPS)
def app(
    request: pytest.FixtureRequest, oidc_provider: OidcProvider, app_logs: Path
) -> Iterator[AppProcess]:
    """Each example app, started once and used by every case of the suite."""
    name: str = request.param
    process = AppProcess(name, oidc_provider.issuer, app_logs / f"{name}.log")
    try:
        process.start()
        yield process
    finally:
        process.close()


@pytest.fixture
def start_app(
    app: AppProcess, oidc_provider: OidcProvider, app_logs: Path
) -> Iterator[Callable[[], AppProcess]]:
    """Start another instance of the app under test (always stopped after the test)."""
    started: list[AppProcess] = []

    def start() -> AppProcess:
        process = AppProcess(
            app.name, oidc_provider.issuer, app_logs / f"{app.name}-{len(started)}.log"
        )
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.close()


@pytest.fixture(scope="session")
def tokens(oidc_provider: OidcProvider, app: AppProcess) -> dict[str, str]:
    """Tokens from the provider's token endpoint, minted once per app."""
    return {
        "full": oidc_provider.get_token(API, "read:messages write:messages admin"),
        "read": oidc_provider.get_token(API, "read:messages"),
        "es256": oidc_provider.get_token(API, "read:messages write:messages admin", alg="ES256"),
        "other_api": oidc_provider.get_token(OTHER_API, "read:reports"),
        "opaque": oidc_provider.get_token(None, "read:messages"),
    }
