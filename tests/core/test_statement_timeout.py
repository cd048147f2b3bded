"""A web request whose statement runs past the statement timeout answers 503, never 500.

The requests run as a web process runs them: in autocommit, with no test transaction around
them (a transactional database), and with the timeout on the connection. Real pages are made
slow by a ``pg_sleep`` run before their first read of incidents.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from contextlib import contextmanager

import pytest
from django.db import connection, transaction
from django.http import HttpResponse
from django.test import Client
from django.urls import path

import config.urls
from accounts.models import TokenScope
from accounts.tokens import create_token
from postmortems.choices import Role
from postmortems.models import Vendor
from tests.factories import IncidentFactory, UserFactory
from tests.processes import PROJECT_DIR, process_env

# Long enough for every other statement of a request on a busy machine; the sleep is longer
# still, so only the timeout can end it.
TIMEOUT = "200ms"
SLEEP = "SELECT pg_sleep(5)"
READS_INCIDENTS = 'FROM "postmortems_incident"'


@pytest.fixture
def reader(reference_data):
    IncidentFactory()  # something for the list to show
    return UserFactory(username="reader", role=Role.VIEWER)


@pytest.fixture
def signed_in(reader) -> Client:
    client = Client()
    client.force_login(reader)
    return client


@pytest.fixture
def statement_timeout(reference_data):
    """The web processes' statement timeout, tiny, on this test's connection."""
    with connection.cursor() as cursor:
        cursor.execute(f"SET statement_timeout = '{TIMEOUT}'")
    yield
    with connection.cursor() as cursor:
        cursor.execute("RESET statement_timeout")


@contextmanager
def before_reading_incidents(statement: str):
    """Run ``statement`` before each query that reads the incidents table."""

    def run_first(execute, sql, params, many, context):
        if READS_INCIDENTS in sql:
            execute(statement, None, False, context)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(run_first):
        yield


def slow_write(request):
    """Writes, then runs too long, inside a transaction (as a service's atomic write does)."""
    with transaction.atomic():
        Vendor.objects.create(name="Rolled back", slug="rolled-back")
        with connection.cursor() as cursor:
            cursor.execute(SLEEP)
    return HttpResponse("finished")


def slow_read(request):
    with connection.cursor() as cursor:
        cursor.execute(SLEEP)
    return HttpResponse("finished")


urlpatterns = [
    path("slow-write/", slow_write),
    # Under /api/ but not a DRF view: answered by the middleware, in the API's shape.
    path("api/slow-read/", slow_read),
    *config.urls.urlpatterns,
]


def request_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "django.request"]


def test_a_page_that_runs_too_long_answers_503_asking_to_narrow_the_search(
    signed_in, statement_timeout, caplog
):
    with before_reading_incidents(SLEEP), caplog.at_level(logging.WARNING):
        response = signed_in.get("/", {"q": "outage"})

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    page = response.content.decode()
    assert "This page took too long" in page
    assert "Narrow the search or the filters" in page
    assert 'class="site-nav"' in page and ">reader<" in page  # the site's page, signed in
    [record] = request_records(caplog)
    assert (record.levelname, record.getMessage()) == ("WARNING", "Statement timeout: /")


def test_the_api_answers_503_in_its_error_shape(reader, statement_timeout, caplog):
    _, key = create_token(user=reader, name="tests", scope=TokenScope.READ)
    client = Client(headers={"Authorization": f"Bearer {key}"})

    with before_reading_incidents(SLEEP), caplog.at_level(logging.WARNING):
        response = client.get("/api/incidents/")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "30"
    assert_timeout_error(response)
    [record] = request_records(caplog)
    assert (record.levelname, record.getMessage()) == (
        "WARNING",
        "Statement timeout: /api/incidents/",
    )


def assert_timeout_error(response) -> None:
    error = json.loads(response.content)["error"]
    assert (error["status"], error["code"], error["fields"]) == (503, "query_timeout", {})
    assert "took too long" in error["message"]


def test_an_api_path_outside_drf_answers_503_in_the_api_error_shape(
    signed_in, statement_timeout, settings
):
    settings.ROOT_URLCONF = __name__

    response = signed_in.get("/api/slow-read/")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "30"
    assert_timeout_error(response)


def test_an_htmx_request_gets_a_fragment(signed_in, statement_timeout):
    with before_reading_incidents(SLEEP):
        response = signed_in.get("/", headers={"HX-Request": "true"})

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    fragment = response.content.decode().strip()
    assert fragment.startswith('<p class="message message-error" role="alert">')
    assert "Narrow the search or the filters" in fragment
    assert "<html" not in fragment and "site-nav" not in fragment


