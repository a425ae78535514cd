"""The full import of one file: read in chunks, validate every row, bulk-load, summarise; all or nothing.

On MySQL (and SQLite tables with unique columns) every row is written inside ONE transaction that also
locks the job's row: a worker that dies part way leaves nothing behind (the transaction never commits), and
a duplicate delivery of the same task waits and then finds the job final. On SQLite, whose one write lock
that transaction would hold for the whole file, append-only tables go through the run's private rows file
and one short copy (services/staging.py): the run's attempt number decides which delivery's copy counts.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import DatabaseError, OperationalError, connection, transaction

from importhub.errors import FileRejected
from tableconfig.schema import table_schema_drift
from tableconfig.services import table_specs

from ..models import ImportJob, ImportMode, JobPeriodTotal, JobStatus
from .batches import import_job_enqueue
from .dry_run import DryRunWriter
from .jobs import (
    ROW_ERRORS_KEPT,
    JobMovedOn,
    job_fail,
    job_finish,
    job_progress_set,
    job_status_compare_and_set,
    job_stored_path,
)
from .loading import job_rows_undo, table_writer_open
from .matching import headers_map, table_columns
from .reading import Chunk, file_chunks_read, file_open_head
from .rejects import ErrorGroups, ErrorsFile
from .resent import DuplicateContent, job_resent_check
from .staging import job_rows_attached, job_rows_file_open, job_rows_file_path, job_rows_staged_possible
from .summary import PeriodDay, SummaryTally, job_notes_format, job_summary_with_days
from .timings import StageTimes, stage_timed
from .validation import RowError, ValidatedChunk, chunk_validate

logger = logging.getLogger(__name__)

READER_THREAD_NAME = "import-reader"
READER_JOIN_SECONDS = 60


class RejectedOnErrors(FileRejected):
    code = "rejected_on_errors"


@dataclass
class ImportOutcome:
    total_rows: int = 0
    error_count: int = 0
    inserted_count: int = 0
    updated_count: int = 0
    skipped_count: int = 0
    repeated_count: int = 0
    errors: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rounded: dict[str, int] = field(default_factory=dict)
    groups: ErrorGroups = field(default_factory=ErrorGroups)  # every row error, grouped (column, code)
    timings: StageTimes = field(default_factory=StageTimes)  # where the run's time went (services/timings.py)
    tally: SummaryTally | None = None  # an append-only import's summary, added up as its rows go in
    tally_in_reader: bool = (
        True  # by the reader thread (MySQL) or by the main thread after each write (SQLite)
    )

    @property
    def error_summary(self) -> list[dict]:
        return self.groups.as_list()

    @property
    def success_count(self) -> int:
        return self.inserted_count + self.updated_count

    @property
    def duplicate_count(self) -> int:
        return self.updated_count + self.skipped_count


def _validated_chunks(
    path: Path,
    fmt,
    rules,
    chunk_rows: int,
    *,
    name: str,
    clock: StageTimes | None = None,
    ready: Callable[[Chunk, ValidatedChunk], object] | None = None,
) -> Iterator[tuple[Chunk, ValidatedChunk, object]]:
    """Each chunk read and validated, and given to `ready` (what the chunk's write can do ahead, returned
    beside it); runs in the reader thread, so its stages go to `clock`, as the reader's."""
    chunks = file_chunks_read(path=path, fmt=fmt, chunk_rows=chunk_rows, name=name)
    try:
        while True:
            with stage_timed("read", clock):
                chunk = next(chunks, None)
            if chunk is None:
                return
            with stage_timed("validate", clock):
                validated = chunk_validate(frame=chunk.frame, row_numbers=chunk.row_numbers, rules=rules)
            yield chunk, validated, (ready(chunk, validated) if ready is not None else None)
    finally:
        chunks.close()


def _ahead(
    writer, tally: SummaryTally | None, clock: StageTimes, *, doomed: Callable[[Chunk, ValidatedChunk], bool]
):
    """What the reader thread does for each validated chunk before handing it over: the chunk's load file
    (writer.chunk_prepare) and its rows added to the summary tally, each timed as the reader's stage. A chunk
    the main thread will not write (`doomed`: the file is rejected whole) gets neither."""
    prepare = getattr(writer, "chunk_prepare", None)

    def ready(chunk: Chunk, validated: ValidatedChunk):
        if not len(validated.frame) or doomed(chunk, validated):
            return None
        if tally is not None:
            with stage_timed("summary", clock):
                tally.add(validated.frame)
        if prepare is None:
            return None
        with stage_timed("load_file", clock):
            return prepare(frame=validated.frame, row_numbers=validated.row_numbers)

    return ready


