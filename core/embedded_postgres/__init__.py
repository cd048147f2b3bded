"""The embedded PostgreSQL server used when ``DATABASE_URL`` is unset.

The ``pgserver`` wheel ships PostgreSQL's binaries. The server keeps its data
in one folder of the checkout, listens only on a Unix socket, and is shared by
every process (web, worker, beat, management commands, tests): the first
process to connect starts it, and pgserver stops it when the last one exits.

Used as a Django database ENGINE: ``"ENGINE": "core.embedded_postgres"``.
"""

import atexit
import warnings
from functools import cache
from pathlib import Path


@cache
def ensure_server(pgdata: str) -> dict[str, str]:
    """Start (or join) the server for ``pgdata`` and return libpq connection params."""
    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime folder at import; without
        # XDG_RUNTIME_DIR (CI, containers) that warns and falls back to /tmp.
        warnings.simplefilter("ignore")
        import pgserver

    path = Path(pgdata).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    forget_dead_handles(path)
    server = pgserver.get_server(path, cleanup_mode="stop")
    # Registered after pgserver's own exit hook, so it runs first (LIFO).
    atexit.register(forget_dead_handles, path)
    info = server.get_postmaster_info()
    return {"host": str(info.socket_dir), "port": str(info.port)}


def forget_dead_handles(pgdata: Path) -> None:
    """Drop processes that died without saying goodbye from pgserver's list of users.

    pgserver stops the server when the last process on its list exits; a
    process killed without running exit hooks (a Celery pool child, kill -9)
    would otherwise stay on the list and keep the server running for ever.
    """
    import psutil
    from pgserver.postgres_server import PostgresServer
    from pgserver.utils import DiskList

    if not pgdata.exists():
        return
    with PostgresServer._lock:
        handles = DiskList(pgdata / ".handle_pids.json")
        alive = [pid for pid in handles.get() if psutil.pid_exists(pid)]
        if alive != handles.get():
            handles.put(alive)


@cache
def create_database(pgdata: str, name: str) -> None:
    """Create database ``name`` on the embedded server if it does not exist yet."""
    import psycopg
    from psycopg import sql

    params = ensure_server(pgdata)
    with psycopg.connect(dbname="postgres", user="postgres", autocommit=True, **params) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
