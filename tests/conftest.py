from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a real redis-server on 127.0.0.1, started for this test run."""
    from redis_server import RedisServer

    try:
        server = RedisServer(tmp_path_factory.mktemp("redis"))
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    yield server.url
    server.stop()


@pytest.fixture
def telemetry() -> Any:
    """OpenTelemetry's SDK with in-memory exporters (``tests/otel_support.py``), drained."""
    from tests.otel_support import install

    return install()
