from typing import Any

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def telemetry() -> Any:
    """OpenTelemetry's SDK with in-memory exporters (``tests/otel_support.py``), drained."""
    from tests.otel_support import install

    return install()
