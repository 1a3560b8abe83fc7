"""``audmw mint`` and ``audmw serve-issuer``: a local development issuer.

Its private keys live in a state directory (``.audmw/issuer`` under the current directory,
``$AUDMW_STATE_DIR`` or ``--state-dir``), so a running ``serve-issuer`` (or demo) and later
``mint`` commands sign with the same keys. It is for development only: the keys are
unencrypted files and the issuer serves plain HTTP on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import threading
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from audmw.cli.console import Console, UsageError
from audmw.settings import DEFAULT_ALGORITHMS
from audmw.testing.issuer import LocalIssuer, read_state, sign_compact

DEFAULT_PORT = 9400
DEV_CLIENT = "dev-client"
SECRET_FILE = "client-secret"  # noqa: S105 - a file name
DEFAULT_AUDIENCE = "https://api.example.com"
_DURATION = re.compile(r"(-?\d+)\s*(s|m|min|h|d)?")
_UNITS = {None: 1, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def state_dir(args: argparse.Namespace, console: Console) -> Path:
    if args.state_dir:
        return Path(args.state_dir)
    return Path(console.environ.get("AUDMW_STATE_DIR") or Path.cwd() / ".audmw" / "issuer")


def _state_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        metavar="DIR",
        help="where the issuer's keys live (default: $AUDMW_STATE_DIR, else ./.audmw/issuer)",
    )


def add_parsers(commands: Any) -> None:
    mint = commands.add_parser(
        "mint",
        help="print a token signed by the local development issuer",
        description="Print an access token signed by the local development issuer (see "
        "'audmw serve-issuer'), for trying an API with curl: "
        'curl -H "Authorization: Bearer $(audmw mint --scope read:messages)" ...',
    )
    mint.add_argument(
        "--aud",
        action="append",
        metavar="AUDIENCE",
        help="aud (repeatable; default: first of $AUDMW_AUDIENCE, else " + DEFAULT_AUDIENCE + ")",
    )
    mint.add_argument(
        "--scope",
        action="append",
        default=[],
        metavar="SCOPE",
        help="scopes (repeatable, or space-separated)",
    )
    mint.add_argument(
        "--exp",
        default="300",
        metavar="DURATION",
        help="lifetime: 300, 90s, 15m, 2h, 1d; negative for an expired token (--exp=-1h); "
        "default 300",
    )
    mint.add_argument("--sub", default="user-123", help="subject (default user-123)")
    mint.add_argument("--client-id", default="dev-client", help="client_id (default dev-client)")
    mint.add_argument(
        "--claim",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help='any claim; VALUE is read as JSON when it parses (42, true, ["a"], null removes '
        "the claim), else as a string (repeatable)",
    )
    mint.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any JOSE header parameter, VALUE as for --claim (repeatable)",
    )
    mint.add_argument(
        "--alg", default="RS256", choices=DEFAULT_ALGORITHMS, help="algorithm (default RS256)"
    )
    mint.add_argument("--typ", default="at+jwt", help="header typ, or 'none' to leave it out")
    _state_option(mint)
    mint.set_defaults(run=run_mint)

    serve = commands.add_parser(
        "serve-issuer",
        help="serve the local development issuer's discovery and JWKS on 127.0.0.1",
        description="Serve the local development issuer (OpenID discovery, JWKS and a token "
        "endpoint) on 127.0.0.1 until interrupted; 'audmw mint' signs tokens it accepts, and "
        "'audmw token' (or any OAuth client) gets them by client credentials as "
        f"{DEV_CLIENT}.",
    )
    serve.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    serve.add_argument(
        "--client-key",
        metavar="FILE",
        help=f"also let {DEV_CLIENT} authenticate with private_key_jwt, signing with the "
        "private key whose public half (or itself: PEM or JWK) is in FILE",
    )
    _state_option(serve)
    serve.set_defaults(run=run_serve)


def duration(text: str) -> int:
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise UsageError(f"--exp {text!r} is not a duration like 300, 90s, 15m, 2h or 1d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _assignments(values: list[str], option: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for item in values:
        name, equals, text = item.partition("=")
        if not equals or not name:
            raise UsageError(f"{option} {item!r} must look like NAME=VALUE")
        try:
            result[name] = json.loads(text)
        except ValueError:
            result[name] = text
    return result


def run_mint(args: argparse.Namespace, console: Console) -> int:
    directory = state_dir(args, console)
    recorded = read_state(directory)
    issuer = LocalIssuer.from_state_dir(directory, port=None if recorded else DEFAULT_PORT)
    if recorded is None:
        console.err(
            f"note: no issuer has served from {directory} yet; the token names "
            f"{issuer.issuer} (start it with 'audmw serve-issuer')"
        )
    audience: str | list[str]
    if args.aud:
        audience = args.aud[0] if len(args.aud) == 1 else list(args.aud)
    else:
        configured = console.environ.get("AUDMW_AUDIENCE", "").split(",")[0].strip()
        audience = configured or DEFAULT_AUDIENCE
    scopes = " ".join(args.scope).split()
    now = int(console.clock())
    payload: dict[str, Any] = {
        "iss": issuer.issuer,
        "sub": args.sub,
        "aud": audience,
        "iat": now,
        "exp": now + duration(args.exp),
        "jti": uuid.uuid4().hex,
        "client_id": args.client_id,
        "scope": " ".join(scopes) if scopes else None,
    }
    payload.update(_assignments(args.claim, "--claim"))
    key = issuer.key_for(args.alg)
    header: dict[str, Any] = {"alg": args.alg, "kid": key.kid}
    if args.typ.lower() != "none":
        header["typ"] = args.typ
    extra_header = _assignments(args.header, "--header")
    if "alg" in extra_header:
        raise UsageError("choose the algorithm with --alg")
    header.update(extra_header)
    token = sign_compact(
        {name: value for name, value in header.items() if value is not None},
        {name: value for name, value in payload.items() if value is not None},
        key.private_key,
    )
    console.out(token)
    return 0


def dev_client_secret(directory: Path) -> str:
    """The development client's secret, made on first use and kept in the state directory."""
    path = directory / SECRET_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(24)
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(handle, "w") as file:
        file.write(secret + "\n")
    return secret


