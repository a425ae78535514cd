"""Helpers for commands (and tests) that run the app in child processes: web servers, qclusters."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import quote

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
