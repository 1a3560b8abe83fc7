"""``python -m example_apps.mcp_app --port P``: the MCP server example of ``audmw.examples``."""

from audmw.examples.mcp_app import create_app, main

__all__ = ["create_app", "main"]

if __name__ == "__main__":
    main()
