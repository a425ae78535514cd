"""Map a file's unmatched headers to its table's columns once: the headers become aliases (through the
configuration services, with their clash rules) and the file is re-run from its stored upload.

Which headers are unmatched is read from the file itself (its head only), with the same matching the import
uses (`matching.headers_map`), against the configuration as it is now: a header an earlier mapping turned into
an alias is matched, not offered again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from importhub.errors import ImportHubError
from tableconfig.models import Alias, ColumnConfig, ImportTable
from tableconfig.naming import normalize_name
from tableconfig.services import import_table_save

from ..archive.workflow import job_archive_local_path
from ..models import FAILED_STATUSES, ImportJob, JobStatus
from .jobs import job_stored_path
from .matching import HeaderMapping, headers_map, table_columns
from .reading import file_open_head
from .retention import job_upload_available
from .workflow import UploadNotKept, job_retry

# A refused file is re-run; a complete one keeps its rows, and its aliases serve the next files.
RERUN_STATUSES = FAILED_STATUSES
MAPPABLE_STATUSES = (*RERUN_STATUSES, JobStatus.COMPLETE)
MISSING_COLUMNS = "missing_columns"
# The start of the warning the import and quick validation write for ignored headers (one wording, in matching).
IGNORED_PREFIX = HeaderMapping(rules=[], missing_mandatory=[], ignored_headers=[]).ignored_message().strip()


class MappingError(ImportHubError):
    """A mapping that cannot be saved as asked; nothing was saved."""

    code = "invalid_mapping"


class MappingNotPossible(ImportHubError):
    """The job is in no state to be mapped (still running, no table, its upload gone)."""

    code = "job_not_rerunnable"
    http_status = 409


@dataclass(frozen=True)
class UnmatchedHeader:
    header: str  # as the file spells it
    normalized: str  # as the import reads it


@dataclass(frozen=True)
class ColumnChoice:
    column: ColumnConfig

    @property
    def column_name(self) -> str:
        return self.column.column_name

    @property
    def is_mandatory(self) -> bool:
        return self.column.is_mandatory


@dataclass
class JobHeaders:
    """A job's file headers that no column reads, and the table's columns that no header feeds."""

    job: ImportJob
    table: ImportTable
    headers: list[UnmatchedHeader]
    columns: list[ColumnChoice]  # mandatory ones first, then in the table's order
    matched: dict[str, str]  # normalised header -> column name, for the headers that are read
    spelled: dict[str, str]  # normalised header -> as the file spells it

    @property
    def will_rerun(self) -> bool:
        return self.job.status in RERUN_STATUSES


@dataclass
class MappingSaved:
    job: ImportJob
    aliases: list[tuple[str, Alias]]  # (the file's header, the alias created for it)
    rerun: bool
    message: str

    def as_dict(self) -> dict:
        return {
            "job_id": self.job.id,
            "batch_id": str(self.job.batch_id),
            "table_name": self.job.table_name,
            "aliases": [
                {
                    "id": a.id,
                    "header": header,
                    "column_name": a.column.column_name,
                    "alias_name": a.alias_name,
                }
                for header, a in self.aliases
            ],
            "rerun": self.rerun,
            "status": self.job.status,
            "status_label": self.job.status_label,
            "message": self.message,
        }


def job_mapping_wanted(job: ImportJob) -> bool:
    """Whether a job's file may have headers to map, from what the job recorded (without reading the file)."""
    if job.table_id is None or job.status not in MAPPABLE_STATUSES:
        return False
    return job.error_code == MISSING_COLUMNS or any(str(w).startswith(IGNORED_PREFIX) for w in job.warnings)


def job_upload_path(job: ImportJob) -> Path | None:
    """Where the job's original file still is: a failed job's kept upload (what its re-run reads); a complete
    job's upload until it is archived, then the local archive's copy."""
    if job.status in RERUN_STATUSES:
        return job_stored_path(job) if job_upload_available(job) else None
    if job.stored_filename:
        stored = job_stored_path(job)
        if stored.is_file():
            return stored
    archived = job_archive_local_path(job)
    return archived if archived is not None and archived.is_file() else None


def job_headers_unmatched(*, job: ImportJob) -> JobHeaders:
    """Read the job's file head and say which headers no column reads, and which columns no header feeds."""
    if job.status not in MAPPABLE_STATUSES:
        raise MappingNotPossible(
            f"{job.original_filename} is {job.status_label.lower()}: headers can be mapped once the file is "
            "refused, failed or imported."
        )
    table = job.table
    if table is None:
        raise MappingNotPossible(
            f"{job.original_filename} was not matched to a table, so its headers cannot be mapped.",
            code="no_table",
        )
    path = job_upload_path(job)
    if path is None:
        raise UploadNotKept(
            f"The upload of {job.original_filename} is no longer kept on the server, so its headers cannot be "
            "read; upload the file again."
        )
    _, head = file_open_head(path=path, sample_rows=1, name=job.original_filename)
    columns = table_columns(table)
    mapping = headers_map(columns=columns, headers=head.normalized, table=table)
    ignored = set(mapping.ignored_headers)
    headers = [
        UnmatchedHeader(header=original.strip(), normalized=normalized)
        for original, normalized in zip(head.headers, head.normalized, strict=True)
        if normalized in ignored
    ]
    sources = {rule.name: rule.source for rule in mapping.rules}
    free = [c for c in columns if not sources.get(c.column_name)]
    free.sort(key=lambda c: not c.is_mandatory)  # stable: the table's order within each group
    return JobHeaders(
        job=job,
        table=table,
        headers=headers,
        columns=[ColumnChoice(column=c) for c in free],
        matched={source: name for name, source in sources.items() if source},
        spelled={n: o.strip() for o, n in zip(head.headers, head.normalized, strict=True)},
    )


