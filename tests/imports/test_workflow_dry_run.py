"""Dry run, then import: every row checked as the import would, nothing loaded; then the checked files
imported from their kept uploads, without a new upload. Also the API's retry answers, the CLI's --dry-run,
expected_in_batch, and the batch's own record (source, skipped ZIP members)."""

import csv
import datetime as dt
import html
import io
import re
import shutil

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from imports.models import BatchSource, ImportBatch, ImportJob, ImportMode, JobStatus
from imports.services.recovery import jobs_stale_recover
from tableconfig.models import ImportTable
from tableconfig.services import import_table_update

from .conftest import DATA, table_count, table_rows, upload

pytestmark = pytest.mark.django_db(transaction=True)

WORKFLOW = DATA / "workflow"


def workflow_upload(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (WORKFLOW / name).read_bytes())


def batch_id_of(response) -> str:
    body = response.json()
    return body.get("batch_id") or body["data"]["batch_id"]  # the 'both' shape or the 'full' one


def dry_run(client, *files, **fields) -> str:
    response = client.post(
        "/api/import", {"files": list(files), "mode": "dry_run", **fields}, format="multipart"
    )
    assert response.status_code in (200, 202), response.json()
    return batch_id_of(response)


def file_job(batch_id: str, name: str) -> ImportJob:
    return ImportJob.objects.get(batch_id=batch_id, original_filename=name)


def errors_csv(client, job: ImportJob) -> list[list[str]]:
    response = client.get(f"/api/jobs/{job.batch_id}/files/{job.id}/errors.csv")
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


def test_dry_run_lists_bad_rows_2_and_26_loads_nothing_then_imports_the_good_rows(
    admin_api, demo_tables, client, admin_user
):
    batch_id = dry_run(admin_api, workflow_upload("sales_bad_rows_2_26.csv"))
    job = file_job(batch_id, "sales_bad_rows_2_26.csv")
    assert table_count("sales") == 0
    assert (job.status, job.error_code, job.mode) == (
        JobStatus.VALIDATION_FAILED,
        "row_errors",
        ImportMode.DRY_RUN,
    )
    assert (job.total_rows, job.error_count, job.success_count) == (30, 2, 0)
    assert job.upload_kept_until is not None
    # The job JSON lists both rows with their column and value.
    details = admin_api.get(f"/api/jobs/{batch_id}/details").json()["data"]
    errors = [(e["row"], e["column"], e["value"]) for e in details[0]["errors"]]
    assert errors == [(2, "qty", "ten"), (26, "qty", "2.5")]
    assert details[0]["summary"]["dry_run"]["valid_rows"] == 28
    spent = details[0]["summary"]["timings"]  # where the check's time went, as for an import
    assert spent["reader"]["validate"] > 0 and all(s >= 0 for s in spent["main"].values())
    assert spent["main"]["load_file"] == 0  # nothing written
    assert sum(spent["main"].values()) == pytest.approx(spent["wall"], abs=0.001)
    assert "nothing was loaded" in details[0]["notes"]
    # The same errors CSV as the import's: the original values, to fix and re-send.
    rows = errors_csv(admin_api, job)
    assert [r[0] for r in rows[1:]] == ["2", "26"]
    assert rows[1][2:] == [
        "31001",
        "DO0000001",
        "2026-10-01",
        "C00001",
        "00001",
        "ten",
        "1000.50",
        "2026-10-31 23:00:00",
    ]
    # The batch page lists both and offers the import.
    client.force_login(admin_user)
    page = client.get(f"/batches/{batch_id}/").content.decode()
    assert re.search(
        r'<td class="num">2</td><td class="mono">qty</td><td class="mono value"[^>]*>ten</td>', page
    )
    assert re.search(r'<td class="num">26</td><td class="mono">qty</td>', page)
    assert "Import the checked files" in page
    assert admin_api.get(f"/api/jobs/{batch_id}").json()["data"]["status"] == "checked"

    response = admin_api.post(f"/api/jobs/{batch_id}/import")
    assert response.status_code == 202, response.json()
    assert [f["id"] for f in response.json()["data"]["files"]] == [job.id]
    job.refresh_from_db()
    assert (job.status, job.mode) == (JobStatus.COMPLETE, ImportMode.FULL)
    assert (job.total_rows, job.success_count, job.error_count) == (30, 28, 2)
    assert table_count("sales") == 28
    assert sorted(r[0] for r in table_rows("sales", "dono")) == sorted(
        f"DO{n:07d}" for n in range(1, 31) if n not in (1, 25)
    )
    # No new upload, no new job (the other two are the demo tables' missing files).
    assert ImportJob.objects.filter(batch_id=batch_id).exclude(status=JobStatus.SKIPPED).count() == 1
    # Imported once: a second call has nothing left to import.
    again = admin_api.post(f"/api/jobs/{batch_id}/import")
    assert again.status_code == 409 and again.json()["code"] == "nothing_to_import"
    assert table_count("sales") == 28


