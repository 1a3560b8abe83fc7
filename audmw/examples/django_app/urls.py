from django.urls import path

from audmw.examples.django_app import views

urlpatterns = [
    path("public", views.public_view),
    path("api/me", views.me),
    path("api/messages", views.Messages.as_view()),
    path("api/admin", views.admin),
]
