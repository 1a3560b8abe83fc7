"""Terminal input and output shared by the subcommands: streams, colour, reading a token."""

from __future__ import annotations

import getpass
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

_STYLES = {
    "pass": "32",  # green
    "fail": "1;31",  # bold red
    "warn": "33",  # yellow
    "dim": "2",
    "bold": "1",
}


class UsageError(Exception):
    """Something the user has to change on the command line: exit status 2."""


class Console:
    """The streams, environment and clock one command runs with (injectable for tests)."""

    def __init__(
        self,
        *,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.stdin = stdin if stdin is not None else sys.stdin
        self.stdout = stdout if stdout is not None else sys.stdout
        self.stderr = stderr if stderr is not None else sys.stderr
        self.environ = environ if environ is not None else os.environ
        self.clock = clock or time.time
        self.colour = wants_colour(self.stdout, self.environ)

    def out(self, text: str = "") -> None:
        self.stdout.write(text + "\n")

    def err(self, text: str) -> None:
        self.stderr.write(text + "\n")

    def json(self, document: Any) -> None:
        self.stdout.write(json_text(document) + "\n")

    def paint(self, text: str, style: str) -> str:
        if not self.colour:
            return text
        return f"\x1b[{_STYLES[style]}m{text}\x1b[0m"


def wants_colour(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Colour only on a terminal, never with ``NO_COLOR`` set (https://no-color.org)."""
    if environ.get("NO_COLOR") or environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


def safe(text: str) -> str:
    """``text`` with control and formatting characters escaped: token contents are attacker
    input and must not drive the terminal (escape sequences, bidi overrides)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in text)


def json_text(document: Any) -> str:
    """Indented JSON that keeps readable non-ASCII text but escapes what is not printable
    (U+0085, U+2028, bidi overrides): JSON leaves those raw, and they act on a terminal."""
    text = json.dumps(document, indent=2, ensure_ascii=False)
    if text.replace("\n", "").isprintable():
        return text
    return "".join(ch if ch == "\n" or ch.isprintable() else json.dumps(ch)[1:-1] for ch in text)


def shown(value: Any) -> str:
    """A claim or header value for a person: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return safe(value)
    return safe(json.dumps(value, ensure_ascii=False))


def read_token(console: Console, argument: str | None) -> tuple[str, list[str]]:
    """The token from the argument, ``-`` (stdin), or stdin/a hidden prompt when omitted.

    Accepts what people paste: ``Bearer <token>``, ``Authorization: Bearer <token>`` or a token
    response (JSON with ``access_token``). Returns the token and notes for stderr.
    """
    notes = []
    if argument is None or argument == "-":
        if argument is None and _is_tty(console.stdin):
            text = getpass.getpass("Token (input hidden): ", stream=console.stderr)
        else:
            text = console.stdin.read()
    else:
        text = argument
        notes.append(
            "note: a token given as an argument stays in your shell history; pipe it in, or "
            "pass '-' and paste it"
        )
    text = text.strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            raise UsageError("the input starts with '{' but is not JSON") from None
        if not isinstance(document, dict):
            raise UsageError("the JSON input is not an object")
        for name in ("access_token", "id_token"):
            if isinstance(document.get(name), str):
                text = document[name].strip()
                notes.append(f"note: read {name} from the JSON token response")
                break
        else:
            raise UsageError("the JSON input has no access_token")
    name, colon, rest = text.partition(":")
    if colon and name.strip().lower() == "authorization":
        text = rest.strip()
    scheme, space, rest = text.partition(" ")
    if space and scheme.lower() == "bearer":
        text = rest.strip()
    if not text:
        raise UsageError("no token given: pass it on stdin (or '-'), or as an argument")
    return text, notes


def _is_tty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())
