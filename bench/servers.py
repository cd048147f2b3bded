"""Start Hindsight and the floor under gunicorn, with the same settings, for ``bench/run``.

Hindsight runs as in production (``HINDSIGHT_ENV=production``, a generated ``SECRET_KEY``,
``DEBUG`` off, WhiteNoise over a fresh ``collectstatic``), except that plain HTTP is allowed
(``SECURE_SSL_REDIRECT=false``: the bench talks to gunicorn directly, with no TLS proxy) and the
API throttle is raised so a long run is never answered 429 (the throttle still runs).
Both servers log each request's id (the ``X-Bench-Id`` header) and its duration in
microseconds (gunicorn's ``%(D)s``: from the parsed request to the last byte written), which
gives the server time of every request without changing the app.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import common

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
# 2 sync workers: one per core. The database shares the 2 cores, and requests are measured
# one at a time, so more workers would only add memory.
WORKERS = 2
# Long enough that a slow page is measured rather than killed by gunicorn (default 30 s).
TIMEOUT = 600
ACCESS_FORMAT = "%({x-bench-id}i)s %(s)s %(D)s"


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    port: int
    access_log: Path
    error_log: Path
    server_us: dict[str, int] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def read_access_log(self) -> dict[str, int]:
        """Request id → server time in microseconds, from the access log."""
        for line in self.access_log.read_text().splitlines():
            bench_id, _, micros = line.split(" ")
            if bench_id != "-":
                self.server_us[bench_id] = int(micros)
        return self.server_us

    def worker_rss_mib(self) -> list[float]:
        import psutil

        children = psutil.Process(self.process.pid).children()
        return [child.memory_info().rss / 2**20 for child in children]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(database_url: str, secret_key: str, workdir: Path) -> dict[str, str]:
    """The environment of a production deployment on this machine, pointed at the bench DB."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        HINDSIGHT_ENV="production",
        SECRET_KEY=secret_key,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=database_url,
        DEBUG="false",
        SECURE_SSL_REDIRECT="false",
        STATIC_ROOT=str(workdir / "static"),
        # Messages the app queues (an import job) land in this run's own folder, where no
        # development worker picks them up; the bench runs the job itself.
        HINDSIGHT_DATA_DIR=str(workdir / "data"),
        API_THROTTLE_USER="100000000/hour",
        # A cache both workers share, as a deployment with several workers configures one:
        # a file cache on this machine, so the bench needs no server of its own.
        CACHE_URL=f"filecache://{workdir / 'cache'}",
        LOG_LEVEL="WARNING",
    )
    return env


def collectstatic(env: dict[str, str], code: Path) -> None:
    # WhiteNoise's manifest storage refuses to render a page whose assets were not collected.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=code,
        env=env,
        check=True,
    )


def start(name: str, app: str, chdir: Path, env: dict[str, str], workdir: Path) -> Server:
    port = free_port()
    access, errors = workdir / f"{name}-access.log", workdir / f"{name}-error.log"
    command = [
        GUNICORN, app, "--chdir", str(chdir), "--bind", f"127.0.0.1:{port}",
        "--workers", str(WORKERS), "--worker-class", "sync", "--timeout", str(TIMEOUT),
        "--access-logfile", str(access), "--access-logformat", ACCESS_FORMAT,
        "--error-logfile", str(errors),
        # Two servers at once: the default control socket path would be shared.
        "--no-control-socket",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)
    return Server(name, process, port, access, errors)


def wait_ready(server: Server, path: str, seconds: float = 60) -> None:
    """Until the server answers ``path`` (each worker imports the app on its first request)."""
    import http.client

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"{server.name} exited; see {server.error_log}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            conn.request("GET", path)
            if conn.getresponse().status < 500:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{server.name} did not answer within {seconds:.0f} s; see {server.error_log}")


def start_both(
    database_url: str, secret_key: str, workdir: Path, code: Path
) -> tuple[Server, Server]:
    """Hindsight (the checkout at ``code``, production settings) and the floor, each under the
    same gunicorn settings."""
    env = production_env(database_url, secret_key, workdir)
    collectstatic(env, code)
    hindsight = start("hindsight", "config.wsgi:application", code, env, workdir)
    floor_env = {**os.environ, "FLOOR_DATABASE_URL": database_url}
    floor = start("floor", "floor:application", common.ROOT / "bench", floor_env, workdir)
    wait_ready(hindsight, "/accounts/login/")
    wait_ready(floor, "/ping")
    return hindsight, floor