def test_dry_run_of_a_clean_file_ends_5_and_the_stale_scan_leaves_it(admin_api, demo_tables):
    batch_id = dry_run(admin_api, upload("sales_small.csv"))
    job = file_job(batch_id, "sales_small.csv")
    assert (job.status, job.error_count, job.success_count) == (JobStatus.VALIDATION_OK, 0, 0)
    assert job.completed_at is not None and job.notes.startswith("Dry run: 10 of 10 rows are valid")
    assert table_count("sales") == 0
    report = jobs_stale_recover(now=timezone.now() + dt.timedelta(hours=2))
    assert job.id not in report.failed and job.id not in report.requeued
    job.refresh_from_db()
    assert job.status == JobStatus.VALIDATION_OK
    assert admin_api.post(f"/api/jobs/{batch_id}/import").status_code == 202
    assert table_count("sales") == 10


def test_dry_run_of_a_unique_table_counts_updates_and_repeats_without_writing(admin_api, demo_tables):
    admin_api.post("/api/import", {"files": [upload("products.csv")], "mode": "full"}, format="multipart")
    before = table_rows("products", "sku, product_name")
    batch_id = dry_run(admin_api, workflow_upload("products_repeat_key.csv"), table_name="products")
    job = file_job(batch_id, "products_repeat_key.csv")
    assert job.status == JobStatus.VALIDATION_OK
    assert job.summary["dry_run"] == {
        "valid_rows": 3,
        "new_rows": 1,
        "updated_rows": 1,
        "skipped_rows": 0,
        "repeated_rows": 1,
    }
    assert table_rows("products", "sku, product_name") == before


def test_dry_run_with_on_duplicate_reject_lists_keys_already_in_the_table(admin_api, demo_tables):
    admin_api.post("/api/import", {"files": [upload("products.csv")], "mode": "full"}, format="multipart")
    import_table_update(table=ImportTable.objects.get(table_name="products"), on_duplicate="reject")
    batch_id = dry_run(admin_api, workflow_upload("products_repeat_key.csv"), table_name="products")
    job = file_job(batch_id, "products_repeat_key.csv")
    assert (job.status, job.error_count) == (JobStatus.VALIDATION_FAILED, 2)
    messages = [(e["row"], e["message"]) for e in job.errors]
    assert messages[0][0] == 2 and re.fullmatch(
        r"sku: 'P001' is already in products \(row id \d+\)", messages[0][1]
    )
    assert messages[1] == (4, "sku: 'P900' repeats row 3 of this file")
    assert table_count("products") == 10