@contextlib.contextmanager
def _prefetched(iterator: Iterator, depth: int = 2) -> Iterator[Iterator]:
    """Read and validate the next chunks in a thread while the current one is being loaded.

    The thread ends with the block, however the block ends: it stops at its next chunk, closes the reader
    (and the file) and lets go of what it holds, so a failed import leaves no thread behind."""
    items: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def handed_over(item) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in iterator:
                if not handed_over(item):
                    break
            else:
                handed_over(done)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            handed_over(exc)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    def consume() -> Iterator:
        while True:
            item = items.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    thread = threading.Thread(target=produce, name=READER_THREAD_NAME, daemon=True)
    thread.start()
    try:
        yield consume()
    finally:
        stop.set()
        while True:  # what the thread had queued: let go of it now
            try:
                items.get_nowait()
            except queue.Empty:
                break
        thread.join(timeout=READER_JOIN_SECONDS)
        if thread.is_alive():
            logger.warning("The import's reader thread did not stop within %s s", READER_JOIN_SECONDS)


def _rejected_rows(chunk: Chunk, validated: ValidatedChunk) -> list[tuple[int, str, list[str]]]:
    messages: dict[int, list[str]] = {}
    for error in validated.errors:
        messages.setdefault(error.row, []).append(error.message)
    values = (
        chunk.frame.iloc[validated.rejected_positions].to_numpy().tolist() if len(validated.rejected) else []
    )
    rows = [
        (int(n), "; ".join(messages.get(int(n), [])), v)
        for n, v in zip(validated.rejected, values, strict=True)
    ]
    for ragged in chunk.ragged:
        rows.append((ragged.row, f"expected {ragged.expected} fields, found {ragged.found}", ragged.values))
    rows.sort(key=lambda r: r[0])
    return rows


# The job keeps its first row errors as JSON in its own row: cut huge values there (a 6 MiB cell would
# exceed MySQL's max_allowed_packet); the errors CSV keeps every value whole.
KEPT_VALUE_CHARS = 200
KEPT_MESSAGE_CHARS = 500


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def _error_kept(error: RowError) -> dict:
    kept = error.as_dict()
    kept["value"] = _cut(kept["value"], KEPT_VALUE_CHARS)
    kept["message"] = _cut(kept["message"], KEPT_MESSAGE_CHARS)
    return kept


def _refused_rows(
    chunk: Chunk, validated: ValidatedChunk, refusals, labels: dict[str, str]
) -> tuple[list[RowError], list]:
    """Rows the table refused (duplicate keys): as row errors, and as errors-file rows with the original values.
    Their messages name the file's header and the column, as validation's do (`labels`)."""
    if not refusals:
        return [], []
    valid_positions = np.setdiff1d(np.arange(len(chunk.frame)), validated.rejected_positions)
    errors, rows = [], []
    for refusal in refusals:
        row = int(validated.row_numbers[refusal.position])
        message = refusal.message
        label = labels.get(refusal.column)
        if label and message.startswith(f"{refusal.column}:"):
            message = label + message[len(refusal.column) :]
        errors.append(RowError(row, refusal.column, refusal.value, refusal.code, message))
        original = chunk.frame.iloc[int(valid_positions[refusal.position])].tolist()
        rows.append((row, message, original))
    return errors, rows


def _ragged_errors(chunk: Chunk) -> list[RowError]:
    return [
        RowError(
            row=r.row,
            column="",
            value="",
            code="ragged_row",
            message=f"expected {r.expected} fields, found {r.found}",
        )
        for r in chunk.ragged
    ]


