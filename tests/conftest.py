import os
from importlib import import_module

import pytest

from postmortems.choices import Role
from tests.factories import UserFactory


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """HINDSIGHT_TEST_DB_SUFFIX gives this run a test database of its own, so two suites
    can run side by side on one server (each worker process is handed the same name)."""
    from django.conf import settings

    suffix = os.environ.get("HINDSIGHT_TEST_DB_SUFFIX", "")
    if suffix:
        test = settings.DATABASES["default"].setdefault("TEST", {})
        test["NAME"] = f"test_{settings.DATABASES['default']['NAME']}_{suffix}"


@pytest.fixture
def viewer(db):
    return UserFactory(username="viewer", role=Role.VIEWER)


@pytest.fixture
def author(db):
    return UserFactory(username="author", role=Role.AUTHOR)


@pytest.fixture
def other_author(db):
    return UserFactory(username="other-author", role=Role.AUTHOR)


@pytest.fixture
def reviewer(db):
    return UserFactory(username="reviewer", role=Role.REVIEWER)


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", role=Role.ADMIN)


def broker_options(data_dir) -> dict:
    folder = data_dir / "celery"
    return {
        "data_folder_in": str(folder / "messages"),
        "data_folder_out": str(folder / "messages"),
        "control_folder": str(folder / "control"),
    }


@pytest.fixture
def test_broker(tmp_path, settings):
    """Point this process's Celery app at the broker the test's workers consume from.

    With the embedded filesystem broker that is a folder under the test's own
    data folder (so no developer's running worker can take the messages); a
    configured CELERY_BROKER_URL (Redis, RabbitMQ) is used as it is.
    """
    from config.celery import app

    if settings.CELERY_BROKER_URL != "filesystem://":
        # A shared broker keeps what earlier tests' beats queued and no worker took:
        # start each test from an empty queue.
        app.control.purge()
        yield app
        return
    for folder in ("messages", "control"):
        (tmp_path / "celery" / folder).mkdir(parents=True, exist_ok=True)
    previous = app.conf.broker_transport_options
    app.conf.broker_transport_options = broker_options(tmp_path)
    reset_connections(app)
    yield app
    app.conf.broker_transport_options = previous
    reset_connections(app)


def reset_connections(app) -> None:
    # Pooled connections (and producers on them) carry the old transport options.
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def start_worker(tmp_path, transactional_db, test_broker):
    """Start real Celery workers on the test database; they are stopped after the test."""
    from tests.processes import WorkerProcess, process_env

    workers = []

    def start(*args: str, **env: str) -> WorkerProcess:
        worker = WorkerProcess(
            process_env(tmp_path, **env), tmp_path / f"worker-{len(workers)}.log", *args
        )
        workers.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def broker_connection(test_broker):
    """A connection to the same broker the started workers consume from."""
    with test_broker.connection_for_write() as conn:
        yield conn


# The data migrations that seed reference rows, and their forward functions.
REFERENCE_DATA = [
    ("postmortems.migrations.0002_seed_taxonomy", "seed"),
    ("postmortems.migrations.0003_create_roles", "create_roles"),
    ("timeline.migrations.0002_grant_roles", "grant"),
]


@pytest.fixture
def reference_data(transactional_db):
    """Transactional tests empty every table after they run, taxonomy and roles included;
    put the seeded rows back (the migrations' own functions, which are idempotent)."""
    from django.apps import apps

    for module, function in REFERENCE_DATA:
        getattr(import_module(module), function)(apps, None)
