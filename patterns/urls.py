from django.urls import path

from patterns import views

app_name = "patterns"

urlpatterns = [
    path("patterns/", views.dashboard, name="dashboard"),
    path("patterns/refresh/", views.refresh, name="refresh"),
    path("patterns/<int:pk>/", views.pattern_detail, name="pattern-detail"),
]
