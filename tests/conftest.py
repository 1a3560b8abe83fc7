import signal
from collections.abc import Iterator
from typing import Any

import pytest

from audmw.jws import BASE64_DECODERS


def pytest_configure(config: pytest.Config) -> None:
    # A run started in the background of a shell without job control inherits SIGINT ignored,
    # and so would every server the tests start and then stop with SIGINT (Ctrl-C): handled
    # here, it is back to its default in each child.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


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
