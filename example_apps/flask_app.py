"""``python -m example_apps.flask_app --port P``: the Flask example of ``audmw.examples``."""

from audmw.examples.flask_app import create_app, main

__all__ = ["create_app", "main"]

if __name__ == "__main__":
    main()
