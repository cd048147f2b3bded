from django.urls import path

from timeline import views

app_name = "timeline"

urlpatterns = [
    path("incidents/<slug:slug>/timeline/", views.timeline_editor, name="editor"),
    path("incidents/<slug:slug>/timeline/add/", views.event_create, name="event-create"),
    path("incidents/<slug:slug>/timeline/<int:pk>/", views.event_edit, name="event-edit"),
    path(
        "incidents/<slug:slug>/timeline/<int:pk>/delete/",
        views.event_delete,
        name="event-delete",
    ),
    path("incidents/<slug:slug>/timeline/paste/", views.paste_notes, name="paste"),
]
