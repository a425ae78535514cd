"""The archive and the revert write the same job: each through the one compare-and-set helper, so a write made
from a stale read keeps the other's (a revert during the upload keeps its note, the archive still completes)."""

from pathlib import Path

import pytest
from django.conf import settings

from imports.archive.storage import ArchiveError, LocalArchive
from imports.archive.workflow import archive_retry, job_archive_run
from imports.models import ArchiveStatus, ImportJob, JobStatus
from imports.services.revert import import_job_revert
from tests.imports.conftest import table_count

pytestmark = pytest.mark.django_db(transaction=True)


class RevertedDuringUpload(LocalArchive):
    """The real local archive; while it stores the file, an administrator reverts the import."""

    def __init__(self, *, job_id: int, user):
        super().__init__(root=Path(settings.ARCHIVE_DIR))
        self.job_id, self.user = job_id, user

    def store(self, **kwargs):
        import_job_revert(job=ImportJob.objects.get(pk=self.job_id), user=self.user)
        return super().store(**kwargs)


def test_archive_done_after_a_revert_during_its_upload_keeps_the_revert(pending_job, admin_user):
    job = job_archive_run(
        job_id=pending_job.pk, store=RevertedDuringUpload(job_id=pending_job.pk, user=admin_user)
    )
    stored = ImportJob.objects.get(pk=pending_job.pk)
    assert (stored.status, stored.archive_status) == (JobStatus.COMPLETE, ArchiveStatus.DONE)
    assert stored.reverted_at is not None and stored.reverted_by == admin_user
    assert "Reverted by admin" in stored.notes and stored.notes.endswith("; Archived locally")
    assert (job.notes, job.archive_status) == (stored.notes, stored.archive_status)
    assert table_count("sales") == 0
    assert LocalArchive(root=Path(settings.ARCHIVE_DIR)).path(stored.archive_file_id).is_file()


def test_archive_retry_after_a_revert_replaces_only_its_own_note(pending_job, admin_user):
    class Failing(LocalArchive):
        def store(self, **kwargs):
            raise ArchiveError("The archive folder is read-only.", transient=False)

    job_archive_run(job_id=pending_job.pk, store=Failing(root=Path(settings.ARCHIVE_DIR)))
    import_job_revert(job=ImportJob.objects.get(pk=pending_job.pk), user=admin_user)
    failed = ImportJob.objects.get(pk=pending_job.pk)
    assert failed.archive_status == ArchiveStatus.FAILED and "Archive failed" in failed.notes

    assert archive_retry(job_ids=[pending_job.pk], enqueue=False) == [pending_job.pk]
    job_archive_run(job_id=pending_job.pk, store=LocalArchive(root=Path(settings.ARCHIVE_DIR)))
    done = ImportJob.objects.get(pk=pending_job.pk)
    assert done.archive_status == ArchiveStatus.DONE
    assert "Archive failed" not in done.notes and "Reverted by admin" in done.notes
    assert done.notes.endswith("; Archived locally")
