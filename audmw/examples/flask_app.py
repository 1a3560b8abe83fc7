"""The example API on Flask, served by waitress.

    AUDMW_ISSUER=https://issuer.example AUDMW_AUDIENCE=https://api.example.com \\
        python -m audmw.examples.flask_app --port 8000

Configured only by ``AUDMW_*`` environment variables (``Settings.from_env``). Refusals are
logged by the ``audmw`` logger to stderr, one line each with ``reason=<code>``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections import deque
from types import FrameType
from typing import Any

from flask import Blueprint, Flask, request
from flask.views import MethodView

from audmw import Settings, log_refusals
from audmw_flask import Audmw, current_token, protect, public, require_scopes


class Messages(MethodView):
    """Reading and writing messages need different scopes."""

    init_every_request = False

    def __init__(self, store: deque[dict[str, Any]], lock: threading.Lock) -> None:
        self.store = store
        self.lock = lock

    @require_scopes("read:messages")
    def get(self) -> dict[str, Any]:
        with self.lock:
            return {"messages": list(self.store)}

    @require_scopes("write:messages")
    def post(self) -> tuple[dict[str, Any], int]:
        body = request.get_json(silent=True)
        text = body.get("text") if isinstance(body, dict) else None
        message = {
            "author": current_token.subject,
            "text": text if isinstance(text, str) else "",
        }
        with self.lock:
            self.store.append(message)
        return message, 201


def create_app(settings: Settings | None = None) -> Flask:
    """The example app; ``settings`` default to the ``AUDMW_*`` environment variables."""
    app = Flask(__name__)
    store: deque[dict[str, Any]] = deque(
        [{"author": "audmw", "text": "hello from the Flask example"}], maxlen=100
    )
    lock = threading.Lock()

    @app.get("/public")
    @public
    def public_info() -> dict[str, Any]:
        return {"message": "anyone may read this", "framework": "flask"}

    # Every view of this blueprint needs a valid token; views add their scopes.
    api = protect(Blueprint("api", __name__, url_prefix="/api"))

    @api.get("/me")
    def me() -> dict[str, Any]:
        return {
            "sub": current_token.subject,
            "scopes": sorted(current_token.scopes),
            "aud": list(current_token.audience),
        }

    @api.get("/admin")
    @require_scopes("read:messages", "admin")
    def admin() -> dict[str, Any]:
        return {"admin": True, "sub": current_token.subject}

    api.add_url_rule("/messages", view_func=Messages.as_view("messages", store, lock))
    app.register_blueprint(api)
    Audmw(app, settings=settings or Settings.from_env())
    return app


def _configure_logging() -> None:
    log_refusals()  # the audmw logger's refusals (reason=...), one line each on stderr
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    waitress_logger = logging.getLogger("waitress")
    waitress_logger.setLevel(logging.INFO)
    waitress_logger.addHandler(handler)
    waitress_logger.propagate = False


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def quiet_server(app: Any, **adjustments: Any) -> Any:
    """A waitress server whose 400 pages do not quote the request.

    For a malformed header line (a bare CR or LF, no colon) waitress answers 400 with the
    whole line in the page: an ``Authorization`` line's token goes back out, to whatever
    sits between the client and the server and keeps pages. This server answers the same
    400 with a fixed text. Behind a proxy that refuses such requests itself (nginx, HAProxy)
    the plain ``waitress.serve`` never sees them.
    """
    from waitress import create_server  # type: ignore[import-untyped]  # ships no types
    from waitress.channel import HTTPChannel  # type: ignore[import-untyped]
    from waitress.parser import HTTPRequestParser  # type: ignore[import-untyped]
    from waitress.utilities import BadRequest  # type: ignore[import-untyped]

    bad_request: Any = BadRequest

    class QuietParser(HTTPRequestParser):  # type: ignore[misc]
        error: Any

        def received(self, data: bytes) -> int:
            consumed: int = super().received(data)
            if type(self.error) is bad_request:  # its subclasses (413, 431) quote nothing
                self.error = bad_request("malformed request")
            return consumed

    class QuietChannel(HTTPChannel):  # type: ignore[misc]
        parser_class = QuietParser

    server = create_server(app, **adjustments)
    server.channel_class = QuietChannel  # read at each accepted connection
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The audmw example API on Flask (waitress)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)

    _configure_logging()
    app = create_app()
    server = quiet_server(app, host=args.host, port=args.port)
    signal.signal(signal.SIGTERM, _stop)
    server.print_listen("Flask example serving on http://{}:{}")
    try:
        server.run()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.close()


if __name__ == "__main__":
    main()
