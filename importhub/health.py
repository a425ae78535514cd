"""Readiness of this instance: the database, the task broker, a live qcluster and the writable folders.

Each check answers a short reason that names the part and never a secret (no URL, host, password or
path: a folder is named by its setting), so /readyz can be open to load balancers.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connections
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.status import Stat

from imports.archive.storage import drive_configured

logger = logging.getLogger(__name__)

OK = "ok"
DRIVE = "drive"  # the archive goes to Google Drive: nothing local to check, and Google is not called


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, str]

    @property
    def ok(self) -> bool:
        return all(value in (OK, DRIVE) for value in self.checks.values())


def qclusters_live() -> int:
    """How many qclusters report themselves running: django-q2's cluster stats, which each cluster saves
    every guard cycle (0.5 s) with a 3-second expiry, in the cache (ORM broker) or in Redis."""
    running = {str(Conf.IDLE), str(Conf.WORKING)}
    return sum(1 for stat in Stat.get_all(broker=get_broker()) if str(stat.status) in running)


def _database() -> str:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not ready", whatever its class
        logger.warning("readiness: database unreachable: %s", exc)
        return f"unreachable ({type(exc).__name__})"
    return OK


def _broker() -> str:
    try:
        if Conf.ORM:
            # django-q2's ORM broker says True to ping without looking: read its table instead.
            OrmQ.objects.using(Conf.ORM).exists()
        elif not get_broker().ping():
            return "unreachable (redis)"
    except Exception as exc:
        logger.warning("readiness: broker unreachable: %s", exc)
        return f"unreachable ({'orm' if Conf.ORM else 'redis'}: {type(exc).__name__})"
    return OK


def _workers() -> str:
    try:
        live = qclusters_live()
    except Exception as exc:
        logger.warning("readiness: cluster stats unreadable: %s", exc)
        return f"unknown (cluster stats unreadable: {type(exc).__name__})"
    return OK if live else "no live qcluster"


def _writable(setting: str) -> str:
    """Create and delete a file in the folder (made if missing, as an upload or archive would)."""
    folder = Path(getattr(settings, setting))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".readyz-"):
            pass
    except OSError as exc:
        logger.warning("readiness: %s not writable: %s", setting, exc)
        return f"not writable ({setting})"
    return OK


def _archive() -> str:
    return DRIVE if drive_configured() else _writable("ARCHIVE_DIR")


CHECKS: dict[str, Callable[[], str]] = {
    "database": _database,
    "broker": _broker,
    "workers": _workers,
    "upload_dir": lambda: _writable("UPLOAD_DIR"),
    "archive_dir": _archive,
}


def readiness_check() -> Readiness:
    """Run every check; one failing does not stop the others, so the answer names every part that is down."""
    return Readiness(checks={name: check() for name, check in CHECKS.items()})
