"""Everything under /api/: the schema and its docs, each app's endpoints, a JSON 404."""

from __future__ import annotations

from typing import Any

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.http import HttpResponse
from django.template import engines
from django.urls import Resolver404, include, path, re_path, resolve
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework import exceptions
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

SCHEMA_URL_NAME = "api-schema"

# --- Docs --------------------------------------------------------------------------

# Swagger UI sets inline styles on its widgets (a CSP style-src without
# 'unsafe-inline' breaks its layout), so this one view relaxes style-src. Its
# scripts stay external: the split view serves its init script from a URL.
SWAGGER_CSP = {"style-src": [UNSAFE_INLINE]}
# Redoc injects <style> elements at run time (styled-components) and runs its
# search index in a Web Worker made from a blob: URL; only its page allows both.
REDOC_CSP = {"style-src": [UNSAFE_INLINE], "worker-src": ["blob:"]}

# drf-spectacular's Redoc page links Google Fonts: this head keeps every asset local.
REDOC_PAGE = engines["django"].from_string(
    '{% extends "drf_spectacular/redoc.html" %}'
    '{% block head %}<title>{{ title }}</title><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">{% endblock %}'
)


class ApiRedocView(SpectacularRedocView):
    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        return HttpResponse(REDOC_PAGE.render(response.data, request))


# --- Unknown paths ----------------------------------------------------------------------


class UnknownEndpointView(APIView):
    """Answers any /api/ path no endpoint matched, in the API's error shape (not HTML)."""

    permission_classes = [AllowAny]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        raise exceptions.NotFound(unknown_endpoint_message(request.path))


def unknown_endpoint_message(path: str) -> str:
    # The catch-all below matches every path, so Django's APPEND_SLASH never
    # redirects under /api/: say so when the slash is what is missing.
    if not path.endswith("/"):
        try:
            match = resolve(path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not unknown_endpoint:
            return f"API paths end with a slash: {path}/"
    return f"No API endpoint at {path}. The list is at /api/docs/."


unknown_endpoint = UnknownEndpointView.as_view()

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name=SCHEMA_URL_NAME),
    path(
        "docs/",
        csp_update(SWAGGER_CSP)(SpectacularSwaggerSplitView.as_view(url_name=SCHEMA_URL_NAME)),
        name="api-docs",
    ),
    path(
        "redoc/",
        csp_update(REDOC_CSP)(ApiRedocView.as_view(url_name=SCHEMA_URL_NAME)),
        name="api-redoc",
    ),
    # Before the incident routes: /api/incidents/{slug}/suggestions/ is the classifier's.
    path("", include("classifier.api.urls")),
    path("", include("postmortems.api.urls")),
    path("", include("imports.api.urls")),
    path("", include("patterns.api.urls")),
    path("", include("timeline.api.urls")),
    # Last: any other /api/ path gets a JSON 404 in the API's error shape.
    re_path(r"^.*$", unknown_endpoint, name="api-unknown"),
]
