"""POST /api/import in its three modes, the older app's answer shapes, and the background import's results."""

import csv
import io
import shutil
import uuid

import pytest

from imports.models import ImportJob, JobStatus
from imports.services.importing import import_job_run
from imports.services.jobs import job_status_compare_and_set, job_stored_path

from .conftest import DATA, table_count, table_rows, upload

pytestmark = pytest.mark.django_db(transaction=True)


def post_import(client, *files, **fields):
    return client.post("/api/import", {"files": list(files), **fields}, format="multipart")


def test_import_without_files_is_400(admin_api, demo_tables):
    response = post_import(admin_api, mode="quick")
    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "error": "No files provided.",
        "code": "no_files",
        "mode": "quick",
    }


def test_import_with_only_unsupported_files_is_400_with_warnings(admin_api, demo_tables):
    response = post_import(admin_api, upload("products.csv", as_name="notes.pdf"))
    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "error": "No valid data files to process.",
        "mode": "both",
        "warnings": ["notes.pdf: Unsupported file type '.pdf'. Skipped."],
    }


def test_import_quick_mode_validates_without_jobs(admin_api, demo_tables):
    response = post_import(
        admin_api, upload("sales_small.csv"), upload("products.csv", as_name="report.pdf"), mode="quick"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["mode"] == "quick"
    assert body["message"] == "Quick validation completed."
    uuid.UUID(body["batch_id"])
    assert body["files"] == [
        {"filename": "sales_small.csv", "table_name": "sales", "valid": True, "rows": 10, "error": None}
    ]
    assert body["warnings"] == ["report.pdf: Unsupported file type '.pdf'. Skipped."]
    assert not ImportJob.objects.exists()
    assert table_count("sales") == 0


def test_import_full_mode_answers_202_and_imports(admin_api, demo_tables):
    response = post_import(admin_api, upload("sales_small.csv"), upload("products.csv"), mode="full")
    assert response.status_code == 202
    body = response.json()
    assert body["success"] is True and body["mode"] == "full"
    data = body["data"]
    assert data["status"] == "pending"
    assert data["total_rows"] == 20
    assert data["files"] == ["sales_small.csv", "products.csv"]
    assert [v["valid"] for v in data["validation"]] == [True, True]
    assert data["warnings"] == []
    jobs = ImportJob.objects.filter(batch_id=data["batch_id"]).exclude(status=JobStatus.SKIPPED)
    assert {j.original_filename: j.status for j in jobs} == {
        "sales_small.csv": JobStatus.COMPLETE,
        "products.csv": JobStatus.COMPLETE,
    }
    assert table_count("sales") == 10
    assert table_rows("products", "sku, product_name, price")[0][:2] == ("P001", "Product 1")


def test_import_both_mode_shape(admin_api, demo_tables):
    response = post_import(admin_api, upload("sales_small.csv"), dist_id="31001")
    assert response.status_code == 200
    body = response.json()
    assert body["mode"] == "both" and body["success"] is True
    assert body["message"] == "Quick validation completed. Import job started."
    assert body["files"][0] == {
        "filename": "sales_small.csv",
        "table_name": "sales",
        "valid": True,
        "rows": 10,
        "error": None,
    }
    assert body["data"]["status"] == "pending" and body["data"]["total_rows"] == 10
    assert body["data"]["files"] == ["sales_small.csv"]
    job = ImportJob.objects.get(batch_id=body["batch_id"], original_filename="sales_small.csv")
    assert job.status == JobStatus.COMPLETE and job.success_count == 10 and job.dist_id == "31001"


@pytest.mark.parametrize("mode", ["quick", "full", "both"])
def test_import_all_files_failed_is_422(admin_api, demo_tables, mode):
    response = post_import(admin_api, upload("unknown_name.csv"), mode=mode)
    assert response.status_code == 422
    body = response.json()
    assert body["success"] is False and body["error"] == "All files failed validation."
    files = body["files"] if mode != "full" else body["data"]["validation"]
    assert files[0]["valid"] is False
    assert files[0]["error"].startswith("Filename not recognized: unknown_name.csv. Expected one of: ")


def test_import_auto_batch_records_expected_files_missing(admin_api, demo_tables):
    body = post_import(admin_api, upload("sales_small.csv"), mode="full").json()
    skipped = ImportJob.objects.filter(batch_id=body["data"]["batch_id"], status=JobStatus.SKIPPED)
    assert sorted(j.table_name for j in skipped) == ["products", "stocks"]
    assert all(j.notes.startswith("File not uploaded") for j in skipped)


def test_import_10k_file_with_37_bad_rows(admin_api, demo_tables):
    body = post_import(admin_api, upload("sales_10k_37bad.csv"), mode="full").json()
    job = ImportJob.objects.get(batch_id=body["data"]["batch_id"], original_filename="sales_10k_37bad.csv")
    assert job.status == JobStatus.COMPLETE
    assert (job.total_rows, job.success_count, job.error_count) == (10_000, 9_963, 37)
    assert table_count("sales") == 9_963
    bad = [line.split() for line in (DATA / "sales_10k_37bad.bad_rows.txt").read_text().splitlines()]
    assert [(e["row"], e["column"]) for e in job.errors] == [(int(r), c) for r, c in bad]
    assert job.summary["period_start"] == "2026-10-01" and job.summary["period_end"] == "2026-10-28"
    assert "Processed 9,963 rows (37 rejected)" in job.notes

    response = admin_api.get(f"/api/jobs/{job.batch_id}/files/{job.id}/errors.csv")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="sales_10k_37bad-errors.csv"')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == [
        "row",
        "errors",
        "distid",
        "dono",
        "dotanggal",
        "custid",
        "sku",
        "qty",
        "amount_jual",
        "exportdate",
    ]
    assert [int(r[0]) for r in rows[1:]] == [int(r) for r, _ in bad]
    first = rows[1]
    assert first[0] == "126" and "qty" in first[1] and first[2:4] == ["31001", "DO0000126"]


