"""Site-wide middleware: a statement PostgreSQL cancelled answers 503, never 500.

Web processes run with a statement timeout (``WEB_STATEMENT_TIMEOUT``). A page whose query
runs past it raises ``OperationalError`` from ``psycopg.errors.QueryCanceled``; that is the
request being too broad, not a bug, so the person is told to narrow it. API views answer it
in ``core.rest.api_exception_handler`` (DRF handles its views' exceptions itself); this
answers everything else, in the API's error shape under /api/ all the same.

Rendering the answer may query (the signed-in user's permissions for the navigation): by
the time a view's exception reaches middleware, every ``atomic`` block it was raised in has
rolled back, and requests are not atomic (no ``ATOMIC_REQUESTS``), so the connection is back
in autocommit with no aborted transaction.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import Template

from core.rest import (
    STATEMENT_TIMEOUT_RETRY_AFTER,
    StatementTimeout,
    error_body,
    log_statement_timeout,
    statement_cancelled,
)

TEMPLATE = "503.html"
# 503.html extends this for an htmx request (the fragment alone), base.html otherwise.
FRAGMENT_LAYOUT = Template("{% block content %}{% endblock %}")


class StatementTimeoutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not statement_cancelled(exception):
            return None  # Django's usual 500
        response = statement_timeout_response(request)
        response["Retry-After"] = str(STATEMENT_TIMEOUT_RETRY_AFTER)
        log_statement_timeout(request, response)
        return response


def statement_timeout_response(request: HttpRequest) -> HttpResponse:
    status = StatementTimeout.status_code
    if request.path_info.startswith("/api/"):
        return JsonResponse(error_body(StatementTimeout(), status), status=status)
    fragment = bool(getattr(request, "htmx", False))
    context = {"layout": FRAGMENT_LAYOUT if fragment else "base.html", "fragment": fragment}
    return render(request, TEMPLATE, context, status=status)
