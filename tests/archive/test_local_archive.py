"""The local archive (no Drive settings, as `make run`): after the import, the original file is archived under
ARCHIVE_DIR/<table>/<yyyy>/<mm>/ and downloadable from the API by whoever may see the job."""

import datetime as dt
import zipfile

import pytest
from django.core.management import call_command
from django.utils import timezone

from imports.models import ArchiveStatus, ImportJob, JobStatus
from imports.selectors import job_archive_url
from imports.services.retention import uploads_expired_purge
from tests.imports.conftest import DATA, upload

pytestmark = pytest.mark.django_db(transaction=True)


def submit(client, *names, expect=(200, 202), **fields) -> str:
    response = client.post("/api/import", {"files": [upload(n) for n in names], **fields}, format="multipart")
    assert response.status_code in expect, response.content
    body = response.json()
    return body.get("batch_id") or body["data"]["batch_id"]


def file_jobs(batch_id: str) -> list[ImportJob]:
    return list(ImportJob.objects.filter(batch_id=batch_id).exclude(status=JobStatus.SKIPPED).order_by("id"))


def files_under(folder) -> list[str]:
    return (
        sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        if folder.exists()
        else []
    )


def month_folder(job: ImportJob) -> str:
    return f"{timezone.localtime(job.created_at):%Y/%m}"


def test_local_archive_after_import_downloads_the_original_with_login(admin_api, api, demo_tables, settings):
    batch_id = submit(admin_api, "sales_small.csv", dist_id="31001", mode="full")
    (job,) = file_jobs(batch_id)
    assert job.status == JobStatus.COMPLETE
    assert job.archive_status == ArchiveStatus.DONE
    url = f"/api/jobs/{batch_id}/files/{job.id}/archive"
    assert job_archive_url(job) == url and job.archive_url == ""  # the link is built, not stored
    assert job.archive_file_id == f"sales/{month_folder(job)}/31001_sales_small.csv"
    assert job.archived_at is not None and job.archive_error == ""
    assert job.notes.startswith("Processed 10 rows") and job.notes.endswith("; Archived locally")
    assert files_under(settings.ARCHIVE_DIR) == [job.archive_file_id]
    assert files_under(settings.UPLOAD_DIR) == []  # the pending copy goes once archived

    details = admin_api.get(f"/api/jobs/{batch_id}/details").json()["data"][0]
    assert (details["archive_status"], details["archive_url"]) == ("done", url)

    response = admin_api.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == (DATA / "sales_small.csv").read_bytes()
    assert 'filename="31001_sales_small.csv"' in response["Content-Disposition"]
    assert api.get(url).status_code in (401, 403)


def test_local_archive_is_only_for_those_who_see_the_job(api, make_user, demo_tables):
    alice = make_user("alice", perms=["imports.add_importjob"])
    bob = make_user("bob", perms=["imports.add_importjob"])
    api.force_authenticate(alice)
    batch_id = submit(api, "sales_small.csv")
    (job,) = file_jobs(batch_id)
    assert api.get(job_archive_url(job)).status_code == 200
    api.force_authenticate(bob)
    assert api.get(job_archive_url(job)).json() == {
        "success": False,
        "error": "Job not found.",
        "code": "not_found",
    }


def test_local_archive_keeps_both_copies_of_a_file_sent_twice(admin_api, demo_tables, settings):
    first = file_jobs(submit(admin_api, "sales_small.csv", dist_id="31001"))[0]
    second = file_jobs(submit(admin_api, "sales_small.csv", dist_id="31001", force="true"))[
        0
    ]  # re-sent, forced
    folder = f"sales/{month_folder(first)}"
    assert (first.archive_file_id, second.archive_file_id) == (
        f"{folder}/31001_sales_small.csv",
        f"{folder}/31001_sales_small-2.csv",
    )
    assert files_under(settings.ARCHIVE_DIR) == sorted([first.archive_file_id, second.archive_file_id])
    for job in (first, second):
        assert (
            b"".join(admin_api.get(job_archive_url(job)).streaming_content)
            == (DATA / "sales_small.csv").read_bytes()
        )