def _import_checked(job: ImportJob):
    """The checks before any row is read: the table and the file are there, the headers map, the table in the
    database matches its configuration. Returns (format, head, mapping, columns)."""
    table = job.table
    if table is None:
        raise FileRejected(f"The table '{job.table_name}' no longer exists.", code="table_missing")
    path = job_stored_path(job)
    if not path.exists():
        raise FileRejected(
            f"The uploaded file {job.original_filename} is no longer on the server.", code="file_missing"
        )
    # The encoding is checked against the whole file, as quick validation did, before anything is loaded.
    fmt, head = file_open_head(
        path=path, sample_rows=1, name=job.original_filename, whole_file=True, sheet=table.sheet_name
    )
    columns = table_columns(table)
    mapping = headers_map(
        columns=columns, headers=head.normalized, table=table, dist_id=job.dist_id, file_headers=head.headers
    )
    if mapping.missing_mandatory:
        raise FileRejected(mapping.missing_message(), code="missing_columns")
    drift = table_schema_drift(table_name=table.table_name, specs=table_specs(table))
    if drift:
        raise FileRejected(
            f"The table {table.table_name} in the database differs from its configuration: {'; '.join(drift)}. "
            "Run manage.py sync_tables (or save the table in admin), then import again. Nothing was loaded.",
            code="table_out_of_sync",
        )
    return fmt, head, mapping, columns


def _import_file(
    job: ImportJob, outcome: ImportOutcome, progress, *, attempt: int | None = None, dry_run: bool = False
):
    """Read, validate and write every row of a claimed job; raise FileRejected to keep nothing.

    With `attempt` (SQLite, a table without unique columns) the rows go to the run's private rows file and
    the returned JobRowsFile is copied into the table afterwards; without it they go straight into the table,
    inside the caller's transaction. With `dry_run` they go to a writer that writes nothing."""
    table = job.table
    clock = outcome.timings
    with stage_timed("checks", clock):
        fmt, head, mapping, columns = _import_checked(job)
    if mapping.ignored_headers:
        outcome.warnings.append(mapping.ignored_message())
    names = [c.column_name for c in columns]
    unique = [c.column_name for c in columns if c.is_unique]
    errors_file = ErrorsFile(job, head.headers)
    outcome.groups.headers = {rule.name: rule.header for rule in mapping.rules if rule.header}
    labels = {rule.name: rule.label for rule in mapping.rules}
    if dry_run:
        writer = DryRunWriter(
            table_name=table.table_name, columns=names, unique_columns=unique, on_duplicate=table.on_duplicate
        )
    elif attempt is not None:
        writer = job_rows_file_open(
            job_id=job.id, attempt=attempt, table_name=table.table_name, columns=names
        )
    else:
        writer = table_writer_open(
            table_name=table.table_name,
            columns=names,
            unique_columns=unique,
            job_id=job.id,
            on_duplicate=table.on_duplicate,
            update_columns=[rule.name for rule in mapping.rules if rule.source is not None],
        )
    # An append-only table's summary is added up from its rows as they go in; a table with unique columns
    # (rows updated, skipped, repeated) is summarised from what it holds afterwards, by a query.
    outcome.tally = (
        None if unique or dry_run else SummaryTally(columns=columns, chunk_rows=settings.IMPORT_CHUNK_ROWS)
    )
    # Where the tally is added up: on MySQL the main thread waits on the server, so the reader thread does it;
    # on SQLite the reader is the busier thread (the main thread waits for it), so the main thread does.
    outcome.tally_in_reader = connection.vendor == "mysql"

    def doomed(chunk: Chunk, validated: ValidatedChunk) -> bool:
        return _chunk_doomed(table, outcome, chunk, validated)

    keep_errors = False
    try:
        # Active in this thread: a writer times its own load file inside the chunk's write.
        with clock.active():
            with stage_timed(writer.stage, clock):
                writer.job_rows_delete()
            chunks = _validated_chunks(
                job_stored_path(job),
                fmt,
                mapping.rules,
                settings.IMPORT_CHUNK_ROWS,
                name=job.original_filename,
                clock=clock,
                ready=_ahead(
                    writer, outcome.tally if outcome.tally_in_reader else None, clock, doomed=doomed
                ),
            )
            # One chunk read ahead is enough to overlap reading with loading, and keeps memory low.
            with _prefetched(chunks, depth=1) as prefetched:
                while True:
                    with stage_timed("wait", clock):
                        item = next(prefetched, None)
                    if item is None:
                        break
                    chunk, validated, prepared = item
                    _chunk_record(
                        job, table, writer, errors_file, outcome, chunk, validated, labels, prepared
                    )
                    job_progress_set(job.id, outcome.total_rows)
                    if progress:
                        progress(outcome.total_rows)
            keep_errors = True
    finally:
        writer.close()
        job.errors_file = errors_file.close(keep=keep_errors)
    if table.reject_file_on_error and outcome.error_count:
        raise RejectedOnErrors(
            f"{outcome.error_count:,} of {outcome.total_rows:,} rows are invalid and this table rejects the whole "
            "file on any error: nothing was imported. Download the errors, fix those rows and upload again.",
        )
    return writer


