"""The example API as a Django project: ``python -m example_apps.django_app --port P``."""
