from django.apps import AppConfig


class AudmwConfig(AppConfig):
    name = "audmw_django"
    label = "audmw"
    verbose_name = "audmw bearer access tokens"

    def ready(self) -> None:
        import audmw_django.checks  # noqa: F401  (registers the system checks)
