from django.urls import path

from digests import views

app_name = "digests"

urlpatterns = [
    path("subscription/", views.subscribe, name="subscribe"),
    path("subscription/stop/", views.stop, name="stop"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("preview/", views.preview, name="preview"),
    path("preview/email.html", views.preview_email, name="preview-email"),
]
