"""Pattern API routes: /api/patterns/, /api/incidents/{slug}/related/, /api/stats/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from patterns.api import views

app_name = "patterns-api"

router = SimpleRouter()
router.register("patterns", views.PatternViewSet, basename="pattern")

urlpatterns = [
    *router.urls,
    path("incidents/<slug:slug>/related/", views.RelatedIncidentsView.as_view(), name="related"),
    path("stats/", views.StatsView.as_view(), name="stats"),
]
