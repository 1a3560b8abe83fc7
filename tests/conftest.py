from collections.abc import Iterator
from typing import Any

import pytest

from audmw.jws import BASE64_DECODERS


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


@pytest.fixture(scope="module", params=BASE64_DECODERS)
def each_base64_decoder(request: pytest.FixtureRequest) -> Iterator[str]:
    """The module's tests once per base64 decoder (``binascii``, and ``pybase64`` when the
    speedups extra is installed): both must refuse exactly the same tokens."""
    from audmw import jws

    previous = jws.use_base64(request.param)
    yield request.param
    jws.use_base64(previous)