def job_headers_offer(*, job: ImportJob) -> JobHeaders | None:
    """For the batch page: the job's unmatched headers when it has any to offer, else None (never raises)."""
    if not job_mapping_wanted(job):
        return None
    try:
        offer = job_headers_unmatched(job=job)
    except ImportHubError:
        return None
    return offer if offer.headers and offer.columns else None


def _pairs_check(offer: JobHeaders, headers: Mapping[str, str]) -> list[tuple[UnmatchedHeader, ColumnChoice]]:
    """The requested (header, column) pairs, each checked; the first problem refuses the whole mapping."""
    if not headers:
        raise MappingError(
            "Choose a column for at least one header.", code="no_headers", details={"field": "headers"}
        )
    unmatched = {h.normalized: h for h in offer.headers}
    free = {c.column_name: c for c in offer.columns}
    every = {c.column_name for c in table_columns(offer.table)}
    name = offer.job.original_filename
    chosen: dict[str, str] = {}
    pairs = []
    for header, column_name in headers.items():
        header, column_name = str(header).strip(), str(column_name or "").strip()
        key = normalize_name(header)
        if key not in unmatched:
            if key in offer.matched:
                raise MappingError(
                    f"The header '{header}' of {name} is already read as the column '{offer.matched[key]}'.",
                    code="header_already_matched",
                    details={"field": "headers", "header": header},
                )
            raise MappingError(
                f"The header '{header}' is not in {name}; its unmatched headers are: "
                f"{', '.join(h.header for h in offer.headers) or '(none)'}.",
                code="header_not_in_file",
                details={"field": "headers", "header": header},
            )
        if column_name not in every:
            raise MappingError(
                f"'{column_name}' (chosen for the header '{header}') is not a column of {offer.table.table_name}.",
                code="column_not_in_table",
                details={"field": "headers", "header": header, "column": column_name},
            )
        if column_name not in free:
            source = offer.spelled[next(h for h, c in offer.matched.items() if c == column_name)]
            raise MappingError(
                f"The column '{column_name}' (chosen for the header '{header}') is already read from the "
                f"header '{source}' of {name}.",
                code="column_already_matched",
                details={"field": "headers", "header": header, "column": column_name},
            )
        if column_name in chosen:
            raise MappingError(
                f"The column '{column_name}' is chosen for two headers: '{chosen[column_name]}' and '{header}'.",
                code="column_chosen_twice",
                details={"field": "headers", "header": header, "column": column_name},
            )
        chosen[column_name] = header
        pairs.append((unmatched[key], free[column_name]))  # the alias is spelled as in the file
    return pairs


def job_headers_map(*, job: ImportJob, headers: Mapping[str, str], user) -> MappingSaved:
    """Save each chosen header as an alias of its column (all or none, with the configuration's clash rules);
    then re-run a refused or failed file from its stored upload. A complete file keeps its rows: the aliases
    are for the next files."""
    offer = job_headers_unmatched(job=job)
    pairs = _pairs_check(offer, headers)
    changes: dict[int, dict] = {}
    for header, choice in pairs:
        changes.setdefault(choice.column.pk, {"aliases_added": []})["aliases_added"].append(header.header)
    with transaction.atomic():
        saved = import_table_save(table=offer.table, columns_changed=changes)
        by_header = {normalize_name(a.alias_name): a for a in saved.aliases}
        aliases = [(h.header, by_header[h.normalized]) for h, _ in pairs]
        names = ", ".join(f"{h} -> {a.column.column_name}" for h, a in aliases)
        if offer.will_rerun:
            job = _job_rerun(job=job, user=user)
            if job.status == JobStatus.WAITING:
                message = f"Saved {names}; {job.original_filename} is checked again and queued."
            else:
                message = (
                    f"Saved {names}; {job.original_filename} was checked again and is still refused: "
                    f"{job.error_message}"
                )
        else:
            message = (
                f"Saved {names} for the next files; {job.original_filename} was already imported, so it is not "
                "re-run."
            )
    return MappingSaved(job=job, aliases=aliases, rerun=offer.will_rerun, message=message)


def _job_rerun(*, job: ImportJob, user) -> ImportJob:
    """Re-validate and re-queue the job from its stored upload (the workflow's retry)."""
    return job_retry(job_id=job.id, user=user)
