from django.urls import path

from imports import views

app_name = "imports"

urlpatterns = [
    path("vendors/<slug:slug>/status-sources/", views.source_create, name="source-create"),
    path(
        "status-sources/<int:pk>/<str:action>/",
        views.source_action,
        name="source-action",
    ),
]
