"""A batch: one upload request's files, quick-validated and (in full/both mode) queued for import.

The API, the staff upload form and the `import_files` command all call `import_batch_submit`.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django_q.tasks import async_task

from importhub.errors import ImportHubError, LimitExceeded, StorageUnavailable
from tableconfig.models import ImportTable

from ..models import BatchSource, Distributor, ImportBatch, ImportJob, ImportMode, JobStatus
from .distributors import distributor_for_upload
from .intake import IntakeFile, IntakeLimits, files_intake, upload_store_hashed
from .jobs import job_file_release, job_status_compare_and_set
from .matching import filename_stem, table_entry_matches
from .quick import QuickResult, file_quick_validate
from .resent import BatchCopies

logger = logging.getLogger(__name__)


class NoFiles(ImportHubError):
    code = "no_files"


class NoValidFiles(ImportHubError):
    code = "no_valid_files"


@dataclass
class Upload:
    """One file as received: its name and its bytes (streamed)."""

    name: str
    chunks: Iterable[bytes]
    size: int | None = None


@dataclass
class BatchResult:
    batch_id: uuid.UUID
    mode: str
    results: list[QuickResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    jobs: list[ImportJob] = field(default_factory=list)
    distributor: Distributor | None = None

    @property
    def all_failed(self) -> bool:
        return not any(r.valid for r in self.results)

    @property
    def total_rows(self) -> int:
        return sum(r.rows for r in self.results if r.valid)


def _job_field_length(name: str) -> int:
    return ImportJob._meta.get_field(name).max_length


def intake_limits() -> IntakeLimits:
    return IntakeLimits(
        zip_max_members=settings.ZIP_MAX_MEMBERS,
        zip_max_total_bytes=settings.ZIP_MAX_TOTAL_BYTES,
        zip_max_ratio=settings.ZIP_MAX_RATIO,
        max_file_bytes=settings.UPLOAD_MAX_FILE_BYTES,
        name_max_chars=_job_field_length("original_filename"),
        source_max_chars=_job_field_length("source_name"),
    )


class FieldTooLong(ImportHubError):
    code = "field_too_long"


def submit_fields_check(*, table_name: str, dist_id: str) -> None:
    """Refuse, before anything is stored, a value that would not fit its column in the job (MySQL would refuse
    it half way through the batch; SQLite would keep it whole)."""
    for field_name, value in (("table_name", table_name), ("dist_id", dist_id)):
        limit = _job_field_length(field_name)
        if len(value) > limit:
            raise FieldTooLong(
                f"{field_name}: {len(value)} characters, at most {limit}.", details={"field": field_name}
            )


class UnknownMode(ImportHubError):
    code = "invalid_mode"
    http_status = 400


MODES = (ImportMode.QUICK, ImportMode.FULL, ImportMode.BOTH, ImportMode.DRY_RUN)


def mode_normalize(mode: str | None) -> str:
    """quick, full, both (also when empty, as the older app did) or dry_run; anything else is refused, never
    guessed: a typo must not run a full import."""
    mode = (mode or "").strip().lower()
    if not mode:
        return ImportMode.BOTH
    if mode not in MODES:
        raise UnknownMode(
            f"mode: '{mode[:50]}' is not a mode. Use quick (validate only), full (validate and import), "
            "both, or dry_run (check every row, load nothing); empty means both.",
            details={"field": "mode"},
        )
    return mode


def uploads_check(uploads: list[Upload]) -> None:
    """Refuse a request over the configured limits, naming the limit."""
    if not uploads:
        raise NoFiles("No files provided.")
    if len(uploads) > settings.UPLOAD_MAX_FILES:
        raise LimitExceeded(
            f"Too many files: {len(uploads)} sent, at most {settings.UPLOAD_MAX_FILES} per request (UPLOAD_MAX_FILES).",
            code="too_many_files",
        )
    for upload in uploads:
        if upload.size is not None and upload.size > settings.UPLOAD_MAX_FILE_BYTES:
            raise LimitExceeded(
                f"{upload.name} is {upload.size:,} bytes, over the limit of {settings.UPLOAD_MAX_FILE_BYTES:,} "
                "bytes per file (UPLOAD_MAX_FILE_BYTES).",
                code="file_too_large",
            )
    total = sum(u.size or 0 for u in uploads)
    if total > settings.UPLOAD_MAX_REQUEST_BYTES:
        raise LimitExceeded(
            f"The upload is {total:,} bytes, over the limit of {settings.UPLOAD_MAX_REQUEST_BYTES:,} bytes per "
            "request (UPLOAD_MAX_REQUEST_BYTES).",
            code="request_too_large",
        )


def import_batch_submit(
    *,
    uploads: list[Upload],
    mode: str | None = None,
    table_name: str = "auto",
    dist_id: str = "",
    user=None,
    enqueue: bool = True,
    source: str = BatchSource.API,
    force: bool = False,
    batch_id: uuid.UUID | None = None,
) -> BatchResult:
    """Store, unpack and quick-validate a batch; in full/both/dry_run mode create its jobs and queue the
    valid ones (a dry run's task checks every row and loads nothing). Every submission is recorded as an
    ImportBatch with its `source` and the warnings about what it did not take (skipped ZIP members).

    With `enqueue=False` the valid jobs are left waiting for the caller to run (the CLI's --wait).
    A file whose content was already imported into its table (or sent twice) is refused in full/both mode
    unless `force` (services/resent.py); quick and dry_run only warn.

    `batch_id` is the caller's own id for the batch (an inbox claim chooses it before the files are read);
    default: a new one.
    """
    uploads_check(uploads)
    mode = mode_normalize(mode)
    table_name = (table_name or "auto").strip() or "auto"
    dist_id = (dist_id or "").strip()
    submit_fields_check(table_name=table_name, dist_id=dist_id)
    # Before anything is stored: a refused distributor leaves no file, batch or job behind.
    batch = BatchResult(
        batch_id=batch_id or uuid.uuid4(), mode=mode, distributor=distributor_for_upload(dist_id=dist_id)
    )
    batch_dir = Path(settings.UPLOAD_DIR) / str(batch.batch_id)
    limits = intake_limits()
    try:
        batch_dir.mkdir(parents=True, exist_ok=True)
        stored = []
        for u in uploads:
            kept = upload_store_hashed(
                batch_dir=batch_dir, original_name=u.name, chunks=u.chunks, limits=limits
            )
            stored.append((u.name, kept.path, kept.sha256))
        intake = files_intake(batch_dir=batch_dir, uploads=stored, limits=limits)
    except OSError as exc:
        shutil.rmtree(batch_dir, ignore_errors=True)
        logger.error("Cannot store uploads under %s: %s", settings.UPLOAD_DIR, exc)
        raise StorageUnavailable(
            "The upload folder is not writable: the server cannot store files right now. Nothing was "
            "saved; please try again later or tell an administrator."
        ) from exc
    except BaseException:
        shutil.rmtree(batch_dir, ignore_errors=True)
        raise
    batch.warnings = intake.warnings
    if not intake.files:
        shutil.rmtree(batch_dir, ignore_errors=True)
        raise NoValidFiles("No valid data files to process.", details={"warnings": batch.warnings})
    ImportBatch.objects.create(
        batch_id=batch.batch_id,
        mode=mode,
        source=source,
        dist_id=dist_id,
        distributor=batch.distributor,
        table_name="" if table_name == "auto" else table_name,
        warnings=batch.warnings,
        forced=force,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )

    copies = BatchCopies(mode=mode, forced=force, dist_id=dist_id)
    if mode == ImportMode.QUICK:
        try:
            for f in intake.files:
                result = _file_validate(
                    path=f.stored_path, original_name=f.original_name, table_name=table_name, dist_id=dist_id
                )
                copies.result_check(result, sha256=f.sha256)
                batch.results.append(result)
        finally:
            shutil.rmtree(batch_dir, ignore_errors=True)
        return batch

    try:
        _batch_jobs_create(
            batch,
            files=intake.files,
            user=user,
            table_name=table_name,
            dist_id=dist_id,
            enqueue=enqueue,
            copies=copies,
        )
    except BaseException:
        _batch_abandon(batch, batch_dir=batch_dir)
        raise
    return batch


def _file_validate(*, path: Path, original_name: str, table_name: str, dist_id: str) -> QuickResult:
    """Quick validation that never raises: a configuration refusal or an unexpected error is the file's result."""
    try:
        return file_quick_validate(
            path=path, original_name=original_name, table_name=table_name, dist_id=dist_id
        )
    except ImportHubError as exc:
        return QuickResult(filename=original_name, error=exc.message, error_code=exc.code)
    except Exception as exc:
        logger.exception("Quick validation of %s failed unexpectedly", original_name)
        return QuickResult(
            filename=original_name,
            error=f"Unexpected error while validating {original_name} ({type(exc).__name__}: {exc}). "
            "Nothing was imported; the error was logged for the administrators.",
            error_code=UNEXPECTED_ERROR,
        )


UNEXPECTED_ERROR = "unexpected_error"
ABANDONED_MESSAGE = "The upload could not be completed because of an unexpected error; nothing was imported."
UNFINISHED = (JobStatus.UPLOADED, JobStatus.VALIDATING, JobStatus.VALIDATION_OK)


def _batch_abandon(batch: BatchResult, *, batch_dir: Path) -> None:
    """After an unexpected error part way through a submission: fail the batch's unfinished jobs, let their
    files go, and remove the folder unless a queued job still needs it."""
    try:
        jobs = ImportJob.objects.filter(batch_id=batch.batch_id)
        for job in jobs.filter(status__in=UNFINISHED):
            job_status_compare_and_set(
                job_id=job.id,
                from_statuses=UNFINISHED,
                to_status=JobStatus.FAILED,
                error_message=ABANDONED_MESSAGE,
                error_code=UNEXPECTED_ERROR,
                notes=ABANDONED_MESSAGE,
            )
            job.refresh_from_db()
            job_file_release(job)  # kept for a retry, like any failed job's
        needed = Q(status__in=[JobStatus.WAITING, JobStatus.PROCESSING]) | Q(upload_kept_until__isnull=False)
        if not jobs.filter(needed).exists():
            shutil.rmtree(batch_dir, ignore_errors=True)
    except Exception:
        # The error being raised matters more; a folder left here is found by the stale-job scan's log.
        logger.exception("Batch %s: cannot clean up after a failed submission", batch.batch_id)
        shutil.rmtree(batch_dir, ignore_errors=True)


def _batch_jobs_create(
    batch: BatchResult,
    *,
    files: list[IntakeFile],
    user,
    table_name: str,
    dist_id: str,
    enqueue: bool,
    copies: BatchCopies,
) -> None:
    """Create, quick-validate and queue the jobs of a full/both/dry_run batch."""
    mode = batch.mode
    for f in files:
        job = ImportJob.objects.create(
            batch_id=batch.batch_id,
            original_filename=f.original_name,
            source_name=f.source_name,
            stored_filename=str(f.stored_path.relative_to(settings.UPLOAD_DIR)),
            file_size=f.size,
            content_sha256=f.sha256,
            dist_id=dist_id,
            distributor=batch.distributor,
            mode=mode,
            uploaded_by=user if getattr(user, "is_authenticated", False) else None,
            table_name="" if table_name == "auto" else table_name,
            status=JobStatus.UPLOADED,
        )
        job_status_compare_and_set(
            job_id=job.id, from_statuses=[JobStatus.UPLOADED], to_status=JobStatus.VALIDATING
        )
        result = _file_validate(
            path=f.stored_path, original_name=f.original_name, table_name=table_name, dist_id=dist_id
        )
        copies.result_check(result, sha256=f.sha256)
        batch.results.append(result)
        batch.jobs.append(job_validation_record(job=job, result=result))

    if table_name == "auto":
        batch.jobs += _missing_files_record(batch, user=user, dist_id=dist_id, mode=mode)
    for job in batch.jobs:
        if job.status in (JobStatus.VALIDATION_FAILED, JobStatus.FAILED):
            job_file_release(job)  # kept for a retry after a fix
        elif job.status == JobStatus.VALIDATION_OK:
            if job_status_compare_and_set(
                job_id=job.id, from_statuses=[JobStatus.VALIDATION_OK], to_status=JobStatus.WAITING
            ):
                job.status = JobStatus.WAITING
                if enqueue:
                    import_job_enqueue(job_id=job.id)


def job_validation_record(*, job: ImportJob, result: QuickResult) -> ImportJob:
    """Record a validating job's quick validation: validation ok, or refused with the reason (failed when the
    validation itself broke). Returns the job as stored."""
    fields = {
        "table": result.table,
        "table_name": result.table_name or job.table_name,
        "total_rows": result.rows,
        "warnings": result.warnings,
    }
    if result.valid:
        job_status_compare_and_set(
            job_id=job.id, from_statuses=[JobStatus.VALIDATING], to_status=JobStatus.VALIDATION_OK, **fields
        )
    else:
        job_status_compare_and_set(
            job_id=job.id,
            from_statuses=[JobStatus.VALIDATING],
            to_status=JobStatus.FAILED
            if result.error_code == UNEXPECTED_ERROR
            else JobStatus.VALIDATION_FAILED,
            error_message=result.error or "",
            error_code=result.error_code,
            notes=result.error or "",
            **fields,
        )
    job.refresh_from_db()
    return job


def import_job_task_name(job_id: int) -> str:
    """The broker's name of a job's import task, by which the stale-job scan finds it in the queue."""
    return f"import-job-{job_id}"


def import_job_enqueue(*, job_id: int) -> None:
    """Queue the import after the surrounding transaction commits (ids, never objects), counting the delivery."""
    ImportJob.objects.filter(pk=job_id).update(deliveries=F("deliveries") + 1)
    transaction.on_commit(
        lambda: async_task(
            "imports.tasks.import_job_task", job_id, task_name=import_job_task_name(job_id), group="imports"
        )
    )


def _missing_files_record(batch: BatchResult, *, user, dist_id: str, mode: str) -> list[ImportJob]:
    """Status 0 jobs for the files a batch lacks. With a distributor that has obligations: each active table
    it must send that no uploaded file went to (by its validated table or its file name). Otherwise: each
    active table that a batch must include (expected_in_batch) whose expected file names no file matched."""
    stems = [filename_stem(r.filename) for r in batch.results]
    owed = _tables_owed(batch.distributor)
    if owed is not None:
        sent = {r.table_name for r in batch.results if r.table_name}
        tables = [t for t in owed if t.table_name not in sent]
    else:
        tables = ImportTable.objects.filter(is_active=True, expected_in_batch=True).exclude(
            allowed_filename=""
        )
    missing = []
    for table in tables:
        entries = table.filename_entries
        if owed is None and not entries:
            continue
        if any(table_entry_matches(e, s) for e in entries for s in stems):
            continue
        expected = ", ".join(entries) if entries else f"a file for {table.table_name}"
        missing.append(
            ImportJob.objects.create(
                batch_id=batch.batch_id,
                table=table,
                table_name=table.table_name,
                original_filename="",
                dist_id=dist_id,
                distributor=batch.distributor,
                mode=mode,
                uploaded_by=user if getattr(user, "is_authenticated", False) else None,
                status=JobStatus.SKIPPED,
                notes=f"File not uploaded: expected {expected}",
                error_message="File not uploaded",
            )
        )
    return missing


def _tables_owed(distributor: Distributor | None) -> list[ImportTable] | None:
    """The active tables a distributor must send, by name; None without a distributor or obligations."""
    if distributor is None:
        return None
    tables = list(distributor.tables.order_by("table_name"))
    if not tables:
        return None
    return [t for t in tables if t.is_active]
