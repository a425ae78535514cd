"""Real processes on the test database for the reliability suite: qcluster workers, gunicorn, and their logs.

Every process runs in its own process group (so a SIGKILL reaches all of a cluster's processes), writes
its output to a log file the failing assertion shows, and talks only to loopback addresses.
"""

from __future__ import annotations

import csv
import http.client
import json
import os
import re
import socket
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection

from benchmarks.processes import ChildProcess as Process
from benchmarks.processes import database_url, free_port

ROOT = Path(__file__).resolve().parents[2]
SALES_HEADER = ["distid", "dono", "dotanggal", "custid", "sku", "qty", "amount_jual", "exportdate"]
# django-q2 worker log lines: "Process-<hex> ready for work at <pid>" and "Process-<hex> processing <task name> ..."
_READY_RE = re.compile(r"(Process-\w+) ready for work at (\d+)")
_PROCESSING_RE = re.compile(r"(Process-\w+) processing (\S+) ")


def child_env(**overrides: str) -> dict[str, str]:
    """The environment of a child process: test settings on the test database, tasks through a broker."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "importhub.settings.test",
        "DATABASE_URL": database_url(),
        "Q_SYNC": "0",
        "PYTHONUNBUFFERED": "1",
    }
    env.update({key: str(value) for key, value in overrides.items()})
    return env


class QCluster(Process):
    """`manage.py qcluster` on the test database; `env` overrides the settings (Q_WORKERS, REDIS_URL...)."""

    def __init__(self, log: Path, **env: str):
        defaults = {
            "Q_WORKERS": "2",
            "Q_POLL": "0.2",
            "Q_TIMEOUT": "120",
            # How soon the ORM broker hands a task whose worker died to another worker.
            "Q_RETRY": "8",
        }
        super().__init__(
            [sys.executable, "manage.py", "qcluster"], log=log, env=child_env(**{**defaults, **env})
        )

    def ready(self) -> bool:
        return "running." in self.log()

    def worker_pids(self) -> dict[str, int]:
        """Worker process name -> pid, from the workers' 'ready for work' lines."""
        return dict((name, int(pid)) for name, pid in _READY_RE.findall(self.log()))

    def processing(self) -> list[tuple[str, str]]:
        """(worker name, task name) for every task a worker of this cluster started, in order."""
        return _PROCESSING_RE.findall(self.log())


class Gunicorn(Process):
    """`gunicorn importhub.wsgi` on a free loopback port."""

    def __init__(self, log: Path, *, workers: int = 2, **env: str):
        self.port = free_port()
        super().__init__(
            [
                sys.executable, "-m", "gunicorn", "importhub.wsgi",
                "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers), "--timeout", "120",
                "--access-logfile", "-", "--no-control-socket",
            ],
            log=log,
            env=child_env(**env),
        )  # fmt: skip

    def ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False


def wait_for(predicate, *, timeout: float, what: str, logs: tuple[Process, ...] = (), interval: float = 0.1):
    """Poll until `predicate()` is truthy and return it; on timeout fail with the processes' log tails."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    tails = "\n".join(f"--- {p.log_path.name}:\n{p.log()[-3000:]}" for p in logs)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{tails}")


def sales_csv(path: Path, *, rows: int, tag: str) -> Path:
    """A valid sales file whose `dono` values are unique across files (`tag` makes them so)."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(SALES_HEADER)
        for n in range(rows):
            writer.writerow(
                ["31001", f"{tag}-{n:07d}", f"2026-10-{1 + n % 28:02d}", f"C{n % 977:05d}", f"{n % 900:05d}",
                 str(1 + n % 13), f"{n % 5000}.25", "2026-10-31 23:00:00"]
            )  # fmt: skip
    return path


def rows_of_job(table: str, job_id: int) -> int:
    with connection.cursor() as cursor:
        quote_name = connection.ops.quote_name
        cursor.execute(f"SELECT COUNT(*) FROM {quote_name(table)} WHERE import_job_id = %s", [job_id])
        return cursor.fetchone()[0]


def rows_total(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
        return cursor.fetchone()[0]


def repeated_values(table: str, column: str) -> list[tuple]:
    """Values of `column` stored more than once (a file imported twice shows here)."""
    quote_name = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote_name(column)}, COUNT(*) FROM {quote_name(table)} "
            f"GROUP BY {quote_name(column)} HAVING COUNT(*) > 1"
        )
        return list(cursor.fetchall())


@dataclass
class Answer:
    status: int
    body: dict
    seconds: float


def post_files(
    port: int, *, token: str, files: list[tuple[str, bytes]], fields: dict[str, str], timeout: float = 120
) -> Answer:
    """POST /api/import as multipart/form-data with token authentication; time the whole exchange."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for filename, content in files:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{filename}"\r\n'
            "Content-Type: text/csv\r\n\r\n".encode()
            + content
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    headers = {
        "Authorization": f"Token {token}",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Accept": "application/json",
    }
    return request(port, "POST", "/api/import", body=body, headers=headers, timeout=timeout)


def request(
    port: int, method: str, path: str, *, body: bytes | None = None, headers: dict, timeout: float = 60
) -> Answer:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    seconds = time.perf_counter() - started
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        parsed = {"raw": raw[:500].decode(errors="replace")}
    return Answer(status=response.status, body=parsed, seconds=seconds)
