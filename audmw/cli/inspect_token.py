"""``audmw inspect``: decode a token without verifying it and say what it is."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from audmw.cli.console import Console, read_token, safe, shown
from audmw.inspection import (
    TIME_CLAIMS,
    Inspection,
    inspect_token,
    iso_time,
    relative_time,
    to_json,
)

_FORMATS = {
    "jws": "JWS (signed JWT)",
    "jwe": "JWE (encrypted JWT)",
    "opaque": "opaque",
    "malformed": "malformed",
}


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "inspect",
        help="decode a token without verifying it and explain what it is",
        description="Decode a token without verifying it: header, claims and times, what kind "
        "of token it looks like, and the likely provider with its usual pitfalls. Nothing is "
        "sent anywhere.",
    )
    parser.add_argument(
        "token", nargs="?", help="the token, or '-' to read stdin (default: stdin, or a prompt)"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--client-id",
        action="append",
        default=[],
        metavar="ID",
        help="a client id of your apps: a token whose aud is one is an ID token (repeatable)",
    )
    parser.add_argument(
        "--show-token", action="store_true", help="also print the token itself (off by default)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    token, notes = read_token(console, args.token)
    for note in notes:
        console.err(note)
    inspection = inspect_token(token, client_ids=args.client_id)
    now = console.clock()
    if args.json:
        document = to_json(inspection, now)
        if args.show_token:
            document["token"] = token
        console.json(document)
        return 0
    for line in render(inspection, now, console):
        console.out(line)
    if args.show_token:
        console.out()
        console.out(console.paint("Token", "bold"))
        console.out("  " + safe(token))
    return 0


def render(inspection: Inspection, now: float, console: Console) -> list[str]:

    def bold(text: str) -> str:
        return console.paint(text, "bold")

    lines = [
        f"{bold('Token')}      {_FORMATS[inspection.format]}, {inspection.length} characters, "
        f"fingerprint {inspection.fingerprint}"
    ]
    if inspection.signature_bytes is not None:
        alg = shown((inspection.header or {}).get("alg"))
        lines.append(
            f"{bold('Signature')}  {alg}, {inspection.signature_bytes} bytes, "
            + console.paint("not verified", "warn")
            + " (audmw check verifies it)"
        )
    if inspection.problem and inspection.format == "malformed":
        lines.append(f"{bold('Problem')}    {safe(inspection.problem)}")
    if inspection.header is not None:
        lines += ["", bold("Header"), *fields(inspection.header, now)]
    if inspection.claims is not None:
        lines += ["", bold("Claims"), *fields(inspection.claims, now)]
    elif inspection.format == "jwe":
        lines += ["", bold("Claims"), "  encrypted: only the issuer can read them"]
    kind = inspection.kind
    lines += ["", f"{bold('Kind')}       {kind.label}"]
    lines += [f"  - {safe(reason)}" for reason in kind.reasons]
    provider = inspection.provider
    if provider is not None:
        lines += ["", f"{bold('Provider')}   {provider.name} ({safe(provider.why)})"]
        lines += [f"  - {safe(pitfall)}" for pitfall in provider.pitfalls]
    if inspection.notes:
        lines += ["", bold("Notes")]
        lines += [f"  - {safe(note)}" for note in inspection.notes]
    return lines


def fields(values: Mapping[str, Any], now: float) -> list[str]:
    """``name  value`` lines, aligned; numeric dates also as ISO 8601 and relative to now."""
    width = min(max((len(safe(name)) for name in values), default=0), 24)
    lines = []
    for name, value in values.items():
        text = shown(value)
        if name in TIME_CLAIMS and isinstance(value, (int, float)) and not isinstance(value, bool):
            text += f"  {iso_time(value)}  {relative_time(name, value, now)}"
        lines.append(f"  {safe(name):<{width}}  {text}")
    return lines
