"""Revert a completed import: delete exactly the rows its job wrote, in one transaction, and say what
could not be undone (rows a later import replaced stay; rows this import had replaced are gone for good)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from importhub.errors import ImportHubError
from tableconfig.naming import identifier_validate

from ..models import ImportJob, JobStatus

logger = logging.getLogger(__name__)


class RevertRefused(ImportHubError):
    """The job cannot be reverted (not complete, already reverted, its table is gone)."""

    code = "revert_refused"


@dataclass(frozen=True)
class RevertResult:
    job: ImportJob
    deleted_rows: int
    replaced_by_later_jobs: int
    later_job_ids: list[int]
    overwritten_before: int
    message: str

    def as_dict(self) -> dict:
        return {
            "job_id": self.job.id,
            "batch_id": str(self.job.batch_id),
            "table_name": self.job.table_name,
            "deleted_rows": self.deleted_rows,
            "replaced_by_later_jobs": self.replaced_by_later_jobs,
            "later_job_ids": self.later_job_ids,
            "overwritten_before": self.overwritten_before,
            "reverted_at": self.job.reverted_at.isoformat() if self.job.reverted_at else None,
            "reverted_by": self.job.reverted_by.get_username() if self.job.reverted_by else None,
            "message": self.message,
        }


@dataclass
class RevertAttempt:
    """One job of a bulk revert (the admin action): its result, or why it was refused."""

    job: ImportJob
    result: RevertResult | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.result is not None

    @property
    def message(self) -> str:
        name = self.job.original_filename or f"job {self.job.id}"
        return f"{name}: {self.result.message if self.result else self.error}"


def _table_sql(job: ImportJob) -> tuple[str, str]:
    # The configuration may have been deleted since (the physical table stays): fall back to the name at import.
    table_name = job.table.table_name if job.table else job.table_name
    try:
        identifier_validate(table_name, kind="table")
    except ValidationError:
        raise RevertRefused(
            f"Job {job.id} has no valid table name ('{table_name}'); nothing can be reverted.",
            code="table_missing",
        ) from None
    with connection.cursor() as cursor:
        exists = table_name in connection.introspection.table_names(cursor)
    if not exists:
        raise RevertRefused(
            f"The table '{table_name}' no longer exists; there is nothing to revert.", code="table_missing"
        )
    return table_name, connection.ops.quote_name(table_name)


def _later_job_ids(job: ImportJob, table_name: str) -> list[int]:
    """Completed, unreverted imports into the same table after this one that replaced existing rows:
    the jobs that may have replaced this job's rows (the database keeps no per-row history to be sure)."""
    later = ImportJob.objects.filter(
        table_name=table_name, status=JobStatus.COMPLETE, reverted_at__isnull=True, duplicate_count__gt=0
    ).exclude(pk=job.pk)
    if job.completed_at:
        later = later.filter(completed_at__gt=job.completed_at)
    else:
        later = later.filter(pk__gt=job.pk)
    return list(later.order_by("completed_at", "id").values_list("id", flat=True)[:100])


def _revert_message(
    *, table_name: str, deleted: int, replaced: int, later: list[int], overwritten: int
) -> str:
    parts = [f"Deleted {deleted:,} rows this import wrote from {table_name}."]
    if replaced:
        by = f" (by job {', '.join(map(str, later))})" if later else ""
        parts.append(
            f"{replaced:,} of its rows no longer carried its id: a later import{by} or a later row of the "
            "same file with the same unique key had replaced them. Those rows were not touched."
        )
    if overwritten:
        parts.append(
            f"This import had replaced {overwritten:,} existing rows with the same unique key; their earlier "
            "values cannot be restored. Re-import the earlier file to bring them back."
        )
    return " ".join(parts)


def import_job_revert(*, job: ImportJob, user) -> RevertResult:
    """Delete the rows `job` wrote (one transaction), mark it reverted by `user` and report what stays lost."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().select_related("table").get(pk=job.pk)
        if job.reverted_at is not None:
            raise RevertRefused(
                f"Job {job.id} was already reverted on {job.reverted_at:%Y-%m-%d %H:%M} UTC.",
                code="already_reverted",
            )
        if job.status != JobStatus.COMPLETE:
            raise RevertRefused(
                f"Only a completed import can be reverted; job {job.id} is '{job.status_label}'.",
                code="not_complete",
            )
        table_name, table_sql = _table_sql(job)
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table_sql} WHERE {connection.ops.quote_name('import_job_id')} = %s", [job.id]
            )
            deleted = cursor.rowcount
        replaced = max(0, job.success_count - deleted)
        later = _later_job_ids(job, table_name) if replaced else []
        overwritten = job.duplicate_count
        message = _revert_message(
            table_name=table_name, deleted=deleted, replaced=replaced, later=later, overwritten=overwritten
        )
        now = timezone.now()
        by = user.get_username() if getattr(user, "is_authenticated", False) else "system"
        job.reverted_at = now
        job.reverted_by = user if getattr(user, "is_authenticated", False) else None
        job.revert_notes = message
        job.notes = "\n".join(
            filter(None, [job.notes, f"Reverted by {by} on {now:%Y-%m-%d %H:%M} UTC: {message}"])
        )
        job.save(update_fields=["reverted_at", "reverted_by", "revert_notes", "notes", "updated_at"])
    logger.info("Job %s reverted by %s: %s", job.id, by, message)
    return RevertResult(
        job=job,
        deleted_rows=deleted,
        replaced_by_later_jobs=replaced,
        later_job_ids=later,
        overwritten_before=overwritten,
        message=message,
    )


def import_jobs_revert(*, jobs: Iterable[ImportJob], user) -> list[RevertAttempt]:
    """Revert several jobs, newest first (undoing imports in the reverse order they were made), each in
    its own transaction; a refused job does not stop the others."""
    ordered = sorted(jobs, key=lambda j: (j.completed_at or j.created_at, j.id), reverse=True)
    attempts = []
    for job in ordered:
        try:
            attempts.append(RevertAttempt(job=job, result=import_job_revert(job=job, user=user)))
        except ImportHubError as exc:
            attempts.append(RevertAttempt(job=job, error=exc.message))
    return attempts
