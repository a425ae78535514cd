"""Inbox folders: INBOX_DIR/<distributor code>/ holds the files a distributor's SFTP or SMB account wrote.

One scan (`inbox_folders_scan`, run by the inbox_poll_task schedule and `manage.py inbox_scan`) looks at every
folder in turn; a folder's problem is recorded in its InboxScan row and logged, and the scan goes on.

For one folder:
- Submitted files whose jobs are all final are finished: moved to processed/YYYY-MM-DD/ (every job complete)
  or failed/YYYY-MM-DD/ (otherwise) with `<name>.result.json` beside them (and `<name>.errors.csv`, the rows
  refused). The destination is chosen and stored in the claim before anything is written, so a crash part way
  is finished by the next scan.
- Regular files at the folder's top level are listed (dot-files, *.part, *.tmp, *.filepart and subfolders
  ignored). A file is settled when its mtime is INBOX_SETTLE_SECONDS old and the previous scan saw it with the
  same size and mtime; the others are recorded as waiting.
- Each settled file is claimed (InboxClaim, by folder, name, size and mtime_ns) before it is read; the files
  claimed in one scan form one batch (mode full, the folder's code as dist_id, source inbox). A claim left
  by a scanner that has ended is resumed: its batch is looked up by the claim's batch id.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from importhub.errors import ImportHubError, StorageUnavailable

from ..models import (
    BatchSource,
    Distributor,
    ImportBatch,
    ImportJob,
    InboxClaim,
    InboxClaimState,
    InboxKind,
    InboxScan,
    JobStatus,
)
from .batches import Upload, import_batch_submit
from .inbox_claims import claim_key, claim_scanner_gone, claim_state_set, claim_take, scanner_id
from .rejects import job_errors_file

logger = logging.getLogger(__name__)

PROCESSED = "processed"
FAILED = "failed"
IGNORED_SUFFIXES = (".part", ".tmp", ".filepart")
ROOT_SOURCE = "*"  # the InboxScan row of INBOX_DIR itself
READ_CHUNK = 1024 * 1024
# The worst first: a ZIP's .result.json carries the worst of its members' statuses.
_WORST_FIRST = (
    JobStatus.FAILED,
    JobStatus.PROCESSING_FAILED,
    JobStatus.VALIDATION_FAILED,
    JobStatus.SKIPPED,
    JobStatus.COMPLETE,
)


@dataclass
class FolderScanReport:
    folders: int = 0
    taken: int = 0
    batches: list[str] = field(default_factory=list)
    waiting: int = 0
    finished: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = (
            f"inbox folders: {self.folders} scanned, {self.taken} files taken in {len(self.batches)} "
            f"batches, {self.waiting} settling, {self.finished} moved to processed/failed"
        )
        if self.errors:
            text += f", {len(self.errors)} errors: " + "; ".join(self.errors)
        return text


def file_ignored(name: str) -> bool:
    """Names a scan never takes: dot-files and the partial files of SFTP/SMB clients."""
    return name.startswith(".") or name.lower().endswith(IGNORED_SUFFIXES)


def inbox_folders_scan(*, now: dt.datetime | None = None) -> FolderScanReport:
    """Scan every inbox folder once; never raises for a folder's problem (see the module's docstring)."""
    report = FolderScanReport()
    if not settings.INBOX_DIR:
        return report
    now = now or timezone.now()
    root = Path(settings.INBOX_DIR)
    try:
        names = sorted(entry.name for entry in os.scandir(root) if entry.is_dir(follow_symlinks=True))
    except OSError as exc:
        _scan_error(ROOT_SOURCE, f"Cannot read the inbox folder {root}: {exc.strerror or exc}", now, report)
        return report
    _scan_ok(ROOT_SOURCE, now, taken=0, waiting=[])

    distributors = {d.code: d for d in Distributor.objects.all()}
    for code, distributor in distributors.items():
        if distributor.is_active and code not in names and _code_usable(code):
            try:
                (root / code).mkdir(exist_ok=True)
                names.append(code)
            except OSError as exc:
                _scan_error(
                    code, f"Cannot create the inbox folder {root / code}: {exc.strerror or exc}", now, report
                )
    for name in sorted(set(names)):
        if name.startswith("."):
            continue
        distributor = distributors.get(name)
        if distributor is None:
            _scan_error(
                name,
                f"The folder {root / name} matches no distributor code: its files are not taken. Rename it to "
                "a distributor's code, or add the distributor.",
                now,
                report,
            )
            continue
        report.folders += 1
        try:
            _folder_scan(distributor, root / name, now=now, report=report)
        except Exception as exc:  # a folder's problem never stops the other folders
            logger.exception("Inbox folder %s: scan failed", name)
            text = exc.message if isinstance(exc, ImportHubError) else f"{type(exc).__name__}: {exc}"
            _scan_error(name, f"Scan of {root / name} failed: {text}", now, report)
    return report


def _code_usable(code: str) -> bool:
    return bool(code) and "/" not in code and "\0" not in code and code not in (".", "..")


def _scan_row(source: str) -> InboxScan:
    return InboxScan.objects.get_or_create(kind=InboxKind.FOLDER, source=source)[0]


def _scan_error(source: str, message: str, now: dt.datetime, report: FolderScanReport) -> None:
    logger.error("Inbox folder %s: %s", source, message)
    report.errors.append(f"{source}: {message}")
    row = _scan_row(source)
    row.last_scan_at, row.last_error, row.last_error_at = now, message, now
    row.save(update_fields=["last_scan_at", "last_error", "last_error_at"])


def _scan_ok(source: str, now: dt.datetime, *, taken: int, waiting: list[dict]) -> None:
    row = _scan_row(source)
    row.last_scan_at = row.last_ok_at = now
    row.last_taken, row.waiting, row.last_error, row.last_error_at = taken, waiting, "", None
    row.save()


# --- One folder ---------------------------------------------------------------------------------------------


def _folder_scan(
    distributor: Distributor, folder: Path, *, now: dt.datetime, report: FolderScanReport
) -> None:
    code = distributor.code
    claims = InboxClaim.objects.filter(kind=InboxKind.FOLDER, source=code)
    me = scanner_id()
    report.finished += _claims_finish(claims, folder, me=me)

    previous = {w.get("name"): w for w in _scan_row(code).waiting or [] if isinstance(w, dict)}
    settle = dt.timedelta(seconds=settings.INBOX_SETTLE_SECONDS)
    waiting: list[dict] = []
    with os.scandir(folder) as entries:
        listed = sorted(
            (e for e in entries if not file_ignored(e.name) and e.is_file(follow_symlinks=False)),
            key=lambda e: e.name,
        )
        stats = [(entry.name, entry.stat(follow_symlinks=False)) for entry in listed]
    identities = {claim_key(code, name, st.st_size, st.st_mtime_ns): (name, st) for name, st in stats}
    # A file claimed already (by size and mtime) settled before its claim: no need to wait again.
    known = {c.key: c for c in claims.filter(key__in=list(identities))}
    keys: dict[str, tuple[str, int, int]] = {}
    for key, (name, st) in identities.items():
        mtime = dt.datetime.fromtimestamp(st.st_mtime_ns / 1e9, tz=dt.UTC)
        seen = previous.get(name)
        same = bool(seen) and (seen.get("size"), seen.get("mtime_ns")) == (st.st_size, st.st_mtime_ns)
        if key in known or (same and now - mtime >= settle):
            keys[key] = (name, st.st_size, st.st_mtime_ns)
        else:
            waiting.append(
                {
                    "name": name,
                    "size": st.st_size,
                    "mtime": mtime.isoformat(),
                    "mtime_ns": st.st_mtime_ns,
                    "settles_at": max(mtime + settle, now).isoformat(),
                }
            )

    batch_id = uuid.uuid4()
    fresh: list[InboxClaim] = []
    resumed: list[InboxClaim] = []
    for key, (name, size, mtime_ns) in keys.items():
        claim = known.get(key)
        if claim is not None and (claim.state != InboxClaimState.CLAIMED or claim.result.get("moved_to")):
            continue  # submitted (waiting for its jobs), done, or being moved
        if claim is not None and claim.claimed_by == me:
            resumed.append(claim)  # this process's own claim, left by an earlier scan (storage was down)
            continue
        if claim is not None and not claim_scanner_gone(claim, now=timezone.now()):
            continue  # another live scanner holds it
        taken = claim_take(
            kind=InboxKind.FOLDER,
            key=key,
            source=code,
            name=name,
            size=size,
            mtime_ns=mtime_ns,
            distributor=distributor,
            batch_id=batch_id,
        )
        if taken is None:
            continue
        (resumed if taken.resumed else fresh).append(taken.claim)
    # Files settling in another scanner's claim are not waiting.
    report.waiting += len(waiting)

    groups: dict[uuid.UUID, list[InboxClaim]] = {}
    per_batch = max(1, settings.UPLOAD_MAX_FILES)  # more files than a request may hold: several batches
    for start in range(0, len(fresh), per_batch):
        groups[batch_id if start == 0 else uuid.uuid4()] = fresh[start : start + per_batch]
    for claim in resumed:
        target = _claim_resume(claim, new_batch_id=batch_id)
        if target is not None:
            groups.setdefault(target, []).append(claim)
    taken = 0
    for group_id, group in groups.items():
        taken += _claims_submit(group, group_id, distributor=distributor, folder=folder, report=report)
    report.taken += taken
    if taken or resumed:  # a file refused by quick validation is final at once; a resumed one may be
        report.finished += _claims_finish(claims, folder, me=me)
    _scan_ok(code, now, taken=taken, waiting=waiting)


def _claims_finish(claims, folder: Path, *, me: str) -> int:
    """Finish the folder's submitted claims whose jobs are final; how many were finished."""
    count = 0
    for claim in claims.filter(state__in=[InboxClaimState.SUBMITTED, InboxClaimState.CLAIMED]).order_by("id"):
        if claim.state == InboxClaimState.SUBMITTED:
            finished = _claim_finish(claim, folder)
        else:  # a refused file whose move was cut short by the end of its scanner
            mine = claim.claimed_by == me or claim_scanner_gone(claim, now=timezone.now())
            finished = bool(claim.result.get("moved_to")) and mine and _move_complete(claim, folder)
        count += int(finished)
    return count


