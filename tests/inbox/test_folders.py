"""Inbox folders: settled files taken into one batch per folder scan, moved to processed/ or failed/ with their
.result.json; ignored names; refusals; a folder's error recorded while the other folders are scanned."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.db import connection

from imports.models import (
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
from imports.services.inbox_folders import inbox_folders_scan

from .conftest import CODE, DATA

pytestmark = pytest.mark.django_db(transaction=True)


def table_count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
        return cursor.fetchone()[0]


def test_settled_files_of_one_scan_form_one_batch_and_end_in_processed_with_their_result(inbox):
    inbox.drop("sales_small.csv", (DATA / "sales_small.csv").read_bytes())
    inbox.drop("products.csv", (DATA / "products.csv").read_bytes())

    first = inbox_folders_scan()
    assert (first.taken, first.waiting) == (0, 2)  # seen once: not yet known to be unchanged
    scan = InboxScan.objects.get(kind=InboxKind.FOLDER, source=CODE)
    assert sorted(w["name"] for w in scan.waiting) == ["products.csv", "sales_small.csv"]
    assert {w["size"] for w in scan.waiting} == {
        (DATA / "sales_small.csv").stat().st_size,
        (DATA / "products.csv").stat().st_size,
    }

    report = inbox.scan(1)
    assert (report.taken, len(report.batches), report.finished) == (2, 1, 2)
    assert str(report).startswith("inbox folders: 1 scanned, 2 files taken in 1 batches")
    (batch,) = ImportBatch.objects.all()
    assert (batch.source, batch.mode, batch.dist_id) == (BatchSource.INBOX, "full", CODE)
    jobs = ImportJob.objects.filter(batch_id=batch.batch_id).exclude(original_filename="")
    assert sorted(j.original_filename for j in jobs) == ["products.csv", "sales_small.csv"]
    assert all(j.status == JobStatus.COMPLETE for j in jobs)

    assert inbox.waiting_files() == []
    processed = inbox.outcome("processed")
    assert sorted(processed) == [
        "products.csv",
        "products.csv.result.json",
        "sales_small.csv",
        "sales_small.csv.result.json",
    ]
    assert processed["sales_small.csv"].read_bytes() == (DATA / "sales_small.csv").read_bytes()
    sales_job = jobs.get(original_filename="sales_small.csv")
    assert processed["sales_small.csv"].parent.name == sales_job.completed_at.astimezone().date().isoformat()
    result = inbox.result("processed", "sales_small.csv")
    assert result == {
        "file": "sales_small.csv",
        "batch_id": str(batch.batch_id),
        "status": 9,
        "status_label": "Processing complete",
        "rows": sales_job.total_rows,
        "imported": sales_job.success_count,
        "rejected": 0,
        "job_id": sales_job.pk,
        "errors_csv": None,
        "error_code": "",
        "error": "",
    }
    assert result["imported"] == table_count("sales") > 0
    assert set(InboxClaim.objects.values_list("state", flat=True)) == {InboxClaimState.DONE}
    scan.refresh_from_db()
    assert (scan.last_taken, scan.waiting, scan.last_error) == (2, [], "")

    # Nothing left: another scan takes nothing and moves nothing.
    again = inbox.scan(2)
    assert (again.taken, again.finished, again.waiting) == (0, 0, 0)
    assert ImportBatch.objects.count() == 1


def test_a_file_still_changing_or_too_recent_is_not_taken(inbox, settings):
    path = inbox.drop("sales_small.csv", (DATA / "sales_small.csv").read_bytes(), age=5)
    report = inbox.scan(3)
    assert (report.taken, report.waiting) == (0, 1)
    (waiting,) = InboxScan.objects.get(source=CODE).waiting
    assert waiting["name"] == "sales_small.csv" and waiting["settles_at"] > waiting["mtime"]

    # Older now, but grown since the last scan saw it: waits for one more scan.
    with path.open("ab") as handle:
        handle.write(b"31001,DO0000099,2026-10-05,C00009,00009,1,10.00,2026-10-31 23:00:00\n")
    inbox.drop("sales_small.csv", path.read_bytes(), age=120)
    assert inbox.scan(1).taken == 0
    assert inbox.scan(1).taken == 1
    assert ImportJob.objects.get(original_filename="sales_small.csv").total_rows == len(
        (DATA / "sales_small.csv").read_text().splitlines()
    )


def test_dot_files_partial_files_and_subfolders_are_never_taken(inbox):
    content = (DATA / "sales_small.csv").read_bytes()
    for name in (".sales.csv", "sales.csv.part", "sales.CSV.TMP", "sales.csv.filepart", "sales.csv.PART"):
        inbox.drop(name, content)
    inbox.drop("nested/sales_small.csv", content)
    report = inbox.scan(3)
    assert (report.taken, report.waiting, report.batches) == (0, 0, [])
    assert not InboxClaim.objects.exists() and not ImportBatch.objects.exists()
    assert (inbox.folder / "nested" / "sales_small.csv").exists()

    # Renamed to its final name by the client: taken.
    (inbox.folder / "sales.csv.part").rename(inbox.folder / "sales_small.csv")
    assert inbox.scan(2).taken == 1


def test_a_file_with_bad_rows_ends_in_failed_with_its_errors_csv_named_in_the_result(inbox):
    inbox.drop("sales_10k_37bad.csv", (DATA / "sales_10k_37bad.csv").read_bytes())
    report = inbox.scan(2)
    assert report.taken == 1
    job = ImportJob.objects.get(original_filename="sales_10k_37bad.csv")
    assert job.is_final and job.error_count == 37
    kind = "processed" if job.status == JobStatus.COMPLETE else "failed"
    result = inbox.result(kind, "sales_10k_37bad.csv")
    assert (result["status"], result["rejected"], result["errors_csv"]) == (
        job.status,
        37,
        "sales_10k_37bad.csv.errors.csv",
    )
    errors = inbox.outcome(kind)["sales_10k_37bad.csv.errors.csv"]
    rows = list(csv.reader(io.StringIO(errors.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 1 + 37


def test_a_file_refused_by_validation_ends_in_failed_with_its_reason(inbox):
    inbox.drop("sales_missing_cols.csv", (DATA / "sales_missing_cols.csv").read_bytes())
    inbox.scan(2)
    job = ImportJob.objects.get(original_filename="sales_missing_cols.csv")
    assert job.status == JobStatus.VALIDATION_FAILED
    result = inbox.result("failed", "sales_missing_cols.csv")
    assert (result["status"], result["status_label"]) == (6, "Validation failed")
    assert result["error"] == job.error_message and result["error"]
    assert "sales_missing_cols.csv" in inbox.outcome("failed")
    assert not inbox.outcome("processed")


def test_a_refused_submission_leaves_no_batch_and_the_file_in_failed_with_the_error_code(inbox):
    inbox.drop("notes.pdf", (DATA / "report.pdf").read_bytes())
    report = inbox.scan(2)
    assert report.taken == 1 and report.batches == []
    assert not ImportBatch.objects.exists() and not ImportJob.objects.exists()
    assert set(inbox.outcome("failed")) == {"notes.pdf", "notes.pdf.result.json"}
    result = inbox.result("failed", "notes.pdf")
    assert (result["status"], result["batch_id"], result["error_code"]) == (2, None, "no_valid_files")
    assert result["error"] == "No valid data files to process."
    claim = InboxClaim.objects.get(name="notes.pdf")
    assert claim.state == InboxClaimState.DONE and claim.result["error_code"] == "no_valid_files"


def test_an_empty_file_and_a_skipped_file_in_a_batch_end_in_failed(inbox):
    inbox.drop("empty.csv", b"")
    inbox.drop("notes.pdf", (DATA / "report.pdf").read_bytes())
    inbox.drop("sales_small.csv", (DATA / "sales_small.csv").read_bytes())
    report = inbox.scan(2)
    assert report.taken == 3 and len(report.batches) == 1
    assert "sales_small.csv" in inbox.outcome("processed")
    empty = inbox.result("failed", "empty.csv")
    assert empty["status"] == 6 and empty["error"]
    skipped = inbox.result("failed", "notes.pdf")
    assert (skipped["status"], skipped["error_code"]) == (2, "not_taken")
    assert "Unsupported file type" in skipped["error"]


def test_an_inactive_distributors_files_are_refused_into_failed(inbox):
    Distributor.objects.create(code="31002", name="Other")  # required distributors from now on
    Distributor.objects.filter(code=CODE).update(is_active=False)
    inbox.drop("sales_small.csv", (DATA / "sales_small.csv").read_bytes())
    inbox.scan(2)
    result = inbox.result("failed", "sales_small.csv")
    assert result["error_code"] == "inactive_distributor"
    assert not ImportBatch.objects.exists()


def test_a_resent_file_is_refused_as_duplicate_content_into_failed(inbox):
    content = (DATA / "sales_small.csv").read_bytes()
    inbox.drop("sales_small.csv", content)
    inbox.scan(2)
    assert "sales_small.csv" in inbox.outcome("processed")
    rows = table_count("sales")

    inbox.drop("sales_small_again.csv", content, age=60)
    inbox.scan(2)
    job = ImportJob.objects.get(original_filename="sales_small_again.csv")
    assert (job.status, job.error_code) == (JobStatus.VALIDATION_FAILED, "duplicate_content")
    result = inbox.result("failed", "sales_small_again.csv")
    assert (result["status"], result["error_code"]) == (6, "duplicate_content")
    assert table_count("sales") == rows


def test_the_same_name_again_gets_a_suffix_in_the_destination(inbox):
    inbox.drop("sales_small.csv", (DATA / "sales_small.csv").read_bytes())
    inbox.scan(2)
    inbox.drop("sales_small.csv", (DATA / "sales_small.csv").read_bytes(), age=60)
    inbox.scan(2)
    failed = inbox.outcome("failed")
    assert {"sales_small.csv", "sales_small.csv.result.json"} <= set(failed)
    assert inbox.outcome("processed")["sales_small.csv"].exists()
    # Another day's folder or a suffix: never overwritten.
    inbox.drop("sales_small.csv", b"distid,dono\n", age=60)
    inbox.scan(2)
    names = set(inbox.outcome("failed"))
    assert {"sales_small-1.csv", "sales_small-1.csv.result.json"} <= names
    assert inbox.result("failed", "sales_small-1.csv")["file"] == "sales_small.csv"  # the name as sent


def test_a_zip_result_lists_its_members_with_the_worst_status(inbox):
    inbox.drop("with_pdf.zip", (DATA / "with_pdf.zip").read_bytes())
    inbox.drop("batch_nested.zip", (DATA / "batch_nested.zip").read_bytes())
    inbox.scan(2)
    for name in ("with_pdf.zip", "batch_nested.zip"):
        jobs = list(ImportJob.objects.filter(source_name__startswith=name + ":").order_by("id"))
        assert jobs, name
        kind = "processed" if all(j.status == JobStatus.COMPLETE for j in jobs) else "failed"
        result = inbox.result(kind, name)
        assert [m["name"] for m in result["files"]] == [j.source_name.partition(":")[2] for j in jobs]
        assert result["rows"] == sum(j.total_rows for j in jobs)
        worst = 9 if kind == "processed" else result["status"]
        assert worst in {j.status for j in jobs}


def test_a_folder_error_is_recorded_and_the_other_folders_are_scanned(inbox, caplog):
    Distributor.objects.create(code="31002", name="Other")
    inbox.drop("sales_small.csv", (DATA / "sales_small.csv").read_bytes(), code="31002")
    inbox.drop("sales_utf8.csv", (DATA / "sales_utf8.csv").read_bytes())
    (inbox.folder / "processed").write_text("not a folder")  # the move to processed/<day>/ cannot work
    (inbox.root / "nobody").mkdir()

    report = inbox.scan(2)
    assert report.taken == 2
    assert "sales_small.csv" in inbox.outcome("processed", code="31002")
    broken = InboxScan.objects.get(kind=InboxKind.FOLDER, source=CODE)
    assert "Scan of" in broken.last_error and "processed" in broken.last_error and broken.last_error_at
    assert "matches no distributor" in InboxScan.objects.get(source="nobody").last_error
    assert InboxScan.objects.get(source="31002").last_error == ""
    assert "Inbox folder 31001" in caplog.text and "scan failed" in caplog.text
    assert InboxClaim.objects.get(name="sales_utf8.csv").state == InboxClaimState.SUBMITTED
    assert inbox.waiting_files() == ["processed", "sales_utf8.csv"]

    # Still broken: retried at every scan, never taken twice.
    inbox.scan(1)
    assert ImportJob.objects.filter(original_filename="sales_utf8.csv").count() == 1

    # Mended: the next scan moves the file and clears the error.
    (inbox.folder / "processed").unlink()
    assert inbox.scan(1).finished == 1
    assert "sales_utf8.csv" in inbox.outcome("processed")
    broken.refresh_from_db()
    assert (broken.last_error, broken.last_error_at) == ("", None)


def test_an_unreadable_folder_is_an_error_of_that_folder(inbox):
    Distributor.objects.create(code="31002", name="Other")
    (inbox.root / "31002").write_text("a file where the folder should be")
    inbox.drop("sales_small.csv", (DATA / "sales_small.csv").read_bytes())
    report = inbox.scan(2)
    assert report.taken == 1
    assert "Cannot create the inbox folder" in InboxScan.objects.get(source="31002").last_error


def test_a_missing_inbox_dir_is_an_error_of_the_root_and_active_distributors_get_their_folder(
    inbox, settings
):
    settings.INBOX_DIR = str(inbox.root / "gone")
    report = inbox_folders_scan()
    assert report.folders == 0 and len(report.errors) == 1
    assert "Cannot read the inbox folder" in InboxScan.objects.get(source="*").last_error

    settings.INBOX_DIR = str(inbox.root)
    Distributor.objects.create(code="31003", name="New one")
    Distributor.objects.create(code="31004", name="Inactive", is_active=False)
    inbox_folders_scan()
    assert (inbox.root / "31003").is_dir() and not (inbox.root / "31004").exists()
    assert InboxScan.objects.get(source="*").last_error == ""


def test_off_without_inbox_dir(inbox, settings):
    settings.INBOX_DIR = ""
    inbox.drop("sales_small.csv", (DATA / "sales_small.csv").read_bytes())
    assert str(inbox_folders_scan()).startswith("inbox folders: 0 scanned, 0 files")
    assert not InboxScan.objects.exists()


def test_result_json_is_valid_json_with_a_newline(inbox):
    inbox.drop("sales_small.csv", (DATA / "sales_small.csv").read_bytes())
    inbox.scan(2)
    (path,) = inbox.folder.glob("processed/*/sales_small.csv.result.json")
    text = path.read_text()
    assert text.endswith("\n") and json.loads(text)["status"] == 9


def test_more_files_than_a_request_may_hold_form_several_batches(inbox, settings):
    settings.UPLOAD_MAX_FILES = 2
    for name in ("sales_small.csv", "sales_utf8.csv", "products.csv"):
        inbox.drop(name, (DATA / name).read_bytes())
    report = inbox.scan(2)
    assert report.taken == 3 and len(report.batches) == 2
    assert ImportBatch.objects.count() == 2
    assert sorted(p for p in inbox.outcome("processed") if p.endswith(".csv")) == [
        "products.csv",
        "sales_small.csv",
        "sales_utf8.csv",
    ]
