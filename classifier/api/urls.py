"""/api/incidents/{slug}/suggestions/…, /api/classifier/…"""

from django.urls import path

from classifier.api import views

app_name = "classifier-api"

urlpatterns = [
    path("incidents/<slug:slug>/suggestions/", views.SuggestionsView.as_view(), name="suggestions"),
    path(
        "incidents/<slug:slug>/suggestions/accept/",
        views.AcceptSuggestionsView.as_view(),
        name="accept",
    ),
    path("classifier/", views.ClassifierStatusView.as_view(), name="status"),
    path("classifier/retrain/", views.RetrainView.as_view(), name="retrain"),
    path(
        "classifier/batches/<int:batch_id>/",
        views.ClassificationBatchView.as_view(),
        name="batch",
    ),
]
