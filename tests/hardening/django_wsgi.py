"""``python -m tests.hardening.django_wsgi --port P``: the Django example under a WSGI server
(waitress, as the Flask example serves), where repeated headers arrive folded into one."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from types import FrameType


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    os.environ["DJANGO_SETTINGS_MODULE"] = "audmw.examples.django_app.settings"
    from django.core.wsgi import get_wsgi_application

    from audmw.examples.flask_app import quiet_server

    server = quiet_server(get_wsgi_application(), host="127.0.0.1", port=args.port)
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.run()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