def test_import_products_twice_updates_in_place(admin_api, demo_tables):
    post_import(admin_api, upload("products.csv"), mode="full", table_name="products")
    ids = dict(table_rows("products", "sku, id"))
    body = post_import(admin_api, upload("products_update.csv"), mode="full", table_name="products").json()
    rows = {
        sku: (name, float(price)) for sku, name, price in table_rows("products", "sku, product_name, price")
    }
    assert len(rows) == 11 and table_count("products") == 11
    assert rows["P001"] == ("Product 1 v2", 1100.0)
    assert rows["P006"] == ("last P006", 2.0)
    assert rows["P010"] == ("Product 10", 10000.0)
    # Updated in place: the rows keep their ids.
    assert {sku: i for sku, i in table_rows("products", "sku, id") if sku != "P011"} == ids
    job = ImportJob.objects.get(batch_id=body["data"]["batch_id"])
    counts = (job.inserted_count, job.updated_count, job.skipped_count, job.repeated_count)
    assert counts == (1, 6, 0, 1)
    assert (job.success_count, job.duplicate_count) == (7, 6)


def test_import_running_a_job_twice_leaves_the_same_rows(admin_api, demo_tables):
    body = post_import(admin_api, upload("sales_small.csv"), mode="full").json()
    job = ImportJob.objects.get(batch_id=body["data"]["batch_id"], original_filename="sales_small.csv")
    before = table_rows("sales", "dono, qty, import_job_id")
    assert len(before) == 10 and {r[2] for r in before} == {job.id}

    # A duplicate delivery of a finished task changes nothing.
    assert import_job_run(job_id=job.id).status == JobStatus.COMPLETE
    assert table_rows("sales", "dono, qty, import_job_id") == before

    # A re-run of a job still marked processing (as after a worker crash) replaces that job's rows.
    job_stored_path(job).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(DATA / "sales_small.csv", job_stored_path(job))
    job_status_compare_and_set(
        job_id=job.id, from_statuses=[JobStatus.COMPLETE], to_status=JobStatus.PROCESSING
    )
    assert import_job_run(job_id=job.id).status == JobStatus.COMPLETE
    assert table_rows("sales", "dono, qty, import_job_id", order="dono") == sorted(before)
    assert ImportJob.objects.get(pk=job.id).attempts == 2


def test_import_needs_login_and_permission(api, make_user, demo_tables):
    assert post_import(api, upload("sales_small.csv")).status_code in (401, 403)
    user = make_user("viewer")
    api.force_authenticate(user)
    response = post_import(api, upload("sales_small.csv"))
    assert response.status_code == 403
    assert response.json()["success"] is False
    uploader = make_user("uploader", perms=["imports.add_importjob"])
    api.force_authenticate(uploader)
    assert post_import(api, upload("sales_small.csv"), mode="quick").status_code == 200
