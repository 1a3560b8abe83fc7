"""``python -m contract.serve <app> <server> --port P``: one contract app on 127.0.0.1.

Apps: starlette, fastapi, flask, django; servers: uvicorn (ASGI) or waitress (WSGI).
Configured by the ``AUDMW_*`` environment only. A refused setting ends the process with
status 2 and the message on stderr (Django builds its settings on the first request and
answers 500 instead, as it does in production).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from types import FrameType
from typing import Any

from audmw import ConfigurationError

HOST = "127.0.0.1"


def build(app: str, server: str) -> Any:
    if app == "django":
        os.environ["DJANGO_SETTINGS_MODULE"] = "contract.django_project.settings"
        if server == "uvicorn":
            from django.core.asgi import get_asgi_application

            return get_asgi_application()
        from django.core.wsgi import get_wsgi_application

        return get_wsgi_application()
    if app == "starlette":
        from contract.starlette_app import build as build_starlette

        return build_starlette()
    if app == "fastapi":
        from contract.fastapi_app import build as build_fastapi

        return build_fastapi()
    from contract.flask_app import build as build_flask

    return build_flask()


def _exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m contract.serve")
    parser.add_argument("app", choices=["starlette", "fastapi", "flask", "django"])
    parser.add_argument("server", choices=["uvicorn", "waitress"])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    try:
        application = build(args.app, args.server)
    except ConfigurationError as error:
        print(f"refused settings: {error}", file=sys.stderr, flush=True)
        return 2
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _exit)
    if args.server == "uvicorn":
        import uvicorn

        uvicorn.run(
            application,
            host=HOST,
            port=args.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        return 0
    # As the README says to serve a WSGI app: waitress without the request in its 400 pages.
    from audmw.examples.flask_app import quiet_server

    # Waitress drops Forwarded/X-Forwarded-* itself unless told which proxy to trust; the
    # servers that test audmw's own trusted_proxies keep them for audmw to judge.
    keep = os.environ.get("CONTRACT_KEEP_PROXY_HEADERS") == "1"
    server = quiet_server(
        application,
        host=HOST,
        port=args.port,
        threads=4,
        clear_untrusted_proxy_headers=not keep,
    )
    try:
        server.run()
    except SystemExit:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
