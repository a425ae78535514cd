"""Import files from a shell with the same engine as the API: files, ZIPs or whole folders."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from importhub.errors import ImportHubError
from imports.models import BatchSource, ImportJob, ImportMode, JobStatus
from imports.services.batches import Upload, import_batch_submit
from imports.services.importing import import_job_run

DATA_SUFFIXES = {".csv", ".txt", ".zip", ".xlsx", ".xlsm", ".xls", ".ods"}


def _file_chunks(path: Path, size: int = 1024 * 1024):
    with path.open("rb") as handle:
        while block := handle.read(size):
            yield block


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in relative.parts)


def paths_expand(paths: list[str]) -> list[Path]:
    """Files as given; folders walked for data files and ZIPs (DATA_SUFFIXES; sorted; hidden files and folders and
    __MACOSX skipped, as inside a ZIP)."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in DATA_SUFFIXES and not _hidden(p.relative_to(path))
            )
        elif path.is_file():
            files.append(path)
        else:
            raise CommandError(f"{raw}: no such file or folder.")
    return files


class Command(BaseCommand):
    help = "Validate and import CSV/TXT, Excel/OpenDocument and ZIP files (or folders of them) into their tables."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH", help="A file, a ZIP or a folder.")
        parser.add_argument("--table", default="auto", help="auto (match by file name) or a table name.")
        parser.add_argument(
            "--dist-id", default="", help="Distributor id: its first 2 characters are checked."
        )
        parser.add_argument("--mode", default="both", choices=["quick", "full", "both", "dry_run"])
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check every row as the import would and load nothing (the same as --mode dry_run).",
        )
        parser.add_argument(
            "--wait", action="store_true", help="Import here and now, without a worker, with a progress bar."
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Import files even if their identical content was already imported into their table.",
        )

    def handle(self, *args, **options):
        files = paths_expand(options["paths"])
        if not files:
            raise CommandError("No .csv, .txt, .xlsx, .xlsm, .xls, .ods or .zip files found.")
        uploads = [Upload(name=p.name, chunks=_file_chunks(p), size=p.stat().st_size) for p in files]
        try:
            batch = import_batch_submit(
                uploads=uploads,
                mode=ImportMode.DRY_RUN if options["dry_run"] else options["mode"],
                table_name=options["table"],
                dist_id=options["dist_id"],
                enqueue=not options["wait"],
                source=BatchSource.CLI,
                force=options["force"],
            )
        except ImportHubError as exc:
            for warning in (exc.details or {}).get("warnings", []):
                self.stderr.write(f"warning: {warning}")
            raise CommandError(exc.message) from exc
        for warning in batch.warnings:
            self.stderr.write(f"warning: {warning}")
        self.stdout.write(f"Batch {batch.batch_id} ({batch.mode})")

        if batch.mode == "quick":
            for r in batch.results:
                verdict = f"valid, {r.rows:,} rows -> {r.table_name}" if r.valid else f"INVALID: {r.error}"
                self.stdout.write(f"{r.filename}: {verdict}")
                for warning in r.warnings:
                    self.stdout.write(f"  warning: {warning}")
            if not all(r.valid for r in batch.results):
                sys.exit(1)
            return

        if options["wait"]:
            for job in batch.jobs:
                if job.status == JobStatus.WAITING:
                    bar = _ProgressBar(self.stderr, job)
                    try:
                        import_job_run(job_id=job.id, progress=bar.show)
                    finally:
                        bar.end()
        failed = False
        for job in ImportJob.objects.filter(batch_id=batch.batch_id).order_by("id"):
            if job.status == JobStatus.SKIPPED:
                self.stdout.write(f"(missing) {job.table_name}: {job.notes}")
                continue
            line = f"{job.original_filename}: {job.get_status_display()}"
            if job.mode == ImportMode.DRY_RUN and job.status in (
                JobStatus.VALIDATION_OK,
                JobStatus.VALIDATION_FAILED,
            ):
                line += (
                    f": {job.notes}" if job.status == JobStatus.VALIDATION_OK else f": {job.error_message}"
                )
            elif job.status == JobStatus.COMPLETE:
                line += f", {job.success_count:,} rows imported into {job.table_name}"
                if job.error_count:
                    line += f", {job.error_count:,} rejected (first: {job.errors[0]['message'] if job.errors else '?'})"
            elif job.status == JobStatus.WAITING:
                line += " (queued for a worker)"
            elif job.error_message:
                line += f": {job.error_message}"
            failed |= job.status in (
                JobStatus.FAILED,
                JobStatus.VALIDATION_FAILED,
                JobStatus.PROCESSING_FAILED,
            )
            self.stdout.write(line)
        if failed:
            sys.exit(1)


class _ProgressBar:
    """One job's bar on one line, redrawn in place; `end` finishes the line, so the next bar or message
    starts on a line of its own."""

    width = 30

    def __init__(self, stream, job: ImportJob):
        self.stream = stream
        self.total = max(job.total_rows, 1)
        self.name = job.original_filename[:30]
        self.shown = False

    def show(self, done: int) -> None:
        filled = min(self.width, int(self.width * done / self.total))
        self.stream.write(
            f"\r{self.name:<30} [{'#' * filled}{'.' * (self.width - filled)}] {done:,}/{self.total:,}",
            ending="",
        )
        self.stream.flush()
        self.shown = True

    def end(self) -> None:
        if self.shown:
            self.stream.write("\n", ending="")
            self.stream.flush()
