"""Archiving a final job's original file (the member itself for ZIP members), in its own django-q2 task.

The import hands the file over (`job_archive_handover`): it is moved out of its batch folder into
UPLOAD_DIR/pending-archive/<job id>/ and stays there until it is archived, so neither a failed archive nor
a re-try ever loses it. Archiving never changes the import's status.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task, schedule

from ..models import FAILED_STATUSES, FINAL_STATUSES, ArchiveStatus, ImportJob, JobStatus
from ..services.jobs import job_status_compare_and_set, job_stored_path
from .storage import ArchivedFile, ArchiveError, ArchiveStore, LocalArchive, archive_name, archive_store

logger = logging.getLogger(__name__)

TASK = "imports.tasks.archive_job_task"
PENDING_DIR = "pending-archive"
RETRY_DELAY_MAX = 6 * 3600
NOTE_PREFIXES = ("Archived to Google Drive", "Archived locally", "Archive failed")
PENDING = {"archive_status": ArchiveStatus.PENDING}
NOT_HANDED_OVER = {"archive_status": ""}


def archive_wanted(job: ImportJob) -> bool:
    """Complete imports (rows rejected or not) are archived; failed ones only with ARCHIVE_FAILED_FILES."""
    return job.status == JobStatus.COMPLETE or (
        settings.ARCHIVE_FAILED_FILES and job.status in FAILED_STATUSES
    )


def job_archive_handover(*, job: ImportJob) -> None:
    """Give a final job's upload to the archive (moved to the pending-archive folder first), or delete it."""
    if job.archive_status or not job.is_final or not job.stored_filename:
        return
    source = job_stored_path(job)
    if not archive_wanted(job):
        _file_remove(source)
        job_status_compare_and_set(
            job_id=job.pk,
            from_statuses=FINAL_STATUSES,
            where=NOT_HANDED_OVER,
            instance=job,
            archive_status=ArchiveStatus.SKIPPED,
        )
        return
    if not source.is_file():
        _archive_give_up(job, f"The uploaded file is no longer on the server ({job.stored_filename}).")
        return
    relative = Path(PENDING_DIR, str(job.id), source.name)
    try:
        _file_move(source, Path(settings.UPLOAD_DIR) / relative)
    except OSError as exc:
        logger.exception("Job %s: cannot move %s to the pending-archive folder", job.id, source)
        _archive_give_up(job, f"Cannot move the file to the pending-archive folder: {exc}")
        return
    if not job_status_compare_and_set(
        job_id=job.pk,
        from_statuses=FINAL_STATUSES,
        where=NOT_HANDED_OVER,
        instance=job,
        stored_filename=relative.as_posix(),
        archive_status=ArchiveStatus.PENDING,
        archive_error="",
    ):
        return  # handed over meanwhile (the same file, to the same place)
    _file_remove(source)
    job_archive_schedule(job_id=job.id)


def job_archive_schedule(*, job_id: int, delay: int = 0, attempt: int = 0) -> None:
    """Queue the archive task once the surrounding transaction commits; with a delay, as a one-off schedule."""
    if delay <= 0:
        transaction.on_commit(
            lambda: async_task(TASK, job_id, task_name=f"archive-job-{job_id}", group="archive")
        )
        return
    name = f"archive-job-{job_id}-retry-{attempt}"

    def create() -> None:
        if not Schedule.objects.filter(name=name).exists():
            schedule(
                TASK,
                job_id,
                name=name,
                schedule_type=Schedule.ONCE,
                next_run=timezone.now() + dt.timedelta(seconds=delay),
            )

    transaction.on_commit(create)


