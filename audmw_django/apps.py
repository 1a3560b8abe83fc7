from django.apps import AppConfig
from django.conf import settings

from audmw import log_refusals


class AudmwConfig(AppConfig):
    name = "audmw_django"
    label = "audmw"
    verbose_name = "audmw bearer access tokens"

    def ready(self) -> None:
        # Django's default LOGGING drops INFO lines of other loggers: unless the project's
        # LOGGING names "audmw", refusal reasons go to stderr as runserver's lines do.
        if "audmw" not in (getattr(settings, "LOGGING", None) or {}).get("loggers", {}):
            log_refusals()
        # Importing them registers the system checks.
        import audmw_django.checks
        import audmw_django.marks_check  # noqa: F401
