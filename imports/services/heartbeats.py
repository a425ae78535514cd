"""Import heartbeats: a running job's last sign of life and its progress, in the JobHeartbeat table.

A table, not the cache: nothing evicts a row, every web and worker process sees the same rows on every
configuration, and the row goes when the job ends. The import runs in one long transaction (on MySQL and
MariaDB its writes are invisible to others until it commits), so a heartbeat is written on a connection of
its own, in autocommit, one per thread. A heartbeat that cannot be written (SQLite busy, server gone) is
skipped: the next chunk writes one, and the import itself never fails for it.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import os
import threading

from django.db import DatabaseError, IntegrityError, connection
from django.db.utils import load_backend
from django.utils import timezone

from ..models import JobHeartbeat

logger = logging.getLogger(__name__)

# How long a heartbeat waits for a lock before it is skipped: far below a chunk's time, so a busy database
# never slows the import down.
SQLITE_LOCK_WAIT_SECONDS = 0.25
MYSQL_LOCK_WAIT_SECONDS = 2

_local = threading.local()


def _own_connection():
    """This thread's autocommit connection to the default database (the test database under pytest)."""
    wrapper = getattr(_local, "wrapper", None)
    if wrapper is not None and _local.pid == os.getpid():
        wrapper.close_if_unusable_or_obsolete()
        return wrapper
    settings_dict = copy.deepcopy(connection.settings_dict)
    if connection.vendor == "sqlite":
        settings_dict.setdefault("OPTIONS", {})["timeout"] = SQLITE_LOCK_WAIT_SECONDS
        settings_dict["OPTIONS"].pop("transaction_mode", None)
    wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, "importhub-heartbeat")
    _local.wrapper, _local.pid = wrapper, os.getpid()
    return wrapper


def _writer():
    """The connection a heartbeat is written on now, or None when none can be.

    MySQL/MariaDB outside a transaction: the default connection (its write is seen at once). Inside the
    import's transaction: a connection of its own. SQLite: a connection of its own with a short lock wait, so
    another job's copy holding the write lock delays no import; but none inside a transaction of the default
    connection, which holds the only write lock itself (BEGIN IMMEDIATE) and so keeps the stale-job scan
    from acting on the job until it commits. Inside a test case's transaction nothing outside can see the
    job anyway: the default connection then.
    """
    in_test_case = connection.in_atomic_block and getattr(
        connection.atomic_blocks[0], "_from_testcase", False
    )
    if in_test_case:
        return connection
    if connection.vendor == "sqlite":
        return None if connection.in_atomic_block and _sqlite_holds_write_lock() else _own_connection()
    return _own_connection() if connection.in_atomic_block else connection


def _sqlite_holds_write_lock() -> bool:
    mode = (connection.settings_dict.get("OPTIONS", {}).get("transaction_mode") or "").upper()
    return mode in ("IMMEDIATE", "EXCLUSIVE")


def job_heartbeat_write(*, job_id: int, processed_rows: int, at: dt.datetime | None = None) -> bool:
    """Record that the job's import is alive and how far it got; False when it could not be written."""
    writer = _writer()
    if writer is None:
        logger.debug("Job %s: heartbeat not written, this transaction holds SQLite's write lock.", job_id)
        return False
    table = writer.ops.quote_name(JobHeartbeat._meta.db_table)
    beat_at = writer.ops.adapt_datetimefield_value(at or timezone.now())
    try:
        if writer is not connection:
            writer.ensure_connection()
            # Per database session: a heartbeat that failed closed it, and CONN_MAX_AGE renews it.
            if (
                writer.vendor == "mysql"
                and getattr(writer, "_heartbeat_session", None) is not writer.connection
            ):
                with writer.cursor() as cursor:
                    cursor.execute(f"SET SESSION innodb_lock_wait_timeout = {MYSQL_LOCK_WAIT_SECONDS}")
                writer._heartbeat_session = writer.connection
        with writer.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET beat_at = %s, processed_rows = %s WHERE job_id = %s",
                [beat_at, processed_rows, job_id],
            )
            if cursor.rowcount == 0:
                try:
                    cursor.execute(
                        f"INSERT INTO {table} (job_id, beat_at, processed_rows) VALUES (%s, %s, %s)",
                        [job_id, beat_at, processed_rows],
                    )
                except IntegrityError:
                    pass  # written meanwhile by the same job's other thread: it is alive either way
    except DatabaseError as exc:
        logger.debug("Job %s: heartbeat not written (%s); the next chunk writes one.", job_id, exc)
        if writer is not connection:
            writer.close()
        return False
    return True


def job_heartbeats_get(job_ids) -> dict[int, JobHeartbeat]:
    """The heartbeats of these jobs that exist, by job id."""
    return {beat.job_id: beat for beat in JobHeartbeat.objects.filter(job_id__in=list(job_ids))}


def job_heartbeat_get(job_id: int) -> JobHeartbeat | None:
    return JobHeartbeat.objects.filter(job_id=job_id).first()


def job_heartbeat_delete(*, job_id: int) -> None:
    """The job ended: its heartbeat goes (in the caller's transaction, with the job's final status)."""
    JobHeartbeat.objects.filter(job_id=job_id).delete()
