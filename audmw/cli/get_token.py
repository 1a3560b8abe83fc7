"""``audmw token``: obtain a token for an API by client credentials, print it or check it.

The client secret comes from ``$AUDMW_CLIENT_SECRET`` or stdin (a hidden prompt on a
terminal), never from the command line; a private key from a PEM or JWK file. ``--check``
runs the token through ``audmw check`` at once, against ``--api-audience``.
"""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path
from typing import Any

from audmw.cli import check_token
from audmw.cli.console import Console, UsageError, safe
from audmw.client import ClientCredentials, TokenEndpointUnavailable, TokenRequestError

SECRET_VARIABLE = "AUDMW_CLIENT_SECRET"  # noqa: S105 - the variable's name


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "token",
        help="obtain a token for an API by client credentials, print or check it",
        description="Ask an authorization server for an access token by client credentials, "
        "for the API named by --audience, --resource or --scope, and print it (or --check it "
        "as the API would). The secret is read from $" + SECRET_VARIABLE + " or stdin.",
    )
    server = parser.add_mutually_exclusive_group(required=True)
    server.add_argument("--issuer", help="the authorization server's issuer (discovery)")
    server.add_argument("--token-url", help="the token endpoint, when there is no discovery")
    parser.add_argument("--client-id", required=True, help="the client's id")
    parser.add_argument(
        "--audience", action="append", default=[], help="audience= (Auth0, token exchange)"
    )
    parser.add_argument(
        "--resource", action="append", default=[], help="resource= (RFC 8707; repeatable)"
    )
    parser.add_argument(
        "--scope", action="append", default=[], help="scopes (repeatable, or space-separated)"
    )
    parser.add_argument(
        "--private-key",
        metavar="FILE",
        help="authenticate with private_key_jwt, signing with this key (PEM or JWK)",
    )
    parser.add_argument("--kid", help="the kid of --private-key, when the server needs one")
    parser.add_argument(
        "--assertion-audience",
        choices=("issuer", "token_endpoint"),
        default="issuer",
        help="the private_key_jwt assertion's aud (default: the issuer identifier)",
    )
    parser.add_argument(
        "--auth-method",
        choices=("client_secret_basic", "client_secret_post"),
        default="client_secret_basic",
        help="how the secret is sent (default client_secret_basic)",
    )
    parser.add_argument("--json", action="store_true", help="print the whole token response")
    parser.add_argument(
        "--check", action="store_true", help="check the token as the API would (audmw check)"
    )
    parser.add_argument(
        "--api-audience", help="with --check: the API's audience (default: the first target)"
    )
    parser.set_defaults(run=run)


def _secret(console: Console) -> str:
    secret = console.environ.get(SECRET_VARIABLE, "")
    if not secret:
        if _is_tty(console.stdin):
            secret = getpass.getpass("Client secret (input hidden): ", stream=console.stderr)
        else:
            secret = console.stdin.read()
    secret = secret.strip()
    if not secret:
        raise UsageError(
            f"no client secret: set {SECRET_VARIABLE} or pipe it in (or use --private-key)"
        )
    return secret


def _is_tty(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


def run(args: argparse.Namespace, console: Console) -> int:
    scopes = " ".join(args.scope).split()
    credentials: dict[str, Any]
    if args.private_key:
        try:
            key = Path(args.private_key).read_text()
        except OSError as error:
            raise UsageError(f"cannot read --private-key: {error.strerror}") from None
        credentials = {
            "private_key": key,
            "kid": args.kid,
            "assertion_audience": args.assertion_audience,
        }
    else:
        credentials = {"client_secret": _secret(console), "auth_method": args.auth_method}
    try:
        auth = ClientCredentials(
            issuer=args.issuer,
            token_url=args.token_url,
            client_id=args.client_id,
            audience=args.audience or None,
            resource=args.resource or None,
            scope=scopes or None,
            clock=console.clock,
            **credentials,
        )
    except ValueError as problem:
        raise UsageError(str(problem)) from None
    try:
        issued = auth.token()
    except TokenEndpointUnavailable as error:
        console.err(f"audmw token: {safe(str(error))}")
        return 2
    except TokenRequestError as error:
        console.err(f"audmw token: {safe(str(error))}")
        return 1
    if args.check:
        audience = args.api_audience or next(iter(args.audience + args.resource), None)
        options = check_token.check_options(issuer=args.issuer, audience=audience, command="token")
        return check_token.check(issued.access_token, options, console)
    if args.json:
        document: dict[str, Any] = {
            "access_token": issued.access_token,
            "token_type": issued.token_type,
            "expires_in": round(issued.expires_at - issued.issued_at),
        }
        if issued.scope is not None:
            document["scope"] = issued.scope
        console.json(document)
    else:
        console.out(issued.access_token)
    return 0