def _claim_resume(claim: InboxClaim, *, new_batch_id: uuid.UUID) -> uuid.UUID | None:
    """A claim an ended scanner left: the batch id to submit it in, or None when its batch has its job."""
    batch = ImportBatch.objects.filter(batch_id=claim.batch_id).first()
    if batch is None:
        shutil.rmtree(Path(settings.UPLOAD_DIR) / str(claim.batch_id), ignore_errors=True)
        return claim.batch_id
    if _file_jobs(claim).exists():
        claim_state_set(claim, InboxClaimState.SUBMITTED)
        logger.info(
            "Inbox claim %s (%s/%s): its batch was made, now submitted", claim.pk, claim.source, claim.name
        )
        return None
    if not ImportJob.objects.filter(batch_id=claim.batch_id).exists():
        batch.delete()  # a batch left without jobs: made again with the same id
        shutil.rmtree(Path(settings.UPLOAD_DIR) / str(claim.batch_id), ignore_errors=True)
        return claim.batch_id
    claim.batch_id = new_batch_id  # the batch has other files' jobs but not this one's: a batch of its own
    claim.save(update_fields=["batch_id", "updated_at"])
    return new_batch_id


def _file_jobs(claim: InboxClaim):
    """The jobs made of the claim's file: the file itself, or its members when it is a ZIP."""
    return (
        ImportJob.objects.filter(batch_id=claim.batch_id)
        .exclude(original_filename="")
        .filter(Q(source_name=claim.name) | Q(source_name__startswith=claim.name + ":"))
    )


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(READ_CHUNK):
            yield chunk