def job_archive_run(*, job_id: int, store: ArchiveStore | None = None) -> ImportJob | None:
    """One attempt at archiving a pending job's file: done, re-tried later, or failed after the last attempt.

    `store` defaults to the configured one (Google Drive, or the local archive folder). Every write checks
    that the job is still pending, so a task delivered twice cannot undo what the other one did.
    """
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None or job.archive_status != ArchiveStatus.PENDING:
        return job
    source = job_stored_path(job)
    if not job.stored_filename or not source.is_file():
        message = f"The file to archive is no longer on the server ({job.stored_filename})."
        return _archive_give_up(job, message, only_if=PENDING)
    attempt = job.archive_attempts + 1
    if not job_status_compare_and_set(
        job_id=job.pk,
        from_statuses=FINAL_STATUSES,
        where={**PENDING, "archive_attempts": job.archive_attempts},
        instance=job,
        archive_attempts=attempt,
    ):
        logger.info("Job %s: another task is archiving it; leaving it to that one.", job.id)
        return _job_reloaded(job)
    name = archive_name(dist_id=job.dist_id, original_name=job.original_filename or source.name)
    when = timezone.localtime(job.created_at)
    try:
        store = store or archive_store()
        if not job.archive_file_id or not store.owns(job.archive_file_id):
            # Recorded before the upload, so a re-tried task stores under the same id: never a second file.
            file_id = store.reserve(name=name, table=job.table_name, when=when)
            if not job_status_compare_and_set(
                job_id=job.pk,
                from_statuses=FINAL_STATUSES,
                where={"archive_file_id": job.archive_file_id},
                instance=job,
                archive_file_id=file_id,
            ):
                job = _job_reloaded(job)  # another task recorded its id first: use that one
        archived = store.store(
            source=source, file_id=job.archive_file_id, name=name, table=job.table_name, when=when
        )
    except ArchiveError as exc:
        return _archive_attempt_failed(job, exc, attempt=attempt)
    except Exception as exc:
        logger.exception("Job %s: unexpected error while archiving", job.id)
        error = ArchiveError(
            f"Unexpected error while archiving ({type(exc).__name__}: {exc}).", transient=True
        )
        return _archive_attempt_failed(job, error, attempt=attempt)
    return _archive_done(job, archived, kind=store.kind, source=source)


def archive_retry(
    *,
    batch_id=None,
    job_ids: list[int] | None = None,
    include_pending: bool = False,
    enqueue: bool = True,
) -> list[int]:
    """Archive again the files whose archiving failed (with `include_pending`, also those still waiting).

    Attempts start again from one; a Drive file id already recorded is kept, so nothing is uploaded twice.
    """
    statuses = [ArchiveStatus.FAILED, *([ArchiveStatus.PENDING] if include_pending else [])]
    jobs = ImportJob.objects.filter(archive_status__in=statuses)
    if batch_id:
        jobs = jobs.filter(batch_id=batch_id)
    if job_ids is not None:
        jobs = jobs.filter(pk__in=job_ids)
    ids = list(jobs.order_by("id").values_list("id", flat=True))
    retried = [
        job_id
        for job_id in ids
        if job_status_compare_and_set(
            job_id=job_id,
            from_statuses=FINAL_STATUSES,
            where={"archive_status__in": statuses},
            archive_status=ArchiveStatus.PENDING,
            archive_attempts=0,
            archive_error="",
        )
    ]
    if enqueue:
        for job_id in retried:
            job_archive_schedule(job_id=job_id)
    return retried


def job_archive_local_path(job: ImportJob) -> Path | None:
    """The local archive's copy of a job's file, or None (not archived, or archived in Google Drive)."""
    if job.archive_status != ArchiveStatus.DONE or not job.archive_file_id:
        return None
    return LocalArchive(root=Path(settings.ARCHIVE_DIR)).path(job.archive_file_id)


def _archive_done(job: ImportJob, archived: ArchivedFile, *, kind: str, source: Path) -> ImportJob:
    if kind == LocalArchive.kind:
        url = ""  # downloaded through the API: selectors.job_archive_url builds the link
        note = "Archived locally"
    else:
        url = archived.url
        note = f"Archived to Google Drive: {url}"
    done = _archive_noted(
        job,
        note,
        only_if=PENDING,
        archive_status=ArchiveStatus.DONE,
        archive_file_id=archived.file_id,
        archive_url=url,
        archive_error="",
        archived_at=timezone.now(),
    )
    if not done:
        return _job_reloaded(job)
    _file_remove(source)
    logger.info("Job %s: %s", job.id, note)
    return job


