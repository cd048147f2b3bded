"""Settings behaviour that needs a fresh process: embedded database, production mode."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.processes import child_env

PROJECT_DIR = Path(settings.BASE_DIR)

PROBE = """
import django; django.setup()
from django.db import connection

from tests.processes import child_env
with connection.cursor() as c:
    c.execute("SHOW data_directory"); print(c.fetchone()[0])
    c.execute("SELECT pg_postmaster_start_time()"); print(c.fetchone()[0])
print(connection.settings_dict["ENGINE"])
"""


def clean_env(**extra) -> dict[str, str]:
    env = {
        k: v
        for k, v in child_env().items()
        if k not in {"DATABASE_URL", "HINDSIGHT_ENV", "SECRET_KEY", "ALLOWED_HOSTS"}
    }
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    env.update(extra)
    return env


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_DIR, env=clean_env(**env), capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.slow
def test_without_database_url_an_embedded_server_starts_in_the_data_folder(tmp_path):
    result = run_python(PROBE, HINDSIGHT_DATA_DIR=str(tmp_path))

    assert result.returncode == 0, result.stderr
    data_directory, _, engine = result.stdout.split("\n")[:3]
    assert Path(data_directory) == tmp_path / "pgdata"
    assert engine == "core.embedded_postgres"
    # The last process to leave stops the server: nothing keeps running.
    assert not (tmp_path / "pgdata" / "postmaster.pid").exists()


@pytest.mark.slow
def test_processes_share_one_embedded_server(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", PROBE + "\nimport time; time.sleep(8)"],
        cwd=PROJECT_DIR, env=clean_env(HINDSIGHT_DATA_DIR=str(tmp_path)),
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    first_line = holder.stdout.readline()  # the server is up once the holder has connected
    holder_started = holder.stdout.readline().strip()

    joiner = run_python(PROBE, HINDSIGHT_DATA_DIR=str(tmp_path))
    holder.wait(timeout=60)

    assert first_line.strip() == str(tmp_path / "pgdata")
    assert joiner.stdout.split("\n")[1] == holder_started  # same postmaster, not a second one


@pytest.mark.slow
def test_a_killed_process_does_not_keep_the_embedded_server_running(tmp_path):
    victim = subprocess.Popen(
        [sys.executable, "-c", PROBE + "\nimport time; time.sleep(60)"],
        cwd=PROJECT_DIR, env=clean_env(HINDSIGHT_DATA_DIR=str(tmp_path)),
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    victim.stdout.readline()  # connected: the server is up and the victim is on its list
    victim.kill()  # SIGKILL: no exit hooks run
    victim.wait()

    survivor = run_python(PROBE, HINDSIGHT_DATA_DIR=str(tmp_path))

    assert survivor.returncode == 0, survivor.stderr
    assert not (tmp_path / "pgdata" / "postmaster.pid").exists()


def test_the_test_suite_itself_runs_on_postgresql():
    assert connection.vendor == "postgresql"


def test_production_refuses_to_start_without_its_required_settings():
    result = run_python("import django; django.setup()", HINDSIGHT_ENV="production")

    assert result.returncode != 0
    assert "SECRET_KEY must be set when HINDSIGHT_ENV=production" in result.stderr


def test_production_refuses_a_weak_secret_key():
    result = run_python(
        "import django; django.setup()",
        HINDSIGHT_ENV="production",
        SECRET_KEY="short",
        ALLOWED_HOSTS="hindsight.example.com",
        DATABASE_URL="postgres://u@db.invalid/h",
    )

    assert "SECRET_KEY must be at least 50 random characters" in result.stderr


def test_a_non_postgresql_database_url_is_refused():
    result = run_python("import django; django.setup()", DATABASE_URL="sqlite:///db.sqlite3")

    assert result.returncode != 0
    assert "DATABASE_URL must point at PostgreSQL" in result.stderr


def test_production_settings_pass_the_deploy_checks():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT_DIR,
        env=clean_env(
            HINDSIGHT_ENV="production",
            SECRET_KEY="x7" * 40 + "abcdefghij",
            ALLOWED_HOSTS="hindsight.example.com",
            DATABASE_URL="postgres://hindsight@db.invalid/hindsight",
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


MAIL_PROBE = """
import django; django.setup()
from django.conf import settings
print(settings.EMAIL_BACKEND, getattr(settings, "EMAIL_HOST", ""), settings.EMAIL_PORT)
"""


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, "core.mail.FolderEmailBackend"),
        (
            {"EMAIL_URL": "smtp://mailer:secret@mail.example.com:2525"},
            "django.core.mail.backends.smtp.EmailBackend mail.example.com 2525",
        ),
        (
            {"EMAIL_HOST": "relay.example.com", "EMAIL_PORT": "587"},
            "django.core.mail.backends.smtp.EmailBackend relay.example.com 587",
        ),
    ],
)
def test_mail_goes_to_email_url_or_email_host_or_else_to_a_folder(env, expected, tmp_path):
    env = {"HINDSIGHT_DATA_DIR": str(tmp_path), **env}
    clean = {k: v for k, v in clean_env(**env).items() if k not in ("EMAIL_URL", "EMAIL_HOST")}
    result = subprocess.run(
        [sys.executable, "-c", MAIL_PROBE],
        cwd=PROJECT_DIR, env={**clean, **env}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.stdout.startswith(expected), result.stderr


CACHE_PROBE = """
import sys
import django; django.setup()
from django.core.cache import cache
if sys.argv[1] == "write":
    cache.set("shared-probe", "written by another process", 60)
print(cache.get("shared-probe"))
"""


def cache_probe(action: str, tmp_path, **env) -> str:
    env = {"HINDSIGHT_DATA_DIR": str(tmp_path), **env}
    clean = {k: v for k, v in clean_env(**env).items() if k != "CACHE_URL"}
    result = subprocess.run(
        [sys.executable, "-c", CACHE_PROBE, action],
        cwd=PROJECT_DIR, env={**clean, **env}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_cache_url_gives_every_process_one_cache(tmp_path):
    shared = {"CACHE_URL": f"filecache://{tmp_path / 'cache'}"}
    cache_probe("write", tmp_path, **shared)

    assert cache_probe("read", tmp_path, **shared) == "written by another process"
    # Without it, each process has its own: the throttle counts and pages are per process.
    cache_probe("write", tmp_path)
    assert cache_probe("read", tmp_path) == "None"


def test_a_digest_scan_interval_over_an_hour_is_refused():
    result = run_python("import django; django.setup()", DIGEST_SCAN_SECONDS="7200")

    assert result.returncode != 0
    assert "DIGEST_SCAN_SECONDS must be between 1 and 3600" in result.stderr


def test_beat_looks_for_due_digests_at_least_hourly():
    entry = settings.CELERY_BEAT_SCHEDULE["send-due-digests"]
    assert entry["task"] == "digests.tasks.enqueue_due_digests"
    assert 0 < entry["schedule"] <= 3600


def test_every_environment_variable_is_documented():
    import re

    source = (PROJECT_DIR / "config" / "settings.py").read_text()
    names = set(re.findall(r"""(?:env\.\w+|_require|_throttle_rate)\(\s*"([A-Z_]+)\"""", source))
    example = (PROJECT_DIR / ".env.example").read_text()
    readme = (PROJECT_DIR / "README.md").read_text()
    assert {n for n in names if f"{n}=" not in example} == set()
    assert {n for n in names if f"`{n}`" not in readme} == set()
