from django.contrib import admin
from django.urls import include, path

from ops.views import health

urlpatterns = [
    path("", include("postmortems.urls")),
    path("", include("timeline.urls")),
    path("", include("imports.urls")),
    path("", include("patterns.urls")),
    path("", include("classifier.urls")),
    path("accounts/", include("accounts.urls")),
    path("digests/", include("digests.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("config.api_urls")),
    path("health/", health, name="health"),
]
