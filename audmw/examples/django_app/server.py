"""Serve the Django example on 127.0.0.1 with uvicorn over Django's ASGI application."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from types import FrameType


def _exit_quietly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audmw.examples.django_app")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)

    os.environ["DJANGO_SETTINGS_MODULE"] = "audmw.examples.django_app.settings"
    from audmw import ConfigurationError

    try:
        from django.core.asgi import get_asgi_application

        application = get_asgi_application()
    except ConfigurationError as error:
        print(error, file=sys.stderr)
        return 2

    import uvicorn

    print(f"django example serving on http://127.0.0.1:{args.port}", file=sys.stderr, flush=True)
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the handler
    # it found: make that one a clean exit instead of a KeyboardInterrupt or a signal death.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _exit_quietly)
    uvicorn.run(application, host="127.0.0.1", port=args.port, log_level="warning", lifespan="off")
    return 0


if __name__ == "__main__":
    sys.exit(main())
