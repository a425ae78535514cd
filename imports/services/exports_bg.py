"""Background exports: a data page export with more rows than EXPORT_SYNC_MAX_ROWS is written by a django-q2
task to MEDIA_ROOT/exports/, with its progress on a DataExport row, and downloaded by whoever asked for it.

Old exports are cleaned up when a new one is created: exports (and their files) older than
EXPORT_KEEP_HOURS are removed, so the folder holds at most a day's exports by default.

On MySQL/MariaDB the rows are read with an unbuffered server-side cursor, which holds the connection until
the last row is read, so the progress is written on a connection of its own (in autocommit, one per thread);
SQLite steps through a result and writes on the same connection.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import os
import threading
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.utils import load_backend
from django.utils import timezone
from django_q.tasks import async_task

from importhub.errors import NotFound
from tableconfig.models import ImportTable

from ..models import DataExport, ExportStatus
from .export import RowFilter, export_filename, table_csv_stream, table_rows_count, table_xlsx_write

logger = logging.getLogger(__name__)

EXPORTS_FOLDER = "exports"
EXPORT_FORMATS = ("csv", "xlsx")

_local = threading.local()


def progress_connection():
    """The connection an export's progress is written on (see the module docstring)."""
    if connection.vendor != "mysql":
        return connection
    wrapper = getattr(_local, "wrapper", None)
    if wrapper is None or _local.pid != os.getpid():
        settings_dict = copy.deepcopy(connection.settings_dict)
        wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(
            settings_dict, "importhub-export-progress"
        )
        _local.wrapper, _local.pid = wrapper, os.getpid()
    wrapper.close_if_unusable_or_obsolete()
    return wrapper


def _progress_save(export_id: int, done: int) -> None:
    writer = progress_connection()
    table = writer.ops.quote_name(DataExport._meta.db_table)
    with writer.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {writer.ops.quote_name('rows_done')} = %s WHERE {writer.ops.quote_name('id')} = %s",
            [done, export_id],
        )


def export_is_background(*, table: ImportTable, filters: RowFilter) -> tuple[bool, int]:
    """Whether exporting these rows takes a background task (more than EXPORT_SYNC_MAX_ROWS), and how many."""
    total = table_rows_count(table=table, filters=filters)
    return total > settings.EXPORT_SYNC_MAX_ROWS, total


def data_export_path(export: DataExport) -> Path:
    """Where an export's file is (or will be) on disk."""
    return Path(settings.MEDIA_ROOT) / export.file


def data_exports_purge(*, older_than: dt.datetime | None = None) -> int:
    """Remove exports created before `older_than` (default: EXPORT_KEEP_HOURS ago) and their files."""
    cutoff = older_than or timezone.now() - dt.timedelta(hours=settings.EXPORT_KEEP_HOURS)
    old = list(DataExport.objects.filter(created_at__lt=cutoff))
    for export in old:
        if export.file:
            data_export_path(export).unlink(missing_ok=True)
    DataExport.objects.filter(pk__in=[e.pk for e in old]).delete()
    return len(old)


def data_export_create(
    *, table: ImportTable, fmt: str, filters: RowFilter, user, rows_total: int
) -> DataExport:
    """Queue a background export of the matching rows (after commit) and clean up the old ones."""
    if fmt not in EXPORT_FORMATS:
        raise NotFound(f"No export format '{fmt}'.")
    data_exports_purge()
    filename = export_filename(table=table, extension=fmt)
    with transaction.atomic():
        export = DataExport.objects.create(
            table_name=table.table_name,
            fmt=fmt,
            filters=filters.as_json(),
            rows_total=rows_total,
            created_by=user if user and user.is_authenticated else None,
        )
        export.file = f"{EXPORTS_FOLDER}/{export.pk}-{filename}"
        export.save(update_fields=["file"])
        transaction.on_commit(
            lambda: async_task("imports.tasks.data_export_task", export.pk, group="exports")
        )
    return export


def data_export_visible(*, export_id: int, user) -> DataExport:
    """The export if `user` may see it (its creator, or a superuser); NotFound otherwise."""
    export = DataExport.objects.filter(pk=export_id).first()
    if export is None or not (user.is_superuser or export.created_by_id == user.pk):
        raise NotFound(f"Export {export_id} not found.")
    return export


def data_export_progress(export: DataExport) -> dict:
    """What the data page shows of an export (and its JSON endpoint answers)."""
    percent = 100 if export.status == ExportStatus.DONE else 0
    if export.rows_total and export.status != ExportStatus.DONE:
        percent = min(99, export.rows_done * 100 // export.rows_total)
    return {
        "id": export.pk,
        "table_name": export.table_name,
        "format": export.fmt,
        "status": export.status,
        "status_label": export.get_status_display(),
        "rows_total": export.rows_total,
        "rows_done": export.rows_done,
        "percent": percent,
        "error": export.error,
        "filename": Path(export.file).name.split("-", 1)[-1] if export.file else "",
        "created_at": export.created_at.isoformat() if export.created_at else None,
        "finished_at": export.finished_at.isoformat() if export.finished_at else None,
    }


def data_export_run(*, export_id: int) -> DataExport | None:
    """Write a queued export's file, saving its progress after each fetched batch; None if it is gone.

    A second delivery of the same task (a worker died) writes the file again from the start."""
    claimed = DataExport.objects.filter(
        pk=export_id, status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING]
    ).update(status=ExportStatus.RUNNING, rows_done=0, error="")
    export = DataExport.objects.filter(pk=export_id).first()
    if export is None or not claimed:
        return export
    path = data_export_path(export)

    def progress(done: int) -> None:
        _progress_save(export_id, done)

    try:
        table = ImportTable.objects.filter(table_name=export.table_name).first()
        if table is None:
            raise NotFound(f"The table {export.table_name} is no longer configured.")
        filters = RowFilter.from_json(export.filters)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as output:
            if export.fmt == "csv":
                for chunk in table_csv_stream(table=table, filters=filters, on_rows=progress):
                    output.write(chunk)
            else:
                table_xlsx_write(table=table, filters=filters, output=output, on_rows=progress)
    except Exception as exc:
        logger.exception("Export %s of %s failed", export_id, export.table_name)
        path.unlink(missing_ok=True)
        DataExport.objects.filter(pk=export_id).update(
            status=ExportStatus.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        export.refresh_from_db()
        return export
    export.refresh_from_db()
    DataExport.objects.filter(pk=export_id).update(
        status=ExportStatus.DONE, rows_total=export.rows_done, finished_at=timezone.now()
    )
    export.refresh_from_db()
    return export