def _claims_submit(
    claims: list[InboxClaim],
    batch_id: uuid.UUID,
    *,
    distributor: Distributor,
    folder: Path,
    report: FolderScanReport,
) -> int:
    """Submit the claims' files as one batch; a refused batch of several files is tried one file at a time.
    Returns how many files were taken (submitted or refused into failed/)."""
    readable = []
    for claim in claims:
        try:
            with (folder / claim.name).open("rb"):
                readable.append(claim)
        except OSError as exc:  # gone, or not readable by the server's user: the file's problem
            _claim_refused(claim, folder, exc)
            report.finished += 1
    taken = len(claims) - len(readable)
    claims = readable
    if not claims:
        return taken
    for claim in claims:
        if claim.batch_id != batch_id:
            claim.batch_id = batch_id
            claim.save(update_fields=["batch_id", "updated_at"])
    uploads = [Upload(name=c.name, chunks=_file_chunks(folder / c.name), size=c.size) for c in claims]
    try:
        import_batch_submit(
            uploads=uploads,
            mode="full",
            dist_id=distributor.code,
            source=BatchSource.INBOX,
            batch_id=batch_id,
        )
    except StorageUnavailable as exc:
        # The server's problem, not the file's: the claims stay, the next scan of this process tries again.
        logger.error("Inbox folder %s: %s", distributor.code, exc.message)
        report.errors.append(f"{distributor.code}: {exc.message}")
        return taken
    except (ImportHubError, FileNotFoundError) as exc:
        if len(claims) > 1 and not getattr(exc, "code", "").endswith("distributor"):
            return taken + sum(
                _claims_submit([c], uuid.uuid4(), distributor=distributor, folder=folder, report=report)
                for c in claims
            )
        for claim in claims:
            _claim_refused(claim, folder, exc)
            report.finished += 1
        return taken + len(claims)
    for claim in claims:
        claim_state_set(claim, InboxClaimState.SUBMITTED)
    report.batches.append(str(batch_id))
    logger.info("Inbox folder %s: %d files submitted in batch %s", distributor.code, len(claims), batch_id)
    return taken + len(claims)


