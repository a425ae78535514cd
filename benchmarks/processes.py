"""Helpers for commands (and tests) that run the app in child processes: web servers, qclusters."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection


def database_url() -> str:
    """The database this process is on, as a DATABASE_URL for its child processes (a test run's renamed
    test database included)."""
    db = connection.settings_dict
    if connection.vendor == "mysql":
        user = quote(db["USER"] or "", safe="")
        password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
        return f"mysql://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 3306}/{db['NAME']}"
    return f"sqlite:///{Path(db['NAME']).resolve()}"


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ChildProcess:
    """`manage.py ...` (or any command) in its own process group, its output appended to `log`."""

    def __init__(self, args: list[str], *, log: Path, env: dict[str, str]):
        self.log_path = log
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            args,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, size: int = 3000) -> str:
        return self.log()[-size:]

    def kill(self) -> None:
        """SIGKILL the whole group: no handler runs, no transaction commits (a machine losing power)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM to the leader, which stops its own children; then SIGKILL whatever of the group is left."""
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        self._log.close()
