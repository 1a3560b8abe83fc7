"""A calling service: it asks the authorization server for a token *for the API it calls*
(client credentials with ``audience=`` or ``resource=``) and calls the example API with it.

    AUDMW_CLIENT_SECRET=... python -m audmw.examples.caller --api http://127.0.0.1:8000 \\
        --issuer http://127.0.0.1:9400 --client-id dev-client --audience https://api.example.com

The token is requested once and reused until shortly before it expires; a 401
``invalid_token`` from the API gets one retry with a fresh token.
"""

from __future__ import annotations

import argparse
import os
import sys

import httpx

from audmw.client import ClientCredentials, TokenRequestError


def call(api: str, auth: httpx.Auth) -> httpx.Response:
    """``GET /api/messages`` of the example API with tokens from ``auth``."""
    with httpx.Client(base_url=api, auth=auth, timeout=10) as client:
        return client.get("/api/messages")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--api", required=True, help="the example API's base URL")
    parser.add_argument("--issuer", required=True, help="the authorization server's issuer")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--audience", help="audience= to ask for (Auth0 style)")
    parser.add_argument("--resource", help="resource= to ask for (RFC 8707)")
    parser.add_argument("--scope", default="read:messages")
    args = parser.parse_args(argv)
    secret = os.environ.get("AUDMW_CLIENT_SECRET")
    if not secret:
        parser.error("set AUDMW_CLIENT_SECRET to the client's secret")
    auth = ClientCredentials(
        issuer=args.issuer,
        client_id=args.client_id,
        client_secret=secret,
        audience=args.audience,
        resource=args.resource,
        scope=args.scope,
    )
    try:
        response = call(args.api, auth)
    except TokenRequestError as error:
        print(f"no token: {error}", file=sys.stderr)
        return 1
    print(response.status_code, response.text)
    return 0 if response.status_code < 400 else 1


if __name__ == "__main__":
    raise SystemExit(main())
