"""The job admin shows the archive and can retry a failed one; only users who may change jobs get the action."""

import html

import pytest

from imports.models import ArchiveStatus, ImportJob
from imports.selectors import job_archive_url

from .conftest import job_imported, pending_path

pytestmark = pytest.mark.django_db(transaction=True)

JOBS_URL = "/admin/imports/importjob/"
ACTION = "Retry archive of the selected files"


@pytest.fixture
def failed_archive(demo_tables, settings, tmp_path) -> ImportJob:
    """A complete import whose local archive failed (its folder could not be made), the file kept."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the archive folder should be")
    settings.ARCHIVE_DIR = blocker / "archive"
    settings.ARCHIVE_MAX_ATTEMPTS = 1
    job = job_imported()
    assert job.archive_status == ArchiveStatus.FAILED
    settings.ARCHIVE_DIR = tmp_path / "archive"
    return job


def test_admin_lists_the_archive_status_and_retries_a_failed_archive(client, admin_user, failed_archive):
    client.force_login(admin_user)
    page = client.get(JOBS_URL).content.decode()
    assert ACTION in page and "column-archive_status" in page

    detail = html.unescape(client.get(f"{JOBS_URL}{failed_archive.id}/change/").content.decode())
    assert failed_archive.archive_error in detail

    response = client.post(
        JOBS_URL, {"action": "archive_retry_action", "_selected_action": [failed_archive.id]}, follow=True
    )
    assert "Archiving 1 file(s) again." in response.content.decode()
    job = ImportJob.objects.get(pk=failed_archive.id)
    assert (job.archive_status, job.archive_error) == (ArchiveStatus.DONE, "")
    assert not pending_path(failed_archive).exists()

    detail = client.get(f"{JOBS_URL}{job.id}/change/").content.decode()
    url = job_archive_url(job)
    assert url and f'<a href="{url}">{url}</a>' in detail


def test_admin_retry_archive_of_a_done_job_changes_nothing(client, admin_user, demo_tables):
    job = job_imported()
    assert job.archive_status == ArchiveStatus.DONE
    client.force_login(admin_user)
    response = client.post(
        JOBS_URL, {"action": "archive_retry_action", "_selected_action": [job.id]}, follow=True
    )
    assert "nothing to retry" in response.content.decode()
    assert ImportJob.objects.get(pk=job.id).archive_url == job.archive_url


def test_admin_retry_archive_needs_the_change_permission(client, make_user, failed_archive):
    viewer = make_user("viewer", is_staff=True, perms=["imports.view_importjob"])
    client.force_login(viewer)
    assert ACTION not in client.get(JOBS_URL).content.decode()
    client.post(JOBS_URL, {"action": "archive_retry_action", "_selected_action": [failed_archive.id]})
    assert ImportJob.objects.get(pk=failed_archive.id).archive_status == ArchiveStatus.FAILED