def test_local_archive_without_dist_id_keeps_the_original_name(admin_api, demo_tables):
    (job,) = file_jobs(submit(admin_api, "products.csv"))
    assert job.archive_file_id == f"products/{month_folder(job)}/products.csv"


def test_zip_member_is_archived_as_itself(admin_api, demo_tables, settings):
    jobs = file_jobs(submit(admin_api, "with_pdf.zip", dist_id="31001"))
    assert [(j.original_filename, j.status, j.archive_status) for j in jobs] == [
        ("sales.csv", JobStatus.COMPLETE, ArchiveStatus.DONE)
    ]
    with zipfile.ZipFile(DATA / "with_pdf.zip") as archive:
        member = archive.read("sales.csv")
    assert (settings.ARCHIVE_DIR / jobs[0].archive_file_id).read_bytes() == member
    assert jobs[0].archive_file_id.endswith("/31001_sales.csv")


@pytest.mark.parametrize(
    ("name", "folder"),
    [
        pytest.param("sales_missing_cols.csv", "sales", id="validation-failed"),
        pytest.param("unknown_name.csv", "unmatched", id="no-table"),
    ],
)
def test_failed_file_is_archived_only_with_archive_failed_files(
    admin_api, demo_tables, settings, name, folder
):
    # A failed job's upload is kept FAILED_UPLOAD_KEEP_DAYS for a retry; the purge then archives or deletes it.
    later = timezone.now() + dt.timedelta(days=settings.FAILED_UPLOAD_KEEP_DAYS, minutes=1)
    (job,) = file_jobs(submit(admin_api, name, mode="full", expect=[422]))
    assert job.status == JobStatus.VALIDATION_FAILED
    assert job.archive_status == "" and job.upload_kept_until is not None
    assert len(files_under(settings.UPLOAD_DIR)) == 1  # under its stored name, in its batch folder
    uploads_expired_purge(now=later)
    job.refresh_from_db()
    assert job.archive_status == ArchiveStatus.SKIPPED
    assert files_under(settings.UPLOAD_DIR) == [] and files_under(settings.ARCHIVE_DIR) == []

    settings.ARCHIVE_FAILED_FILES = True
    (job,) = file_jobs(submit(admin_api, name, mode="full", expect=[422]))
    assert job.archive_status == ""
    uploads_expired_purge(now=later)
    job.refresh_from_db()
    assert (job.status, job.archive_status) == (JobStatus.VALIDATION_FAILED, ArchiveStatus.DONE)
    assert files_under(settings.ARCHIVE_DIR) == [f"{folder}/{month_folder(job)}/{name}"]
    assert files_under(settings.UPLOAD_DIR) == []


def test_local_archive_failure_keeps_the_file_then_archive_retry_archives_it(
    admin_api, demo_tables, settings, tmp_path
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the archive folder should be")
    settings.ARCHIVE_DIR = blocker / "archive"
    settings.ARCHIVE_MAX_ATTEMPTS = 1
    batch_id = submit(admin_api, "sales_small.csv", dist_id="31001")
    (job,) = file_jobs(batch_id)
    assert (job.status, job.archive_status) == (JobStatus.COMPLETE, ArchiveStatus.FAILED)
    assert job.archive_error.startswith("Cannot write sales/")
    assert "; Archive failed: Cannot write sales/" in job.notes
    pending = settings.UPLOAD_DIR / job.stored_filename
    assert job.stored_filename == f"pending-archive/{job.id}/{pending.name}"
    assert pending.read_bytes() == (DATA / "sales_small.csv").read_bytes()
    assert admin_api.get(f"/api/jobs/{batch_id}/files/{job.id}/archive").json()["code"] == "not_archived"

    settings.ARCHIVE_DIR = tmp_path / "archive"
    call_command("archive_retry", "--batch", batch_id, verbosity=0)
    job.refresh_from_db()
    assert (job.status, job.archive_status, job.archive_error) == (JobStatus.COMPLETE, ArchiveStatus.DONE, "")
    assert job.notes.endswith("; Archived locally") and "Archive failed" not in job.notes
    assert not pending.exists()
    assert files_under(settings.ARCHIVE_DIR) == [job.archive_file_id]