def test_a_write_that_runs_too_long_is_rolled_back_and_answers_503(
    signed_in, statement_timeout, settings
):
    settings.ROOT_URLCONF = __name__

    response = signed_in.get("/slow-write/")

    assert response.status_code == 503
    assert "This page took too long" in response.content.decode()
    assert not Vendor.objects.filter(slug="rolled-back").exists()


@pytest.mark.parametrize("url", ["/", "/api/incidents/"])
def test_any_other_database_error_is_still_a_500(reader, statement_timeout, url, caplog):
    client = Client(raise_request_exception=False)
    client.force_login(reader)

    with before_reading_incidents("SELEC 1"), caplog.at_level(logging.WARNING):
        response = client.get(url)

    assert response.status_code == 500
    assert "Retry-After" not in response
    assert {r.levelname for r in request_records(caplog)} == {"ERROR"}
    assert "syntax error" in caplog.text


# --- Which processes have the timeout ------------------------------------------------------

SHOW_TIMEOUT = """
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("SHOW statement_timeout")
    print(cursor.fetchone()[0])
"""
# gunicorn imports the WSGI application, which loads settings.
WEB = "import os, config.wsgi\nprint('HINDSIGHT_WEB_PROCESS' in os.environ)\n" + SHOW_TIMEOUT
# A worker loads settings through the Celery app's Django fix-up.
WORKER = "from config.celery import app\napp.loader.import_default_modules()\n" + SHOW_TIMEOUT


def run_python(args: list[str], tmp_path, **env: str) -> subprocess.CompletedProcess:
    """Python in a fresh process on the test database, WEB_STATEMENT_TIMEOUT as given or unset."""
    environment = process_env(tmp_path)
    environment.pop("WEB_STATEMENT_TIMEOUT", None)
    environment.update(env)
    return subprocess.run(
        [sys.executable, *args],
        cwd=PROJECT_DIR, env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def run(args: list[str], tmp_path, **env: str) -> list[str]:
    result = run_python(args, tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.mark.parametrize(
    "env, timeout", [({}, "15s"), ({"WEB_STATEMENT_TIMEOUT": "2500"}, "2500ms")]
)
def test_web_processes_have_the_statement_timeout(db, tmp_path, env, timeout):
    # The mark that made this a web process is not handed on to processes it starts.
    assert run(["-c", WEB], tmp_path, **env) == ["False", timeout]


def test_a_web_statement_timeout_of_zero_turns_it_off(db, tmp_path):
    assert run(["-c", WEB], tmp_path, WEB_STATEMENT_TIMEOUT="0") == ["False", "0"]


@pytest.mark.parametrize(
    "args",
    [["-c", WORKER], ["manage.py", "shell", "--no-imports", "-c", SHOW_TIMEOUT]],
    ids=["celery worker", "management command"],
)
def test_workers_and_management_commands_have_none(db, tmp_path, args):
    assert run(args, tmp_path, WEB_STATEMENT_TIMEOUT="2500") == ["0"]


PRINT_OPTIONS = "from django.conf import settings\nprint(settings.DATABASES['default']['OPTIONS'])"
PRODUCTION = {
    "HINDSIGHT_ENV": "production",
    "SECRET_KEY": "x7" * 40 + "abcdefghij",
    "ALLOWED_HOSTS": "hindsight.example.com",
    # Options the URL gives are kept.
    "DATABASE_URL": "postgres://hindsight@db.invalid/hindsight?options=-c%20search_path%3Dpublic",
}


def test_production_web_settings_add_the_timeout_to_the_connection_options(tmp_path):
    web = run(["-c", "import config.wsgi\n" + PRINT_OPTIONS], tmp_path, **PRODUCTION)
    other = run(["-c", "import django; django.setup()\n" + PRINT_OPTIONS], tmp_path, **PRODUCTION)

    assert " ".join(web) == "{'options': '-c search_path=public -c statement_timeout=15000'}"
    assert " ".join(other) == "{'options': '-c search_path=public'}"


def test_a_negative_web_statement_timeout_is_refused(tmp_path):
    result = run_python(["-c", "import config.wsgi"], tmp_path, WEB_STATEMENT_TIMEOUT="-1")

    assert result.returncode != 0
    assert "WEB_STATEMENT_TIMEOUT must be 0 (no timeout) or more" in result.stderr
