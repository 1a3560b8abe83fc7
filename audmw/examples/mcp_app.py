"""An MCP server (the official ``mcp`` SDK's Streamable HTTP app) behind ``AudienceMiddleware``.

    AUDMW_ISSUER=... python -m audmw.examples.mcp_app --port 8000

The MCP endpoint is ``/mcp``. The app is the resource ``AUDMW_RESOURCE`` (default
``http://127.0.0.1:<port>/mcp``, the URL clients connect to), which is also the audience
unless ``AUDMW_AUDIENCE`` says otherwise. Its RFC 9728 metadata is served at
``/.well-known/oauth-protected-resource/mcp`` (and at the root name) without a token, and
every 401 points to it, so an MCP client discovers the authorization server on its own.
Tokens for any other resource are refused, and this server never sends the token it
received anywhere (it calls no upstream API; one that does obtains tokens of its own).

Every request to ``/mcp`` needs the scope ``notes:read`` (``TOOLS_SCOPE``). The SDK routes
all tools through that one endpoint, and the tool a request calls is known only from its
JSON-RPC body, which middleware does not read: scopes are required per route, here by a
rule of the settings, since the SDK's route cannot carry a mark.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any

from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette

from audmw import Settings, log_refusals
from audmw.starlette import AudienceMiddleware

__all__ = ["MCP_PATH", "TOOLS_SCOPE", "create_app", "create_server", "main"]

MCP_PATH = "/mcp"
TOOLS_SCOPE = "notes:read"

_NOTES = {"welcome": "audmw checks every token before the MCP server sees the request"}


def create_server() -> MCPServer:
    """The MCP server and its tools, as the SDK's documentation builds one."""
    server: MCPServer = MCPServer("audmw example notes")

    @server.tool()
    def list_notes() -> list[str]:
        """The titles of the notes."""
        return sorted(_NOTES)

    @server.tool()
    def read_note(title: str) -> str:
        """The text of one note."""
        return _NOTES.get(title, "no such note")

    return server


def default_settings(port: int, environ: dict[str, str] | None = None) -> Settings:
    """``AUDMW_*`` from the environment; the resource defaults to this server's MCP URL, and
    ``/mcp`` needs ``TOOLS_SCOPE``."""
    environ = dict(os.environ if environ is None else environ)
    environ.setdefault("AUDMW_RESOURCE", f"http://127.0.0.1:{port}{MCP_PATH}")
    rules: list[dict[str, Any]] = [{"path": MCP_PATH, "scopes": [TOOLS_SCOPE]}]
    return Settings.from_env(environ, rules=rules)


def create_app(settings: Settings) -> Starlette:
    """The SDK's Streamable HTTP app with audmw in front of every route."""
    app = create_server().streamable_http_app(
        streamable_http_path=MCP_PATH, stateless_http=True, json_response=True
    )
    app.add_middleware(AudienceMiddleware, settings=settings)
    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="audmw example MCP server")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    app = create_app(default_settings(args.port))
    # After the SDK configured logging: its handler, if any, then carries audmw's lines too.
    log_refusals()  # the audmw logger's refusals (reason=...), one line each on stderr
    print(f"audmw example MCP server on http://{args.host}:{args.port}{MCP_PATH}", file=sys.stderr)
    for received in (signal.SIGINT, signal.SIGTERM):
        signal.signal(received, lambda number, frame: sys.exit(0))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", lifespan="on")


if __name__ == "__main__":
    main()
