"""The example API as a Django project: ``python -m audmw.examples.django_app --port P``."""

from audmw.examples.django_app.server import main

__all__ = ["main"]