def _chunk_doomed(table, outcome: ImportOutcome, chunk: Chunk, validated: ValidatedChunk) -> bool:
    """Whether nothing of the file will be kept (it is rejected whole on its first bad row): its later
    chunks are only counted, never written."""
    return bool(
        table.reject_file_on_error and (outcome.error_count or len(validated.rejected) or chunk.ragged)
    )


def _chunk_record(
    job,
    table,
    writer,
    errors_file,
    outcome: ImportOutcome,
    chunk: Chunk,
    validated,
    labels: dict[str, str],
    prepared=None,
) -> None:
    """Write one validated chunk's good rows (or what the reader thread `prepared` of them) and record its
    bad ones (counts, grouped errors, kept errors, errors file)."""
    outcome.total_rows += len(chunk.frame) + len(chunk.ragged)
    outcome.warnings.extend(chunk.notes)
    for column, count in validated.rounded.items():
        outcome.rounded[column] = outcome.rounded.get(column, 0) + count
    refused: list[RowError] = []
    refused_rows: list[tuple[int, str, list[str]]] = []
    if len(validated.frame) and not _chunk_doomed(table, outcome, chunk, validated):
        with stage_timed(writer.stage, outcome.timings):
            if prepared is not None:
                written = writer.chunk_write(prepared=prepared)
            else:
                written = writer.chunk_write(frame=validated.frame, row_numbers=validated.row_numbers)
        outcome.inserted_count += written.inserted
        outcome.updated_count += written.updated
        outcome.skipped_count += written.skipped
        outcome.repeated_count += written.repeated
        if outcome.tally is not None and not outcome.tally_in_reader:
            with stage_timed("summary", outcome.timings):
                outcome.tally.add(validated.frame)
        refused, refused_rows = _refused_rows(chunk, validated, written.refused, labels)
    errors = sorted([*validated.errors, *_ragged_errors(chunk), *refused], key=lambda e: e.row)
    rejected = len(validated.rejected) + len(chunk.ragged) + len(refused_rows)
    outcome.error_count += rejected
    outcome.groups.add(errors)
    room = ROW_ERRORS_KEPT - len(outcome.errors)
    if room > 0:
        outcome.errors.extend(_error_kept(e) for e in errors[:room])
    if rejected:
        with stage_timed("rejects", outcome.timings):
            errors_file.rows_write(sorted([*_rejected_rows(chunk, validated), *refused_rows]))


class _Run:
    """What the failure paths need to know about a run: the job once read, and its errors file."""

    job: ImportJob | None = None
    finished: bool = False  # this run recorded the job complete (not a later one)


def _job_finished(
    job: ImportJob, run: _Run, outcome: ImportOutcome, summary: dict, days: list[PeriodDay]
) -> ImportJob:
    """Record the job complete with its summary and its rows per day (the compliance view's figures), in the
    caller's transaction."""
    run.finished = True  # undone below if job_finish finds the job moved on (the transaction rolls back)
    outcome.timings.stop()
    summary = {**summary, "timings": outcome.timings.as_dict()}
    finished = job_finish(
        job,
        status=JobStatus.COMPLETE,
        outcome=outcome,
        summary=summary,
        notes=job_notes_format(outcome=outcome, summary=summary),
    )
    JobPeriodTotal.objects.filter(job_id=job.id).delete()
    JobPeriodTotal.objects.bulk_create(
        [JobPeriodTotal(job_id=job.id, day=d.day, rows=d.rows, amount=d.amount or "") for d in days],
        batch_size=1000,
    )
    return finished


def _summary_of(job: ImportJob, outcome: ImportOutcome) -> tuple[dict, list[PeriodDay]]:
    """The job's summary: added up while its rows went in (append-only tables), else read from the table."""
    if outcome.tally is not None:
        return outcome.tally.result()
    return job_summary_with_days(
        table_name=job.table.table_name, columns=table_columns(job.table), job_id=job.id
    )