def _archive_attempt_failed(job: ImportJob, error: ArchiveError, *, attempt: int) -> ImportJob:
    if not (error.transient and attempt < settings.ARCHIVE_MAX_ATTEMPTS):
        return _archive_give_up(job, error.message, only_if=PENDING)
    delay = min(settings.ARCHIVE_RETRY_DELAY * 2 ** (attempt - 1), RETRY_DELAY_MAX)
    logger.warning("Job %s: archive attempt %s failed, next in %s s: %s", job.id, attempt, delay, error)
    message = f"Attempt {attempt} of {settings.ARCHIVE_MAX_ATTEMPTS} failed, trying again in {delay} s: {error.message}"
    if job_status_compare_and_set(
        job_id=job.pk, from_statuses=FINAL_STATUSES, where=PENDING, instance=job, archive_error=message
    ):
        job_archive_schedule(job_id=job.id, delay=delay, attempt=attempt)
        return job
    return _job_reloaded(job)


def _archive_give_up(job: ImportJob, message: str, *, only_if: dict | None = None) -> ImportJob:
    """Failed: the file stays where it is (the pending-archive folder) for `archive_retry`."""
    failed = _archive_noted(
        job,
        f"Archive failed: {message}",
        only_if=only_if,
        archive_status=ArchiveStatus.FAILED,
        archive_error=message,
    )
    if not failed:
        return _job_reloaded(job)
    logger.error("Job %s: archiving failed: %s", job.id, message)
    return job


_ARCHIVE_NOTE_RE = re.compile(rf"(?:^|; )(?:{'|'.join(map(re.escape, NOTE_PREFIXES))})[^\n]*")
NOTE_WRITE_TRIES = 5


def _notes_with(notes: str, note: str) -> str:
    """The notes ending with this archive note instead of any earlier one (a re-try replaces 'Archive failed');
    every other note, a revert's included, stays."""
    notes = _ARCHIVE_NOTE_RE.sub("", notes).strip()
    return f"{notes}; {note}" if notes else note


def _archive_noted(job: ImportJob, note: str, *, only_if: dict | None = None, **fields) -> bool:
    """Write the archive's outcome with its note. The notes are compared too: when another writer (a revert)
    changed them since they were read, they are read again and the note added to them, so neither is lost."""
    for _ in range(NOTE_WRITE_TRIES):
        if job_status_compare_and_set(
            job_id=job.pk,
            from_statuses=FINAL_STATUSES,
            where={**(only_if or {}), "notes": job.notes},
            instance=job,
            notes=_notes_with(job.notes, note),
            **fields,
        ):
            return True
        job.refresh_from_db()
        if any(getattr(job, name) != value for name, value in (only_if or {}).items()):
            return False  # another task got there first
    return False


def _job_reloaded(job: ImportJob) -> ImportJob:
    job.refresh_from_db()
    return job


def _file_move(source: Path, target: Path) -> None:
    """Link first and delete the old name only after the job points at the new one: the file is never lost."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except FileExistsError:
        pass  # an earlier hand-over got this far
    except OSError:
        os.replace(source, target)


def _file_remove(path: Path) -> None:
    """Delete a file and its folder when that is left empty (a batch's, or the job's pending-archive folder)."""
    try:
        path.unlink(missing_ok=True)
        if (
            path.parent != Path(settings.UPLOAD_DIR)
            and path.parent.is_dir()
            and not any(path.parent.iterdir())
        ):
            path.parent.rmdir()
    except OSError as exc:
        logger.warning("Could not remove %s: %s", path, exc)
