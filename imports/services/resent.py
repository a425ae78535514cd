"""Re-sent files: content (by SHA-256) already imported into the same table by the same sender (the same
`dist_id`, empty for none), or sent twice in one batch. Identical bytes from another distributor are its own
file, not a re-send (two distributors' stock files may well be equal), and its batch is not named to them.

Quick validation only warns. A full or both upload of such a file is refused (status 6, code
`duplicate_content`) unless the batch is forced; the import task checks again when it starts and once more
just before its rows are committed, so that of two identical files submitted at the same moment only one is
imported. A reverted import no longer counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from importhub.errors import FileRejected, ImportHubError
from tableconfig.models import ImportTable

from ..models import ImportBatch, ImportJob, ImportMode, JobStatus

DUPLICATE_CONTENT = "duplicate_content"


class DuplicateContent(FileRejected):
    """Ends the job with status 6 (validation failed), as quick validation would have."""

    code = DUPLICATE_CONTENT


@dataclass(frozen=True)
class EarlierCopy:
    """Where identical content was seen: an earlier complete import, or an earlier file of this batch."""

    filename: str
    batch_id: str = ""
    completed_at: object = None  # datetime of an earlier import; None for a file of this batch

    @property
    def pointer(self) -> str:
        if self.completed_at is None:
            return f"identical to {self.filename}, sent earlier in this batch"
        day = timezone.localtime(self.completed_at).date().isoformat()
        return f"identical to {self.filename}, imported {day} in batch {self.batch_id}"


def content_earlier_import(
    *, table_name: str, sha256: str, dist_id: str = "", exclude_job_id: int | None = None
) -> EarlierCopy | None:
    """The first complete, not reverted import of identical content into `table_name` sent with `dist_id`,
    or None (one indexed query on content_sha256)."""
    if not sha256 or not table_name:
        return None
    jobs = ImportJob.objects.filter(
        content_sha256=sha256,
        table_name=table_name,
        dist_id=dist_id,
        status=JobStatus.COMPLETE,
        reverted_at__isnull=True,
    )
    if exclude_job_id is not None:
        jobs = jobs.exclude(pk=exclude_job_id)
    earlier = (
        jobs.order_by("completed_at", "id").values("original_filename", "batch_id", "completed_at").first()
    )
    if earlier is None:
        return None
    return EarlierCopy(
        filename=earlier["original_filename"],
        batch_id=str(earlier["batch_id"]),
        completed_at=earlier["completed_at"],
    )


def refuses(mode: str) -> bool:
    """Whether a mode refuses re-sent content (it loads rows); quick and dry_run only warn."""
    return mode in (ImportMode.FULL, ImportMode.BOTH)


def refusal_message(*, filename: str, earlier: EarlierCopy) -> str:
    return (
        f"{filename} is {earlier.pointer}: not imported again. Send it with force=true (the upload form's "
        '"Import even if already imported") to import it anyway.'
    )


def forced_message(earlier: EarlierCopy) -> str:
    return f"{earlier.pointer[0].upper()}{earlier.pointer[1:]}; imported again because the upload was forced."


class BatchCopies:
    """A submission's view of re-sent content: each valid file's earlier copy, if any, and what that means for
    its result in the batch's mode."""

    def __init__(self, *, mode: str, forced: bool, dist_id: str = ""):
        self.mode = mode
        self.forced = forced
        self.dist_id = dist_id
        self._seen: dict[tuple[str, str], str] = {}

    def result_check(self, result, *, sha256: str) -> None:
        """Add the pointer to a valid QuickResult: a warning, or (full/both, not forced) its refusal."""
        if not result.valid or not sha256 or not result.table_name:
            return
        key = (result.table_name, sha256)
        earlier = content_earlier_import(table_name=result.table_name, sha256=sha256, dist_id=self.dist_id)
        if earlier is None and key in self._seen:
            earlier = EarlierCopy(filename=self._seen[key])
        self._seen.setdefault(key, result.filename)
        if earlier is None:
            return
        if not refuses(self.mode):
            result.warnings.append(f"{earlier.pointer[0].upper()}{earlier.pointer[1:]}.")
        elif self.forced:
            result.warnings.append(forced_message(earlier))
        else:
            result.valid = False
            result.error = refusal_message(filename=result.filename, earlier=earlier)
            result.error_code = DUPLICATE_CONTENT


def job_resent_check(job: ImportJob, *, lock: bool = False) -> None:
    """At import time: raise DuplicateContent when identical content was imported into the job's table since
    its quick validation (another batch won the race), unless its batch was forced or it is a dry run.

    With `lock` (just before the rows are committed, on MySQL) the table's configuration row is locked first,
    so two such checks of one table run one after the other and the second sees the first's commit (READ
    COMMITTED). SQLite's BEGIN IMMEDIATE already serialises the committing transactions."""
    if not job.content_sha256 or job.mode == ImportMode.DRY_RUN:
        return
    if ImportBatch.objects.filter(batch_id=job.batch_id, forced=True).exists():
        return
    if lock and connection.vendor == "mysql" and job.table_id:
        list(ImportTable.objects.select_for_update().filter(pk=job.table_id).values_list("pk", flat=True))
    earlier = content_earlier_import(
        table_name=job.table_name, sha256=job.content_sha256, dist_id=job.dist_id, exclude_job_id=job.id
    )
    if earlier is not None:
        raise DuplicateContent(refusal_message(filename=job.original_filename, earlier=earlier))


class InvalidForce(ImportHubError):
    code = "invalid_force"


FORCE_TRUE = {"true", "1", "on", "yes"}
FORCE_FALSE = {"false", "0", "off", "no", ""}


def force_normalize(value) -> bool:
    """The `force` field as a front end receives it (a checkbox's "on", "true", a bool, nothing); anything
    else is refused, never guessed."""
    if isinstance(value, bool):
        return value
    text = str(value if value is not None else "").strip().lower()
    if text in FORCE_TRUE:
        return True
    if text in FORCE_FALSE:
        return False
    raise InvalidForce(
        f"force: '{text[:20]}' is not true or false. Use force=true to import files already imported.",
        details={"field": "force"},
    )


def batch_force(*, batch_id) -> None:
    """Record that a batch's files are imported even when already imported (ImportBatch.forced)."""
    ImportBatch.objects.filter(batch_id=batch_id).update(forced=True)
