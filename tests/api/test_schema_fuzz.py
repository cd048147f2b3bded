"""Property-based fuzzing of the API from its own OpenAPI schema, with schemathesis.

Part of the normal suite (this is the CI run): every GET endpoint, and creating
and editing incidents, with a small, derandomised number of generated requests
each (valid and invalid ones), as an admin with a read-write token. Every
answer must be a documented status with a body that matches the schema, and
none may be a server error.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.settings import api_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from accounts.models import TokenScope
from accounts.tokens import create_token
from config.wsgi import application
from postmortems.demo.loader import load_demo
from postmortems.models import ChangeType, FailureCategory, Incident, Vendor

CHECKS = [not_a_server_error, response_schema_conformance]


@pytest.fixture
def wsgi_requests_keep_the_test_transaction():
    # Django closes "old" database connections when a request starts and ends,
    # which would end the test's transaction. Its test client switches that
    # off around each request; a plain WSGI caller such as schemathesis must too.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def auth_headers(db, admin_user, monkeypatch) -> dict:
    # Hundreds of requests from one user: throttling is tested elsewhere.
    monkeypatch.setitem(api_settings.DEFAULT_THROTTLE_RATES, "user", "1000000/hour")
    _, key = create_token(user=admin_user, name="fuzz", scope=TokenScope.READ_WRITE)
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def demo_data(db, wsgi_requests_keep_the_test_transaction):
    load_demo()  # real incidents, vendors and slugs for the generated requests to find


# Loaded when the module is collected: the schema endpoint is public and reads no
# data. (schemathesis's fixture-based lazy loader does not run on pytest 9.)
schema = (
    schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    .include(method="GET")
    .include(method="POST", path="/api/incidents/")
    .include(method="PATCH", path="/api/incidents/{slug}/")
)


# Random slugs almost never name a row and random versions never match: left
# alone, every detail request would stop at 404 and every edit at 412. Two in
# three generated slugs are aimed at real rows, and edits carry the current
# version, so the generated data reaches the serializers and services behind.
SLUG_MODELS = {
    "/api/incidents/{slug}/": Incident,
    "/api/vendors/{slug}/": Vendor,
    "/api/change-types/{slug}/": ChangeType,
    "/api/categories/{slug}/": FailureCategory,
}


def aim_at_real_rows(case) -> None:
    model = SLUG_MODELS.get(case.path)
    generated = (case.path_parameters or {}).get("slug")
    if model is None or not isinstance(generated, str) or len(generated) % 3 == 0:
        return
    slugs = list(model.objects.order_by("slug").values_list("slug", flat=True))
    slug = slugs[len(generated) % len(slugs)]
    case.path_parameters = {**case.path_parameters, "slug": slug}
    if case.method.upper() == "PATCH" and model is Incident:
        version = Incident.objects.get(slug=slug).version
        case.headers = {**(case.headers or {}), "If-Match": f'"{version}"'}


@schema.parametrize()
@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    # The fixtures are set up once per operation, on purpose: examples share them.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_generated_requests_get_documented_answers_and_no_server_errors(
    case, demo_data, auth_headers
):
    aim_at_real_rows(case)
    case.call_and_validate(headers=auth_headers, checks=CHECKS)
