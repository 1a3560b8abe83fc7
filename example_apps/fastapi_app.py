"""``python -m example_apps.fastapi_app --port P``: the FastAPI example of ``audmw.examples``."""

from audmw.examples.fastapi_app import create_app, main

__all__ = ["create_app", "main"]

if __name__ == "__main__":
    main()