def _claim_refused(claim: InboxClaim, folder: Path, exc: Exception) -> None:
    if isinstance(exc, ImportHubError):
        code, message = exc.code, exc.message
    else:
        code, message = (
            "file_unreadable",
            f"The file could not be read: {getattr(exc, 'strerror', '') or exc}.",
        )
    result = {
        "file": claim.name,
        "status": int(JobStatus.FAILED),
        "status_label": JobStatus.FAILED.label,
        "rows": 0,
        "imported": 0,
        "rejected": 0,
        "batch_id": None,
        "errors_csv": None,
        "error_code": code,
        "error": message,
    }
    logger.warning("Inbox folder %s: %s refused (%s): %s", claim.source, claim.name, code, message)
    _claim_move(
        claim, folder, result=result, outcome=FAILED, day=timezone.localdate(), errors_from=[], error=message
    )


# --- Finishing: the move to processed/ or failed/ -----------------------------------------------------------


def _claim_finish(claim: InboxClaim, folder: Path) -> bool:
    """Move a submitted claim's file once its jobs are final; True when it was finished now."""
    if claim.result.get("moved_to"):
        return _move_complete(claim, folder)
    jobs = list(_file_jobs(claim).order_by("id"))
    if any(not job.is_final for job in jobs):
        return False
    result, copies = _result_of(claim, jobs)
    ended = [j.completed_at or j.updated_at for j in jobs]
    day = timezone.localdate(max(ended)) if ended else timezone.localdate()
    outcome = PROCESSED if result["status"] == JobStatus.COMPLETE else FAILED
    return _claim_move(
        claim,
        folder,
        result=result,
        outcome=outcome,
        day=day,
        errors_from=copies,
        error=result.get("error", ""),
    )


def _counts(job: ImportJob) -> dict:
    return {"rows": job.total_rows, "imported": job.success_count, "rejected": job.error_count}


def _result_of(claim: InboxClaim, jobs: list[ImportJob]) -> tuple[dict, list[tuple[str, ImportJob]]]:
    """The .result.json of a file and the errors CSVs to copy beside it: (suffix of the copy's name, job)."""
    result = {"file": claim.name, "batch_id": str(claim.batch_id)}
    copies: list[tuple[str, ImportJob]] = []
    if not jobs:
        warnings = (
            ImportBatch.objects.filter(batch_id=claim.batch_id).values_list("warnings", flat=True).first()
        )
        message = "; ".join(str(w) for w in warnings or []) or "The file was not taken into the batch."
        result.update(
            status=int(JobStatus.FAILED), status_label=JobStatus.FAILED.label, rows=0, imported=0, rejected=0,
            errors_csv=None, error_code="not_taken", error=message,
        )  # fmt: skip
        return result, copies
    if len(jobs) == 1 and jobs[0].source_name == claim.name:
        job = jobs[0]
        errors = ".errors.csv" if job_errors_file(job) else None
        if errors:
            copies.append((errors, job))
        result.update(
            status=job.status, status_label=job.status_label, **_counts(job), job_id=job.pk,
            errors_csv=claim.name + errors if errors else None, error_code=job.error_code, error=job.error_message,
        )  # fmt: skip
        return result, copies
    members = []
    for n, job in enumerate(jobs, start=1):
        suffix = f".{n}.errors.csv" if job_errors_file(job) else None
        if suffix:
            copies.append((suffix, job))
        members.append(
            {
                "name": job.source_name.partition(":")[2] or job.original_filename,
                "status": job.status,
                "status_label": job.status_label,
                **_counts(job),
                "job_id": job.pk,
                "errors_csv": claim.name + suffix if suffix else None,
                "error_code": job.error_code,
                "error": job.error_message,
            }
        )
    worst = min((job.status for job in jobs), key=_WORST_FIRST.index)
    result.update(
        status=int(worst),
        status_label=JobStatus(worst).label,
        rows=sum(m["rows"] for m in members),
        imported=sum(m["imported"] for m in members),
        rejected=sum(m["rejected"] for m in members),
        errors_csv=None,
        files=members,
    )
    return result, copies