def _client_key(path: str) -> Any:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read --client-key: {error.strerror}") from None
    if data.lstrip().startswith(b"{"):
        try:
            return json.loads(data)
        except ValueError:
            raise UsageError("--client-key is neither PEM nor a JWK") from None
    try:
        return serialization.load_pem_public_key(data)
    except ValueError:
        pass
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise UsageError("--client-key is not an unencrypted PEM key or a JWK") from None


def run_serve(args: argparse.Namespace, console: Console) -> int:
    directory = state_dir(args, console)
    issuer = LocalIssuer.from_state_dir(directory, port=args.port)
    keys = [_client_key(args.client_key)] if args.client_key else []
    secret = dev_client_secret(directory)
    issuer.register_client(DEV_CLIENT, secret=secret, keys=keys)
    try:
        issuer.start()
    except OSError as error:
        raise UsageError(f"cannot listen on 127.0.0.1:{args.port}: {error.strerror}") from None
    stopped = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        issuer.save_state(directory)
        console.out(f"audmw development issuer: {issuer.issuer}")
        console.out(f"  discovery  {issuer.issuer}/.well-known/openid-configuration")
        console.out(f"  jwks       {issuer.jwks_uri}")
        console.out(f"  token      {issuer.token_url}")
        console.out(f"  client     {DEV_CLIENT}, secret {secret} (in {directory / SECRET_FILE})")
        console.out(f"  keys       {directory / 'keys'} (development only)")
        console.out("Configure the API with:")
        console.out(f"  export AUDMW_ISSUER={issuer.issuer}")
        console.out(f"  export AUDMW_AUDIENCE={DEFAULT_AUDIENCE}")
        console.out("and get a token with:  audmw mint --scope read:messages")
        console.out(
            f"or as a client would:  AUDMW_CLIENT_SECRET={secret} audmw token "
            f"--issuer {issuer.issuer} --client-id {DEV_CLIENT} --audience {DEFAULT_AUDIENCE}"
        )
        console.stdout.flush()
        try:
            while not stopped.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        issuer.stop()
    return 0