def test_dry_run_file_refused_as_a_whole_is_6_and_not_importable(admin_api, demo_tables):
    response = admin_api.post(
        "/api/import", {"files": [upload("sales_missing_cols.csv")], "mode": "dry_run"}, format="multipart"
    )
    assert response.status_code == 422
    job = ImportJob.objects.get(original_filename="sales_missing_cols.csv")
    assert (job.status, job.error_code) == (JobStatus.VALIDATION_FAILED, "missing_columns")
    refused = admin_api.post(f"/api/jobs/{job.batch_id}/import")
    assert refused.status_code == 409 and refused.json()["code"] == "nothing_to_import"
    assert admin_api.post("/api/jobs/7b0c5cf4-4c7e-4d2a-9a57-5d2f0f6a1c3e/import").status_code == 404


def test_unknown_mode_is_still_refused_and_dry_run_is_accepted(admin_api, demo_tables):
    refused = admin_api.post(
        "/api/import", {"files": [upload("sales_small.csv")], "mode": "dryrun"}, format="multipart"
    )
    assert refused.status_code == 400 and "dry_run" in refused.json()["error"]
    assert not ImportJob.objects.exists()


def test_api_retry_answers_409_for_a_complete_job_and_requeues_a_fixed_one(admin_api, demo_tables):
    response = admin_api.post(
        "/api/import", {"files": [upload("products.csv")], "mode": "full"}, format="multipart"
    )
    job = ImportJob.objects.get(batch_id=batch_id_of(response), original_filename="products.csv")
    answer = admin_api.post(f"/api/jobs/{job.batch_id}/files/{job.id}/retry")
    assert answer.status_code == 409
    assert answer.json() == {
        "success": False,
        "error": f"Job {job.id} (products.csv) is 'Processing complete': only a job that failed (status 2, 6 or "
        "8) can be retried.",
        "code": "job_not_retryable",
    }
    assert table_count("products") == 10

    failed = ImportJob.objects.exclude(status=JobStatus.SKIPPED).get(
        batch_id=batch_id_of(
            admin_api.post(
                "/api/import",
                {"files": [workflow_upload("sales_unknown_date_header.csv")], "mode": "both"},
                format="multipart",
            )
        )
    )
    still = admin_api.post(f"/api/jobs/{failed.batch_id}/files/{failed.id}/retry")
    assert still.status_code == 200
    assert still.json()["data"]["status"] == JobStatus.VALIDATION_FAILED
    assert "still refused" in still.json()["message"]
    ImportJob.objects.filter(pk=failed.pk).update(upload_kept_until=timezone.now() - dt.timedelta(seconds=1))
    gone = admin_api.post(f"/api/jobs/{failed.batch_id}/files/{failed.id}/retry")
    assert gone.status_code == 410 and gone.json()["code"] == "upload_not_kept"


def test_a_corrected_file_alone_shows_no_missing_files_for_tables_not_expected(
    admin_api, demo_tables, client, admin_user
):
    ImportTable.objects.filter(table_name__in=["stocks", "products"]).update(expected_in_batch=False)
    response = admin_api.post(
        "/api/import", {"files": [upload("sales_small.csv")], "mode": "both"}, format="multipart"
    )
    batch_id = batch_id_of(response)
    assert not ImportJob.objects.filter(batch_id=batch_id, status=JobStatus.SKIPPED).exists()
    client.force_login(admin_user)
    page = client.get(f"/batches/{batch_id}/").content.decode()
    assert "Expected files not uploaded" not in page
    # A table still expected is listed as missing, in auto batches only.
    ImportTable.objects.filter(table_name="stocks").update(expected_in_batch=True)
    auto = batch_id_of(
        admin_api.post(
            "/api/import", {"files": [upload("sales_small.csv")], "mode": "both"}, format="multipart"
        )
    )
    assert list(
        ImportJob.objects.filter(batch_id=auto, status=JobStatus.SKIPPED).values_list("table_name", flat=True)
    ) == ["stocks"]
    named = batch_id_of(
        admin_api.post(
            "/api/import",
            {"files": [upload("sales_small.csv")], "mode": "both", "table_name": "sales"},
            format="multipart",
        )
    )
    assert not ImportJob.objects.filter(batch_id=named, status=JobStatus.SKIPPED).exists()


