"""Revert a completed import, in one transaction: restore the rows it updated to their previous values (kept as
RowVersions when it updated them), delete the rows it inserted. A later import that changed the same rows must
be reverted first (newest first): the revert refuses and names those jobs, or reverts them first when asked."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from importhub.errors import ImportHubError
from tableconfig.naming import identifier_validate

from ..models import ImportJob, JobStatus, RowVersion
from .jobs import job_status_compare_and_set
from .loading import job_rows_undo

logger = logging.getLogger(__name__)


class RevertRefused(ImportHubError):
    """The job cannot be reverted (not complete, already reverted, its table is gone)."""

    code = "revert_refused"


@dataclass(frozen=True)
class RevertResult:
    job: ImportJob
    deleted_rows: int
    restored_rows: int
    replaced_by_later_jobs: int  # always 0 since rows keep their history; kept for older clients
    later_job_ids: list[int]  # later imports reverted first (cascade)
    overwritten_before: int  # rows updated by an import made before versions were kept: not restorable
    message: str

    def as_dict(self) -> dict:
        return {
            "job_id": self.job.id,
            "batch_id": str(self.job.batch_id),
            "table_name": self.job.table_name,
            "deleted_rows": self.deleted_rows,
            "restored_rows": self.restored_rows,
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


def _table_name(job: ImportJob) -> str:
    """The job's physical table, checked to be a valid identifier that exists."""
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
    return table_name


def revert_blockers(job: ImportJob) -> list[int]:
    """Completed, unreverted later imports that changed rows this job wrote or restored to: newest first."""
    later = (
        RowVersion.objects.filter(previous_job_id=job.id, job__reverted_at__isnull=True)
        .exclude(job_id=job.id)
        .values_list("job_id", flat=True)
        .distinct()
    )
    jobs = ImportJob.objects.filter(pk__in=list(later))
    return [j.id for j in sorted(jobs, key=lambda j: (j.completed_at or j.created_at, j.id), reverse=True)]


@dataclass(frozen=True)
class RevertPreview:
    """What reverting a job would do, for a confirmation step: nothing is changed to find it out."""

    job: ImportJob
    table_name: str
    delete_rows: int  # rows it inserted, deleted by the revert
    restore_rows: int  # rows it updated, given their previous values back
    later_job_ids: list[int]  # later imports that changed its rows: reverted first, or the revert refused
    refused: str  # why it cannot be reverted ("" when it can)

    @property
    def possible(self) -> bool:
        return not self.refused


def import_job_revert_preview(*, job: ImportJob) -> RevertPreview:
    """What `import_job_revert` would delete and restore for this job, read without changing anything."""
    restore = delete = 0
    table_name = job.table_name
    refused = ""
    later: list[int] = []
    if job.reverted_at is not None:
        refused = f"Job {job.id} was already reverted on {job.reverted_at:%Y-%m-%d %H:%M} UTC."
    elif job.status != JobStatus.COMPLETE:
        refused = f"Only a completed import can be reverted; job {job.id} is '{job.status_label}'."
    else:
        try:
            table_name = _table_name(job)
        except RevertRefused as exc:
            refused = exc.message
    if not refused:
        restore = RowVersion.objects.filter(job_id=job.id, table_name=table_name).count()
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT COUNT(*) FROM {quote(table_name)} WHERE {quote('import_job_id')} = %s", [job.id]
            )
            delete = max(cursor.fetchone()[0] - restore, 0)
        later = revert_blockers(job)
    return RevertPreview(
        job=job,
        table_name=table_name,
        delete_rows=delete,
        restore_rows=restore,
        later_job_ids=later,
        refused=refused,
    )


def _revert_message(*, table_name: str, deleted: int, restored: int, cascaded: list[int], lost: int) -> str:
    parts = []
    if cascaded:
        parts.append(f"First reverted the later imports {', '.join(f'job {i}' for i in cascaded)}.")
    parts.append(f"Deleted {deleted:,} rows this import wrote from {table_name}.")
    if restored:
        parts.append(f"Restored {restored:,} rows it had updated to their previous values.")
    if lost:
        parts.append(
            f"This import had replaced {lost:,} existing rows before importhub kept previous values; their "
            "earlier values cannot be restored. Re-import the earlier file to bring them back."
        )
    return " ".join(parts)


def import_job_revert(*, job: ImportJob, user, cascade: bool = False) -> RevertResult:
    """Undo `job` (one transaction) and mark it reverted by `user`. A later import that changed its rows
    refuses the revert (code revert_blocked, naming them), unless `cascade`: then those are reverted first,
    newest first, in the same transaction."""
    with transaction.atomic():
        # The job's row only: select_related("table") would lock the table's configuration row as well,
        # which every new job's foreign key check on MySQL waits for.
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
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
        table_name = _table_name(job)
        blockers = revert_blockers(job)
        cascaded: list[int] = []
        if blockers and not cascade:
            names = ", ".join(f"job {i}" for i in blockers)
            raise RevertRefused(
                f"Later imports changed rows of job {job.id}: revert {names} first (newest first), or revert "
                "with cascade to revert them first.",
                code="revert_blocked",
                details={"later_job_ids": blockers},
            )
        for later_id in blockers:
            later = ImportJob.objects.get(pk=later_id)
            if later.reverted_at is None:
                result = import_job_revert(job=later, user=user, cascade=True)
                cascaded += [*result.later_job_ids, later_id]
        restored, deleted = job_rows_undo(table_name=table_name, job_id=job.id)
        lost = job.duplicate_count if not (job.updated_count or job.skipped_count or restored) else 0
        message = _revert_message(
            table_name=table_name, deleted=deleted, restored=restored, cascaded=cascaded, lost=lost
        )
        now = timezone.now()
        by = user.get_username() if getattr(user, "is_authenticated", False) else "system"
        # The notes are compared too: the archive's note written meanwhile is kept, or the revert refused.
        if not job_status_compare_and_set(
            job_id=job.pk,
            from_statuses=[JobStatus.COMPLETE],
            where={"reverted_at__isnull": True, "notes": job.notes},
            instance=job,
            reverted_at=now,
            reverted_by=user if getattr(user, "is_authenticated", False) else None,
            revert_notes=message,
            notes="\n".join(
                filter(None, [job.notes, f"Reverted by {by} on {now:%Y-%m-%d %H:%M} UTC: {message}"])
            ),
        ):
            raise RevertRefused(
                f"Job {job.id} changed while it was being reverted; nothing was reverted. Try again.",
                code="revert_raced",
            )
    logger.info("Job %s reverted by %s: %s", job.id, by, message)
    return RevertResult(
        job=job,
        deleted_rows=deleted,
        restored_rows=restored,
        replaced_by_later_jobs=0,
        later_job_ids=cascaded,
        overwritten_before=lost,
        message=message,
    )


def import_jobs_revert(*, jobs: Iterable[ImportJob], user, cascade: bool = False) -> list[RevertAttempt]:
    """Revert several jobs, newest first (undoing imports in the reverse order they were made), each in
    its own transaction; a refused job does not stop the others."""
    ordered = sorted(jobs, key=lambda j: (j.completed_at or j.created_at, j.id), reverse=True)
    attempts = []
    for job in ordered:
        try:
            job.refresh_from_db()
            if job.reverted_at is not None and cascade:
                continue  # reverted already, as a later import of one reverted before it
            attempts.append(
                RevertAttempt(job=job, result=import_job_revert(job=job, user=user, cascade=cascade))
            )
        except ImportHubError as exc:
            attempts.append(RevertAttempt(job=job, error=exc.message))
    return attempts
