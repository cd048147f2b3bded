from django.urls import path

from classifier import views

app_name = "classifier"

urlpatterns = [
    path("triage/", views.triage, name="triage"),
    path("triage/<slug:slug>/accept/", views.accept, name="accept"),
    path("triage/<slug:slug>/reject/", views.reject, name="reject"),
    path("triage/<slug:slug>/same-outage/", views.link, name="same-outage"),
]
