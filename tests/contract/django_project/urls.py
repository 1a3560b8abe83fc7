"""Every route of the table; marks cases at /marks/<style>/<case>/view."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path, re_path
from rest_framework.routers import SimpleRouter

from contract import beyond, spec
from contract.django_project import views

CLASS_STYLES = ("django-view", "drf-apiview")


def _case_patterns() -> list[URLPattern | URLResolver]:
    patterns: list[URLPattern | URLResolver] = []
    router = SimpleRouter(trailing_slash=False)
    for style in spec.styles_of("django"):
        for case in spec.cases(style):
            route = case.path.removeprefix("/")
            if style.name == "django-function":
                patterns.append(path(route, views.function_case(case)))
            elif style.name in CLASS_STYLES:
                patterns.append(path(route, views.class_case(case)))
            elif style.name == "drf-api-view":
                patterns.append(path(route, views.api_view_case(case)))
            else:  # drf-viewset: list and create at the prefix
                router.register(route, views.viewset_case(case), basename=case.slug + style.name)
    router.register(
        spec.HEAD_ONLY_VIEWSET_PATH.removeprefix("/"),
        views.head_only_viewset(),
        basename="head-only",
    )
    return patterns + list(router.urls)


urlpatterns = [
    path("health", views.shared("health")),
    path("status", views.shared("status")),
    path("exempt-admin", views.shared("exempt-admin")),
    path("status-admin", views.shared("status-admin")),
    path("exempt-mixed", views.exempt_mixed()),
    path("head-handler", views.head_handler()),
    path("reports/<str:n>", views.shared("reports")),
    path("reports/<str:n>/audit", views.shared("reports-audit")),
    path("files/<path:rest>", views.files),
    re_path(r"(?i)^ci-reports/(?P<n>[^/]+)$", views.shared("ci-reports")),
    path("cors/get-only", views.shared("cors-get-only")),
    path("cors/answers-options", views.cors_answers_options()),
    path("cors/drf", views.cors_drf()),
    *(
        path(beyond.path_of(name).removeprefix("/"), views.beyond_view(name))
        for name in beyond.ROUTES
    ),
    path(beyond.path_of(beyond.CLASS_ROUTE).removeprefix("/"), views.beyond_class_view()),
    *_case_patterns(),
]
