"""Archive again the files whose archiving failed (they wait in UPLOAD_DIR/pending-archive/)."""

from __future__ import annotations

import uuid

from django.core.management.base import BaseCommand, CommandError

from imports.archive.workflow import archive_retry, job_archive_run
from imports.selectors import job_archive_url


class Command(BaseCommand):
    help = "Archive again the files whose archiving failed (Google Drive, or the local archive folder)."

    def add_arguments(self, parser):
        parser.add_argument("--batch", metavar="ID", help="Only the files of this batch.")
        parser.add_argument(
            "--pending",
            action="store_true",
            help="Also the files still waiting to be archived (e.g. their task was lost with the queue).",
        )
        parser.add_argument(
            "--wait",
            action="store_true",
            help="Archive here and now, without a worker, and print each result.",
        )

    def handle(self, *args, **options):
        batch_id = None
        if options["batch"]:
            try:
                batch_id = uuid.UUID(options["batch"])
            except ValueError:
                raise CommandError(f"--batch: '{options['batch']}' is not a batch id.") from None
        ids = archive_retry(
            batch_id=batch_id, include_pending=options["pending"], enqueue=not options["wait"]
        )
        if not ids:
            self.stdout.write("No files to archive again.")
            return
        if not options["wait"]:
            self.stdout.write(f"Queued {len(ids)} file(s) for archiving: jobs {', '.join(map(str, ids))}.")
            return
        failed = 0
        for job_id in ids:
            job = job_archive_run(job_id=job_id)
            if job is None:
                continue
            detail = job_archive_url(job) or job.archive_error
            self.stdout.write(f"job {job.id} {job.original_filename}: {job.archive_status} {detail}".rstrip())
            failed += job.archive_status != "done"
        if failed:
            raise CommandError(f"{failed} of {len(ids)} file(s) not archived yet (see above).")
