"""Import endpoints under /api/: pushed payloads, webhooks, import jobs, polled sources."""

from django.urls import path  # noqa: F401  (routes are added as the endpoints land)

urlpatterns: list = []