def _destination_free(directory: Path, name: str) -> str:
    """`name`, or `stem-N.ext` when that name or its result files are taken in `directory`."""
    stem, dot, ext = name.rpartition(".") if "." in name.lstrip(".") else (name, "", "")
    candidate, n = name, 1
    while any((directory / f"{candidate}{s}").exists() for s in ("", ".result.json", ".errors.csv")):
        candidate = f"{stem}-{n}{dot}{ext}"
        n += 1
    return candidate


def _claim_move(
    claim: InboxClaim,
    folder: Path,
    *,
    result: dict,
    outcome: str,
    day: dt.date,
    errors_from: list[tuple[str, ImportJob]],
    error: str,
) -> bool:
    """Choose the destination and store it with the result in the claim first; then write and move."""
    directory = folder / outcome / day.isoformat()
    directory.mkdir(parents=True, exist_ok=True)
    final_name = _destination_free(directory, claim.name)
    if final_name != claim.name:
        result = _renamed(result, claim.name, final_name)
    result["moved_to"] = f"{outcome}/{day.isoformat()}/{final_name}"
    result["errors_jobs"] = [[suffix, job.pk] for suffix, job in errors_from]
    # Compare and set: of two scanners finishing the same claim, one chooses the destination and moves.
    stamp = timezone.now()
    chosen = InboxClaim.objects.filter(pk=claim.pk, state=claim.state, updated_at=claim.updated_at).update(
        result=result, error=error or "", updated_at=stamp
    )
    if not chosen:
        return False
    claim.result, claim.error, claim.updated_at = result, error or "", stamp
    return _move_complete(claim, folder)


def _renamed(result: dict, old: str, new: str) -> dict:
    result = dict(result)
    if result.get("errors_csv"):
        result["errors_csv"] = new + result["errors_csv"][len(old) :]
    if "files" in result:
        result["files"] = [
            {**m, "errors_csv": new + m["errors_csv"][len(old) :] if m["errors_csv"] else None}
            for m in result["files"]
        ]
    return result


def _move_complete(claim: InboxClaim, folder: Path) -> bool:
    """Write the result files and move the file to the destination stored in the claim (again after a crash:
    each step is done only when not done yet), then mark the claim done."""
    result = dict(claim.result)
    target = folder / result["moved_to"]
    source = folder / claim.name
    private = f".{os.getpid()}.part"  # two scanners at the same claim never write into each other's file
    for suffix, job_id in result.get("errors_jobs", []):
        copy = target.with_name(target.name + suffix)
        job = ImportJob.objects.filter(pk=job_id).first()
        path = job_errors_file(job) if job else None
        if path and not copy.exists():
            shutil.copyfile(path, copy.with_name(copy.name + private))
            os.replace(copy.with_name(copy.name + private), copy)
    public = {k: v for k, v in result.items() if k not in ("moved_to", "errors_jobs")}
    if not target.exists() and not _same_file(source, claim):
        public["error"] = " ".join(
            filter(None, [public.get("error"), "The file had left the inbox folder before it was moved."])
        )
        logger.warning("Inbox folder %s: %s left the folder before it was moved", claim.source, claim.name)
    result_path = target.with_name(target.name + ".result.json")
    temp = result_path.with_name(result_path.name + private)
    temp.write_text(json.dumps(public, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(temp, result_path)
    if _same_file(source, claim) and not target.exists():
        try:
            os.rename(source, target)
        except FileNotFoundError:
            pass  # moved by another scanner a moment ago
    claim_state_set(claim, InboxClaimState.DONE, result=public | {"moved_to": result["moved_to"]})
    logger.info(
        "Inbox folder %s: %s -> %s (status %s)",
        claim.source,
        claim.name,
        result["moved_to"],
        public["status"],
    )
    return True


def _same_file(path: Path, claim: InboxClaim) -> bool:
    try:
        st = path.stat(follow_symlinks=False)
    except OSError:
        return False
    return (st.st_size, st.st_mtime_ns) == (claim.size, claim.mtime_ns)
