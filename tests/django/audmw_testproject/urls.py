from django.contrib import admin
from django.urls import path

from audmw_testproject import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("open", views.open_view),
    path("incoming", views.incoming),
    path("incoming-public", views.incoming_public),
    path("incoming-drf", views.DrfIncoming.as_view()),
    path("any", views.any_token),
    path("read", views.read_messages),
    path("either", views.either),
    path("write", views.write_effect),
    path("async-read", views.async_read),
    path("health", views.health),
    path("thirdparty/<str:name>", views.third_party),
    path("session", views.session_view),
    path("items", views.ItemsView.as_view()),
    path("public-page", views.PublicPage.as_view()),
    path("plain", views.PlainView.as_view()),
    path("async-items", views.AsyncItems.as_view()),
    path("drf/messages", views.DrfMessages.as_view()),
    path("drf/either", views.DrfEither.as_view()),
    path("api-drf/middleware", views.DrfMiddlewareToken.as_view()),
    path("api-drf/function", views.drf_function),
    path("api-drf/defaults", views.DrfDefaults.as_view()),
    path("members", views.members_only),
]
