"""Postmortem API routes: /api/incidents/, /api/vendors/, /api/change-types/, /api/categories/."""

from rest_framework.routers import SimpleRouter

from postmortems.api import views

app_name = "postmortems-api"

router = SimpleRouter()
router.register("incidents", views.IncidentViewSet, basename="incident")
router.register("vendors", views.VendorViewSet, basename="vendor")
router.register("change-types", views.ChangeTypeViewSet, basename="change-type")
router.register("categories", views.FailureCategoryViewSet, basename="category")

urlpatterns = router.urls