def _import_in_one_transaction(job_id: int, run: _Run, outcome: ImportOutcome, progress) -> ImportJob:
    """MySQL (row locks), and SQLite tables with unique columns: every row written inside one transaction
    that also holds the job's row, so a duplicate delivery waits and then finds the job final."""
    with transaction.atomic():
        # The job's row only: a select_related("table") here would lock the table's configuration row too,
        # and every upload to that table (its foreign key check) would wait for this whole import on MySQL.
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        run.job = job
        if job.status != JobStatus.PROCESSING:
            return job
        _import_file(job, outcome, progress)
        with stage_timed("summary", outcome.timings):
            summary, days = _summary_of(job, outcome)
        job_resent_check(job, lock=True)  # an identical file that committed while this one was read
        return _job_finished(job, run, outcome, summary, days)


def _import_staged(job: ImportJob, attempt: int, run: _Run, outcome: ImportOutcome, progress) -> ImportJob:
    """SQLite, a table without unique columns: read, validate and write the rows into the run's private file
    with no lock on the database, then copy them in one short transaction (see services/staging.py)."""
    run.job = job
    path = job_rows_file_path(job_id=job.id, attempt=attempt)
    try:
        rows = _import_file(job, outcome, progress, attempt=attempt)
        if not _run_current(job.id, attempt):
            logger.info("Job %s: run %s superseded by a later one; its rows are not kept.", job.id, attempt)
            return ImportJob.objects.get(pk=job.id)
        summary, days = _summary_of(job, outcome)
        with job_rows_attached(path=rows.path) as schema:
            with transaction.atomic():
                if not _run_current(job.id, attempt):  # decided under the write lock
                    logger.info(
                        "Job %s: run %s superseded by a later one; its rows are not kept.", job.id, attempt
                    )
                    return ImportJob.objects.get(pk=job.id)
                job_resent_check(job)  # under the write lock: an identical file committed meanwhile
                job_rows_undo(table_name=job.table.table_name, job_id=job.id)  # an earlier run's
                with stage_timed("server_load", outcome.timings):
                    copied = rows.rows_copy(schema=schema)
                if copied != outcome.inserted_count:
                    raise DatabaseError(
                        f"Copied {copied:,} rows of job {job.id} into {job.table.table_name}, expected "
                        f"{outcome.inserted_count:,}."
                    )
                return _job_finished(job, run, outcome, summary, days)
    finally:
        path.unlink(missing_ok=True)


DRY_RUN_ROW_ERRORS = "row_errors"


def _dry_run_check(job: ImportJob, attempt: int, run: _Run, outcome: ImportOutcome, progress) -> ImportJob:
    """A dry run: every row read and validated by the import's own path, nothing loaded; the job ends 5 (all
    rows valid) or 6 (its row errors, error_count and errors CSV kept), its upload kept for the import."""
    run.job = job
    code = message = ""
    try:
        _import_file(job, outcome, progress, dry_run=True)
    except RejectedOnErrors as exc:
        code, message = exc.code, exc.message
    if not _run_current(job.id, attempt):
        return ImportJob.objects.get(pk=job.id)
    valid = outcome.total_rows - outcome.error_count
    would = [f"{outcome.inserted_count:,} new"]
    if outcome.updated_count:
        would.append(f"{outcome.updated_count:,} updating rows already in the table")
    if outcome.skipped_count:
        would.append(f"{outcome.skipped_count:,} skipped (already in the table)")
    if outcome.repeated_count:
        would.append(f"{outcome.repeated_count:,} repeating a key of an earlier row")
    notes = (
        f"Dry run: {valid:,} of {outcome.total_rows:,} rows are valid ({', '.join(would)}), "
        f"{outcome.error_count:,} rejected; nothing was loaded."
    )
    if outcome.error_count and not message:
        code = DRY_RUN_ROW_ERRORS
        message = (
            f"Dry run: {outcome.error_count:,} of {outcome.total_rows:,} rows have errors; nothing was loaded. "
            "Import the checked files to load the valid rows, or fix the rows and upload again."
        )
    outcome.timings.stop()
    summary = {
        "dry_run": {
            "valid_rows": valid,
            "new_rows": outcome.inserted_count,
            "updated_rows": outcome.updated_count,
            "skipped_rows": outcome.skipped_count,
            "repeated_rows": outcome.repeated_count,
        },
        "timings": outcome.timings.as_dict(),
    }
    run.finished = True
    return job_finish(
        job,
        status=JobStatus.VALIDATION_FAILED if outcome.error_count else JobStatus.VALIDATION_OK,
        outcome=outcome,
        summary=summary,
        notes=notes,
        message=message,
        code=code,
        kept_rows=0,
    )


