"""Timeline API routes: /api/incidents/{slug}/timeline/ and …/timeline/{id}/."""

from django.urls import path

from timeline.api import views

app_name = "timeline-api"

events = views.TimelineEventViewSet.as_view({"get": "list", "post": "create"})
event = views.TimelineEventViewSet.as_view(
    {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}
)

urlpatterns = [
    path("incidents/<slug:slug>/timeline/", events, name="event-list"),
    path("incidents/<slug:slug>/timeline/<int:pk>/", event, name="event-detail"),
]
