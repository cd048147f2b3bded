"""Import endpoints under /api/: pushed payloads, webhooks, import jobs, polled sources."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from imports.api import views

app_name = "imports-api"

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("imports", views.ImportJobViewSet, basename="import-job")
router.register("status-sources", views.StatusSourceViewSet, basename="status-source")
router.register("webhooks", views.WebhookEndpointViewSet, basename="webhook")

urlpatterns = [
    path(
        "webhooks/statuspage/<str:secret>/",
        views.StatuspageWebhookView.as_view(),
        name="statuspage-webhook",
    ),
    *router.urls,
]
