"""``audmw serve-example``: serve one of the example APIs of ``audmw.examples``."""

from __future__ import annotations

import argparse
from typing import Any

from audmw.cli.console import Console, UsageError
from audmw.examples import EXAMPLES


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "serve-example",
        help="serve the example API (five routes) with one of the framework adapters",
        description="Serve the example API on 127.0.0.1 until interrupted: GET /public, "
        "GET /api/me, GET and POST /api/messages (read:messages, write:messages) and "
        "GET /api/admin (read:messages and admin). Configured by AUDMW_ISSUER, AUDMW_AUDIENCE "
        "and optional AUDMW_JWKS_URI; 'audmw serve-issuer' and 'audmw mint' give a local "
        "issuer and its tokens.",
    )
    parser.add_argument("framework", choices=sorted(EXAMPLES), help="the adapter to serve with")
    parser.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default 8000)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    example = EXAMPLES[args.framework]
    missing = example.missing()
    if missing:
        raise UsageError(
            f"the {example.framework} example needs {' and '.join(missing)}: "
            f"pip install {example.install}"
        )
    return example.serve(["--port", str(args.port)])
