"""The README's example API, once per adapter, with the same five routes.

    audmw serve-example starlette --port 8000      (or fastapi, django, flask)
    python -m audmw.examples.starlette_app --port 8000

Each app is configured only by ``AUDMW_ISSUER``, ``AUDMW_AUDIENCE`` and optional
``AUDMW_JWKS_URI``, and serves on 127.0.0.1: uvicorn runs Starlette, FastAPI and Django
(ASGI), waitress runs Flask. They ship in the package so that ``audmw demo`` works from an
installed wheel; ``example_apps`` in a checkout runs the same apps.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["EXAMPLES", "Example"]


@dataclass(frozen=True)
class Example:
    framework: str
    module: str  # ``python -m <module> --port P`` serves it; its ``main(argv)`` does the same
    needs: tuple[str, ...]  # the importable packages the app and its server need
    install: str  # what ``pip install`` needs to bring them

    def missing(self) -> tuple[str, ...]:
        """The packages of ``needs`` that are not installed (found without importing them)."""
        return tuple(name for name in self.needs if importlib.util.find_spec(name) is None)

    def serve(self, argv: Sequence[str]) -> int:
        """Serve the app in this process until interrupted; the exit status."""
        result = importlib.import_module(self.module).main(list(argv))
        return int(result or 0)


EXAMPLES = {
    example.framework: example
    for example in (
        Example(
            "starlette",
            "audmw.examples.starlette_app",
            ("starlette", "uvicorn"),
            '"audmw[starlette]" uvicorn',
        ),
        Example(
            "fastapi",
            "audmw.examples.fastapi_app",
            ("fastapi", "uvicorn"),
            '"audmw[fastapi]" uvicorn',
        ),
        Example(
            "django", "audmw.examples.django_app", ("django", "uvicorn"), '"audmw[django]" uvicorn'
        ),
        Example(
            "flask", "audmw.examples.flask_app", ("flask", "waitress"), '"audmw[flask]" waitress'
        ),
    )
}
