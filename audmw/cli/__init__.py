"""The ``audmw`` command: explain a token, check it as an API would, mint local test tokens.

``audmw inspect``  decode a token offline and say what it is (and why it may be refused);
``audmw check``    validate it with the real validator and show each check;
``audmw keys``     fetch each issuer's keys now and show the health of the key sources;
``audmw mint``     sign a token with the local development issuer;
``audmw token``    obtain a token by client credentials, print it or check it;
``audmw serve-issuer`` serve that issuer (discovery, JWKS, a token endpoint);
``audmw serve-example`` serve an example API;
``audmw demo`` run the demo.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import sys
from collections.abc import Sequence

from audmw.cli import check_token, dev_issuer, examples, get_token, inspect_token, key_health
from audmw.cli.console import Console, UsageError

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="audmw",
        description="Explain OAuth 2.0 access tokens and check them as an audmw-protected API "
        "would. Tokens are read from stdin (or a hidden prompt) so they stay out of shell "
        "history, and are never printed unless asked with --show-token.",
    )
    parser.add_argument("--version", action="version", version=f"audmw {version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    inspect_token.add_parser(commands)
    check_token.add_parser(commands)
    key_health.add_parser(commands)
    dev_issuer.add_parsers(commands)
    get_token.add_parser(commands)
    examples.add_parser(commands)
    commands.add_parser(
        "demo",
        help="run the demo API with a local issuer (audmw demo --help for its options)",
        add_help=False,
    )
    return parser


def version() -> str:
    """The installed distribution's version (a checkout without an install has none)."""
    try:
        return importlib.metadata.version("audmw")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def run_demo(argv: Sequence[str], console: Console) -> int:
    try:
        demo = importlib.import_module("audmw.demo")
    except ModuleNotFoundError as error:
        if error.name != "audmw.demo":
            raise
        console.err("audmw demo: the demo is not part of this installation")
        return 2
    result = demo.main(list(argv))
    return int(result or 0)


def main(argv: Sequence[str] | None = None, *, console: Console | None = None) -> int:
    """Run one ``audmw`` command; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    console = console or Console()
    try:
        if arguments[:1] == ["demo"]:
            # Everything after "demo", --help included, belongs to the demo's own parser.
            return run_demo(arguments[1:], console)
        args = build_parser().parse_args(arguments)
        code: int = args.run(args, console)
        return code
    except UsageError as error:
        console.err(f"audmw: {error}")
        return 2
    except KeyboardInterrupt:
        return 130