def _run_current(job_id: int, attempt: int) -> bool:
    """Whether this run still owns the job: processing, and no later delivery has claimed it since."""
    current = ImportJob.objects.filter(pk=job_id).values_list("status", "attempts").first()
    return current == (JobStatus.PROCESSING, attempt)


def import_job_run(*, job_id: int, progress: Callable[[int], None] | None = None) -> ImportJob | None:
    """Import one waiting job. Safe to call twice: a second call finds the job final and does nothing."""
    attempt = _job_claim(job_id)
    if attempt is None:
        return ImportJob.objects.filter(pk=job_id).first()
    if attempt is _BUSY:
        return None

    outcome = ImportOutcome()
    run = _Run()
    try:
        job = ImportJob.objects.select_related("table").get(pk=job_id)
        job_resent_check(job)  # identical content imported since quick validation: refused before any read
        unique = [c.column_name for c in table_columns(job.table) if c.is_unique] if job.table else []
        if job.mode == ImportMode.DRY_RUN:
            job = _dry_run_check(job, attempt, run, outcome, progress)
        elif job.table is not None and job_rows_staged_possible(unique_columns=unique):
            job = _import_staged(job, attempt, run, outcome, progress)
        else:
            job = _import_in_one_transaction(job_id, run, outcome, progress)
        if run.finished:
            logger.info("Job %s complete: %s; seconds: %s", job_id, job.notes, outcome.timings.as_dict())
        return job
    except JobMovedOn:
        # Another part of the app (a later run, the stale-job scan, a revert) moved the job while this run
        # imported: this run's transaction rolled back, the job is as that part left it.
        logger.info("Job %s moved on while this run imported it; this run keeps nothing.", job_id)
        return ImportJob.objects.filter(pk=job_id).first()
    except FileRejected as exc:
        logger.info("Job %s: file rejected: %s", job_id, exc.message)
        dry_run = run.job is not None and run.job.mode == ImportMode.DRY_RUN
        return _job_fail(
            job_id,
            # A dry run is a check: a file it refuses failed validation (6), as at quick validation; so is a
            # re-sent file found at import time.
            status=JobStatus.VALIDATION_FAILED
            if dry_run or isinstance(exc, DuplicateContent)
            else JobStatus.PROCESSING_FAILED,
            message=exc.message,
            code=exc.code,
            outcome=outcome,
            errors_file=getattr(run.job, "errors_file", ""),
            attempt=attempt,
        )
    except Exception as exc:
        retry = _retry_reason(exc)
        if retry and run.job is None:
            # The wait was for the job's own row: another delivery of this task holds it and is importing.
            logger.info(
                "Job %s is being imported by another worker (%s); leaving it to that worker.", job_id, exc
            )
            return ImportJob.objects.filter(pk=job_id).first()
        if retry:
            retried = _job_retry_after_lost_connection(job_id, attempt=attempt, reason=retry)
            if retried is not None:
                return retried
        logger.exception("Job %s failed unexpectedly", job_id)
        if isinstance(exc, DatabaseError) and not connection.in_atomic_block:
            connection.close()  # it may be unusable now; recording the failure reconnects
        return _job_fail(
            job_id,
            status=JobStatus.FAILED,
            message=f"Unexpected error while importing ({type(exc).__name__}: {exc}). No rows were kept; "
            "the error was logged for the administrators.",
            code="unexpected_error",
            outcome=outcome,
            errors_file="",
            attempt=attempt,
        )


# Seconds to wait between tries when SQLite's write lock is busy at the claim (each try itself waits up to
# SQLITE_TIMEOUT in SQLite's busy handler). After the last, the task is queued again: never abandoned.
CLAIM_BACKOFF = (1, 2, 4, 8)
_BUSY = object()


def _sqlite_busy(exc: BaseException) -> bool:
    return connection.vendor == "sqlite" and "locked" in str(exc).lower()


