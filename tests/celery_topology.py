"""The production topology without Docker: Airflow with the CeleryExecutor on this machine.

Starts the same services docker-compose.yaml runs: PostgreSQL metadata (a throwaway
database on the local server), Redis as the broker, the api-server (Airflow 3 workers talk
to its execution API), the scheduler, the dag-processor and two Celery workers, each a
separate process with its own log. Used by the Celery integration test and by
``bench/bench_workers.py``. Processes are stopped with SIGINT, then SIGTERM, then SIGKILL,
as a process group, so nothing is left behind.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("RHP_TEST_PG_URL", "postgresql+psycopg://postgres@localhost:5432/postgres")
REDIS_URL = os.environ.get("RHP_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_available() -> str | None:
    host, port = REDIS_URL.removeprefix("redis://").split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2) as s:
            s.sendall(b"PING\r\n")
            return None if s.recv(16).startswith(b"+PONG") else "Redis did not answer PING"
    except OSError as exc:
        return f"Redis not reachable at {REDIS_URL}: {exc}"


class LocalTopology:
    """Context manager: a running CeleryExecutor Airflow with ``workers`` Celery workers."""

    def __init__(self, home: Path, dags_folder: Path, workers: int = 2, extra_env: dict[str, str] | None = None,
                 worker_concurrency: int = 2):
        self.home = home
        self.dags_folder = dags_folder
        self.workers = workers
        self.worker_concurrency = worker_concurrency
        self.extra_env = extra_env or {}
        self.db_name = f"rhp_af_{uuid.uuid4().hex[:8]}"
        self.db_url = PG_ADMIN.rsplit("/", 1)[0] + f"/{self.db_name}"
        self.redis_db = 1 + int(uuid.uuid4().int % 14)
        self.port = free_port()
        self.procs: dict[str, subprocess.Popen] = {}
        self.jwt_secret = uuid.uuid4().hex  # every process must share it, or workers get "Invalid auth token"

    # -- environment -------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.db_url,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": self.db_url,
            "AIRFLOW__CELERY__BROKER_URL": f"{REDIS_URL}/{self.redis_db}",
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + self.db_url,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "RHP_WORKER_NAME": "",
            "PYTHONPATH": os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        })
        env.update(self.extra_env)
        return env

    def airflow(self, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "airflow", *args], env=self.env(), capture_output=True,
                              text=True, timeout=timeout)

    # -- lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> LocalTopology:
        self.home.mkdir(parents=True, exist_ok=True)
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{self.db_name}"'))
        admin.dispose()
        r = self.airflow("db", "migrate", timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed: {r.stderr[-2000:]}")
        self.start("api-server", "api-server", "--port", str(self.port), "--host", "127.0.0.1")
        self.start("scheduler", "scheduler")
        self.start("dag-processor", "dag-processor")
        for i in range(1, self.workers + 1):
            self.start(f"worker{i}", "celery", "worker", "--celery-hostname", f"worker{i}@%h",
                       "--concurrency", str(self.worker_concurrency),
                       env={"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()), "RHP_WORKER_NAME": f"worker{i}"})
        self.wait_api()
        return self

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        log = open(self.home / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        self.procs[name] = subprocess.Popen([sys.executable, "-m", "airflow", *args], env={**self.env(), **(env or {})},
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_api(self, timeout: float = 120) -> None:
        import urllib.request

        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v2/monitor/health", timeout=2).close()
                return
            except OSError:
                self.check_alive()
                time.sleep(1)
        raise TimeoutError(f"api-server not healthy after {timeout}s; see {self.home}/api-server.log")

    def check_alive(self) -> None:
        for name, p in self.procs.items():
            if p.poll() is not None:
                tail = (self.home / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited with {p.returncode}:\n{tail}")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        os.killpg(self.procs[name].pid, sig)
        self.procs[name].wait(timeout=30)

    def __exit__(self, *exc: object) -> None:
        for sig, wait in ((signal.SIGINT, 15), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            alive = [p for p in self.procs.values() if p.poll() is None]
            for p in alive:
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    pass
            end = time.time() + wait
            while time.time() < end and any(p.poll() is None for p in alive):
                time.sleep(0.3)
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)'))
        admin.dispose()

    # -- driving DAGs ------------------------------------------------------------------
    def metadata(self) -> sa.Engine:
        return sa.create_engine(self.db_url)

    def wait_dags_parsed(self, dag_ids: list[str], timeout: float = 180) -> None:
        eng = self.metadata()
        deadline = time.time() + timeout
        try:
            while time.time() < deadline:
                with eng.connect() as c:
                    have = {r[0] for r in c.execute(sa.text("SELECT dag_id FROM dag WHERE NOT is_stale"))}
                if set(dag_ids) <= have:
                    return
                self.check_alive()
                time.sleep(2)
        finally:
            eng.dispose()
        raise TimeoutError(f"DAGs not parsed in {timeout}s: {set(dag_ids) - have}")

    def trigger(self, dag_id: str, conf: dict, logical_date: str) -> str:
        run_id = f"it_{dag_id}_{logical_date[:10]}_{uuid.uuid4().hex[:6]}"
        r = self.airflow("dags", "trigger", dag_id, "--run-id", run_id, "--logical-date", logical_date,
                         "--conf", json.dumps(conf))
        if r.returncode != 0:
            raise RuntimeError(f"trigger {dag_id} failed: {r.stderr[-2000:]}")
        return run_id

    def wait_runs(self, timeout: float = 600, settle: float = 10) -> list[tuple[str, str, str]]:
        """Wait until no DAG run is queued or running for ``settle`` seconds; return (dag, run, state)."""
        eng = self.metadata()
        deadline, quiet_since = time.time() + timeout, None
        try:
            while time.time() < deadline:
                with eng.connect() as c:
                    rows = [tuple(r) for r in c.execute(sa.text("SELECT dag_id, run_id, state FROM dag_run"))]
                busy = [r for r in rows if r[2] in ("queued", "running")]
                if rows and not busy:
                    quiet_since = quiet_since or time.time()
                    if time.time() - quiet_since >= settle:
                        return rows
                else:
                    quiet_since = None
                self.check_alive()
                time.sleep(2)
        finally:
            eng.dispose()
        raise TimeoutError(f"DAG runs still busy after {timeout}s: {busy}")

    def task_hosts(self) -> dict[str, int]:
        """How many task instances each worker ran (proves the work spread across workers)."""
        eng = self.metadata()
        with eng.connect() as c:
            rows = c.execute(sa.text("SELECT hostname, COUNT(*) FROM task_instance WHERE state = 'success' "
                                     "GROUP BY hostname")).all()
        eng.dispose()
        return {str(h): int(n) for h, n in rows}
