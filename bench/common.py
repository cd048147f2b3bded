"""Shared set-up of the bench scripts: which database they use, and Django on top of it.

The scripts never touch the developer's ``hindsight`` database or the test databases: by
default they use a dedicated ``hindsight_bench`` database on the server the project uses
(the embedded one, or the server of ``DATABASE_URL``), created and migrated on first use.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATABASE = "hindsight_bench"
# Databases the scripts refuse to write into, whatever URL they are given.
PROTECTED = ("hindsight", "postgres", "template0", "template1")

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def bench_database_url(explicit: str | None) -> str:
    """``explicit``, or the URL of ``hindsight_bench`` on the server the project uses."""
    if explicit:
        url = explicit
    else:
        import environ

        # The project reads .env too; read it first so DATABASE_URL from it is honoured.
        environ.Env.read_env(ROOT / ".env", overwrite=False)
        base = os.environ.get("DATABASE_URL") or _embedded_server_url()
        url = urlunsplit(urlsplit(base)._replace(path=f"/{BENCH_DATABASE}"))
    name = urlsplit(url).path.lstrip("/")
    if not name or name in PROTECTED or name.startswith("test_"):
        raise SystemExit(f"Refusing to write into database {name!r}: use a dedicated one.")
    return url


def _embedded_server_url() -> str:
    # Joining the embedded server keeps it running for as long as this process lives.
    from core.embedded_postgres import ensure_server

    data_dir = (ROOT / os.environ.get("HINDSIGHT_DATA_DIR", "var")).resolve()
    with warnings.catch_warnings():
        # pgserver asks for a runtime folder; without XDG_RUNTIME_DIR it warns and uses /tmp.
        warnings.simplefilter("ignore")
        server = ensure_server(str(data_dir / "pgdata"))
    return f"postgres://postgres@{quote(server['host'], safe='')}:{server['port']}/postgres"


def create_database(url: str) -> bool:
    """Create the URL's database if it is missing; True when it was created."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def setup_django(url: str) -> None:
    """Point the project's settings at ``url`` and start Django."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # Measure what production runs: DEBUG keeps every statement's SQL in memory.
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
