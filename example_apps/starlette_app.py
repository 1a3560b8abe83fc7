"""``python -m example_apps.starlette_app --port P``: the Starlette app of ``audmw.examples``."""

from audmw.examples.starlette_app import create_app, main

__all__ = ["create_app", "main"]

if __name__ == "__main__":
    main()
