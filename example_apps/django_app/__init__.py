"""``python -m example_apps.django_app --port P``: the Django example of ``audmw.examples``."""

from audmw.examples.django_app import main

__all__ = ["main"]
