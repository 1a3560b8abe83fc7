from django.apps import AppConfig


class AudmwConfig(AppConfig):
    name = "audmw_django"
    label = "audmw"
    verbose_name = "audmw bearer access tokens"

    def ready(self) -> None:
        # Importing them registers the system checks.
        import audmw_django.checks
        import audmw_django.marks_check  # noqa: F401