def test_skipped_zip_members_are_kept_on_the_batch_and_shown(admin_api, demo_tables, client, admin_user):
    batch_id = batch_id_of(
        admin_api.post("/api/import", {"files": [upload("with_pdf.zip")], "mode": "both"}, format="multipart")
    )
    batch = ImportBatch.objects.get(batch_id=batch_id)
    assert batch.source == BatchSource.API and batch.mode == ImportMode.BOTH
    assert len(batch.warnings) == 1 and "report.pdf" in batch.warnings[0]
    client.force_login(admin_user)
    page = client.get(f"/batches/{batch_id}/").content.decode()
    assert "Not taken from this upload" in page and html.escape(batch.warnings[0]) in page


def test_upload_page_submission_is_recorded_as_from_the_upload_page(demo_tables, client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        "/", {"files": [upload("sales_small.csv")], "mode": "dry_run", "table_name": "auto"}
    )
    assert response.status_code == 200
    batch = ImportBatch.objects.get()
    assert (batch.source, batch.mode) == (BatchSource.UPLOAD, ImportMode.DRY_RUN)
    assert (
        ImportJob.objects.get(batch_id=batch.batch_id, original_filename="sales_small.csv").status
        == JobStatus.VALIDATION_OK
    )


def test_upload_page_explains_each_mode_and_lists_expected_file_names(demo_tables, client, admin_user):
    client.force_login(admin_user)
    page = client.get("/").content.decode()
    assert "Dry run: check every row, load nothing" in page
    assert "Checks every row exactly as the import would and loads nothing" in page
    assert "kept 24 hours" in page
    assert re.search(r'<tr data-table="sales">.*?<td class="mono">sales, sales_\*</td>', page, re.S)
    assert re.search(r'<tr data-table="stocks">.*?stock, stocks, stock_\*', page, re.S)


def test_cli_dry_run_prints_the_check_and_loads_nothing(tmp_path, demo_tables):
    path = tmp_path / "sales_bad_rows_2_26.csv"
    shutil.copy(WORKFLOW / path.name, path)
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("import_files", str(path), "--dry-run", "--wait", stdout=out, stderr=err)
    assert exited.value.code == 1  # row errors found
    first, *lines = out.getvalue().splitlines()
    assert first.endswith("(dry_run)")
    assert [line for line in lines if not line.startswith("(missing)")] == [
        "sales_bad_rows_2_26.csv: Validation failed: Dry run: 2 of 30 rows have errors; nothing was loaded. "
        "Import the checked files to load the valid rows, or fix the rows and upload again."
    ]
    assert table_count("sales") == 0
    assert ImportBatch.objects.get().source == BatchSource.CLI


def test_cli_progress_bar_ends_its_line_for_each_file(tmp_path, demo_tables):
    for name in ("sales_small.csv", "products.csv"):
        shutil.copy(DATA / name, tmp_path / name)
    err = io.StringIO()
    call_command("import_files", str(tmp_path), "--wait", stdout=io.StringIO(), stderr=err)
    text = err.getvalue()
    assert text.endswith("\n")
    bars = [line.rsplit("\r", 1)[-1] for line in text.split("\n") if "\r" in line]
    assert len(bars) == 2  # one line per file, not one bar drawn over the other
    assert bars[0].startswith("products.csv") and bars[0].endswith("10/10")
    assert bars[1].startswith("sales_small.csv") and bars[1].endswith("10/10")


def test_quick_check_on_the_upload_page_lists_bad_sample_rows_and_keeps_the_file_valid(
    demo_tables, client, admin_user
):
    client.force_login(admin_user)
    response = client.post(
        "/",
        {
            "files": [upload("sales_bad_sample.csv", as_name="sales_oct.csv")],
            "mode": "quick",
            "table_name": "auto",
        },
    )
    page = response.content.decode()
    assert re.search(r'<tr data-valid="true">\s*<td class="mono">sales_oct.csv</td>', page)
    assert html.escape("Row 3: qty: '12.7' is not a whole number") in page