def _job_claim(job_id: int):
    """Move the job to processing (its attempts + 1) and return this run's attempt number; None when the
    job is not waiting; _BUSY when another worker holds it (MySQL) or the database stayed busy (SQLite,
    then the task is queued again)."""
    for delay in (*CLAIM_BACKOFF, None):
        try:
            with transaction.atomic():
                claimed = job_status_compare_and_set(
                    job_id=job_id,
                    from_statuses=(JobStatus.WAITING, JobStatus.PROCESSING),
                    to_status=JobStatus.PROCESSING,
                    started=True,
                )
                if not claimed:
                    logger.info("Job %s is not waiting (already done or not ready); nothing to do.", job_id)
                    return None
                return ImportJob.objects.filter(pk=job_id).values_list("attempts", flat=True).get()
        except OperationalError as exc:
            if _sqlite_busy(exc):
                if delay is None:
                    break
                logger.info(
                    "Job %s: the database is busy (%s); trying the claim again in %s s.", job_id, exc, delay
                )
                time.sleep(delay)
                continue
            if _retry_reason(exc) == "lock":
                # The job's row is locked: an import of this job holds it (the one-transaction path).
                logger.info("Job %s is being imported by another worker; leaving it to that worker.", job_id)
                return _BUSY
            raise
    logger.warning("Job %s: the database stayed busy; the job stays waiting and is queued again.", job_id)
    import_job_enqueue(job_id=job_id)
    return _BUSY


# MySQL/MariaDB client and server codes for a connection that went away (server gone, lost during a
# query, killed, shut down): the transaction was rolled back by the server, so the file can simply run again.
CONNECTION_LOST_CODES = {2006, 2013, 1927, 4031, 1053}
# Lock trouble: a lock wait timeout (1205) or a deadlock (1213). The import's transaction is rolled back
# (by the server for a deadlock, by leaving the atomic block for a timeout), so the file can run again too.
LOCK_TROUBLE_CODES = {1205, 1213}
RETRY_NOTES = {
    "connection": "The database connection was lost while importing; no rows were kept. The import is being "
    "retried.",
    "lock": "The import met a lock held by another transaction (a lock wait timeout or a deadlock); no rows "
    "were kept. The import is being retried.",
}


def _retry_reason(exc: BaseException) -> str:
    """ "connection" or "lock" when the failure is one a new run can get past, else ""."""
    while exc is not None:
        if isinstance(exc, DatabaseError) and exc.args:
            if exc.args[0] in CONNECTION_LOST_CODES:
                return "connection"
            if exc.args[0] in LOCK_TROUBLE_CODES:
                return "lock"
        exc = exc.__cause__
    return ""


def _job_retry_after_lost_connection(
    job_id: int, *, attempt: int, reason: str = "connection"
) -> ImportJob | None:
    """Queue the job again on a new connection (bounded by Q_MAX_ATTEMPTS); None when it is out of tries."""
    connection.close()
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None or job.status != JobStatus.PROCESSING or job.attempts != attempt:
        return job  # final, or claimed by a later run meanwhile: that run decides
    if job.attempts - job.attempts_before_retry >= (settings.Q_CLUSTER.get("max_attempts") or 3):
        return None
    logger.warning("Job %s: %s", job_id, RETRY_NOTES[reason])
    if job_status_compare_and_set(
        job_id=job_id,
        from_statuses=[JobStatus.PROCESSING],
        to_status=JobStatus.WAITING,
        where={"attempts": attempt},
        notes=RETRY_NOTES[reason],
    ):
        import_job_enqueue(job_id=job_id)
    return ImportJob.objects.get(pk=job_id)


def _job_fail(
    job_id: int, *, status, message: str, code: str, outcome: ImportOutcome, errors_file: str, attempt: int
):
    """The failure path: one compare-and-set from this run's processing (a later run's claim wins), never a
    read-then-save of the whole row."""
    try:
        job_fail(
            job_id=job_id,
            status=status,
            message=message,
            code=code,
            total_rows=outcome.total_rows,
            error_count=outcome.error_count,
            errors=outcome.errors,
            error_summary=outcome.error_summary,
            warnings=outcome.warnings,
            errors_file=errors_file,
            attempt=attempt,
        )
    except OperationalError as exc:
        if not _retry_reason(exc):
            raise
        # Another worker holds the job's row: it decides the job's fate; this delivery changes nothing.
        logger.warning(
            "Job %s: not recording this run's failure, the job is locked by another worker.", job_id
        )
    return ImportJob.objects.filter(pk=job_id).first()
