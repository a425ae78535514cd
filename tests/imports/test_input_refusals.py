"""Input a user controls is refused with a 400 naming the field and the reason, never a 500; and a refused or
failed submission leaves nothing behind: no job outside a final status, no upload folder without a job."""

from __future__ import annotations

import datetime as dt
import html
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Q
from django.utils import timezone

from imports.archive.workflow import PENDING_DIR
from imports.models import FINAL_STATUSES, ArchiveStatus, ImportJob, JobStatus
from imports.services.retention import uploads_expired_purge
from tableconfig.models import ColumnConfig

from .conftest import DATA, table_count, upload

pytestmark = pytest.mark.django_db(transaction=True)

LONG_DIST = "D" * 51
LONG_TABLE = "t" * 64


@pytest.fixture
def uploads_dir(settings, tmp_path) -> Path:
    """A fresh UPLOAD_DIR, so that what a test leaves behind is all that is listed."""
    settings.UPLOAD_DIR = tmp_path / "uploads"
    settings.UPLOAD_DIR.mkdir()
    return settings.UPLOAD_DIR


def leftovers(uploads_dir: Path) -> list[str]:
    """Entries of UPLOAD_DIR that no waiting or processing job explains, nor a failed job's upload kept for a
    retry (until the purge), nor a job the archive still has to take (its folder under pending-archive/)."""
    live = {
        str(batch_id)
        for batch_id in ImportJob.objects.filter(
            Q(status__in=[JobStatus.WAITING, JobStatus.PROCESSING]) | Q(upload_kept_until__isnull=False)
        ).values_list("batch_id", flat=True)
    }
    archiving = {
        f"{PENDING_DIR}/{pk}"
        for pk in ImportJob.objects.filter(archive_status=ArchiveStatus.PENDING).values_list("pk", flat=True)
    }
    entries = [p for p in uploads_dir.iterdir() if p.name != PENDING_DIR]
    entries += list((uploads_dir / PENDING_DIR).glob("*"))
    names = {p.relative_to(uploads_dir).as_posix() for p in entries}
    return sorted(names - live - archiving)


def unfinished_jobs() -> list[tuple[str, int]]:
    waiting = (*FINAL_STATUSES, JobStatus.WAITING)
    return list(ImportJob.objects.exclude(status__in=waiting).values_list("original_filename", "status"))


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("created_after=2026-02-30", "created_after"),
        ("created_after=2026-02-30T25:00:00", "created_after"),
        ("created_after=2026-02-01T25:00:00", "created_after"),
        ("created_after=2026-13-01", "created_after"),
        ("created_after=2026-02-01T10:00:00%2B99:00", "created_after"),
        ("created_after=0001-01-01T00:00:00%2B05:00", "created_after"),
        ("created_after=yesterday", "created_after"),
        ("created_before=2026-02-30", "created_before"),
        ("created_before=2026-13-01T08:00:00", "created_before"),
        ("created_before=2026-02-01T10:00:00-99:00", "created_before"),
        ("limit=-1", "limit"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=99999999999999999999999999999999", "limit"),
        ("limit=ten", "limit"),
        ("limit=1.5", "limit"),
        ("offset=-1", "offset"),
        ("offset=1000000000000", "offset"),
        ("offset=x", "offset"),
        ("status=done", "status"),
        (f"dist_id={LONG_DIST}", "dist_id"),
        (f"table_name={LONG_TABLE}", "table_name"),
    ],
    ids=lambda value: (
        value if "=" not in value else value.split("=", 1)[0] + "=" + value.split("=", 1)[1][:24]
    ),
)
def test_jobs_api_refuses_an_invalid_parameter_with_its_field(admin_api, query, field):
    response = admin_api.get(f"/api/jobs?{query}")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["success"] is False
    assert body["code"] == "invalid_parameter"
    assert body["field"] == field
    assert body["error"].startswith(f"{field}: ")


@pytest.mark.parametrize(
    "query",
    [
        "limit=1&offset=0",
        "limit=500&offset=1000000000",
        "created_after=2026-02-28&created_before=2026-03-01T08:00:00%2B07:00",
        "created_after=0001-01-01&created_before=9999-12-31",
        f"dist_id={LONG_DIST[:50]}&table_name={LONG_TABLE[:63]}",
    ],
    ids=["smallest-page", "largest-page-and-offset", "date-and-offset", "calendar-ends", "longest-names"],
)
def test_jobs_api_accepts_the_limits_of_each_parameter(admin_api, query):
    response = admin_api.get(f"/api/jobs?{query}")
    assert response.status_code == 200, response.content
    assert response.json() == {"success": True, "data": []}


@pytest.fixture
def staff_client(client, make_user):
    client.force_login(make_user("staffer", is_staff=True))
    return client


@pytest.fixture
def sales_imported(admin_api, demo_tables, uploads_dir) -> ImportJob:
    response = admin_api.post(
        "/api/import", {"files": [upload("sales_small.csv")], "mode": "full"}, format="multipart"
    )
    assert response.status_code == 202, response.content
    return ImportJob.objects.get(original_filename="sales_small.csv")


@pytest.mark.parametrize("path", ["/data/sales/", "/data/sales/export.csv", "/data/sales/export.xlsx"])
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("job=9223372036854775808", "less than or equal to 9223372036854775807"),
        ("job=-1", "greater than or equal to 1"),
        ("job=abc", "Enter a whole number."),
        ("batch=not-a-uuid", "Enter a valid UUID."),
        (f"dist_id={LONG_DIST}", "at most 50 characters"),
    ],
    ids=["job-over-64-bits", "job-negative", "job-not-a-number", "batch-not-a-uuid", "dist-id-too-long"],
)
def test_data_pages_refuse_an_invalid_filter_with_400(staff_client, sales_imported, path, query, message):
    response = staff_client.get(f"{path}?{query}")
    assert response.status_code == 400
    assert message in html.unescape(response.content.decode())


def test_data_export_filtered_by_the_largest_job_id_is_an_empty_table(staff_client, sales_imported):
    response = staff_client.get("/data/sales/export.csv?job=9223372036854775807")
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert len(lines) == 1 and lines[0].startswith("distid,dono,")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("page=abc", "page: 'abc' is not a page number"),
        ("page=0", "page: '0' is not a page number"),
        ("page=99999999999999999999999999", "is not a page number"),
        ("created_after=2026-02-30", "Enter a valid date."),
        ("created_before=2026-13-01", "Enter a valid date."),
        (f"dist_id={LONG_DIST}", "at most 50 characters"),
        ("status=done", "Select a valid choice."),
    ],
    ids=[
        "page-word",
        "page-zero",
        "page-huge",
        "after-no-such-day",
        "before-month-13",
        "dist-id-long",
        "status",
    ],
)
def test_batch_list_refuses_an_invalid_parameter_with_400(staff_client, query, message):
    response = staff_client.get(f"/batches/?{query}")
    assert response.status_code == 400
    assert message in html.unescape(response.content.decode())


def test_batch_list_refuses_a_day_with_no_utc_equivalent(staff_client, settings):
    # 0001-01-01 00:00 in Jakarta is in the year 0 in UTC: no database can compare it.
    settings.TIME_ZONE = "Asia/Jakarta"
    response = staff_client.get("/batches/?created_after=0001-01-01")
    assert response.status_code == 400
    assert "Enter a date between 0002-01-01 and 9998-12-31." in response.content.decode()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"dist_id": LONG_DIST}, "dist_id", "dist_id: 51 characters, at most 50."),
        ({"table_name": LONG_TABLE}, "table_name", "table_name: 64 characters, at most 63."),
    ],
    ids=["dist-id", "table-name"],
)
@pytest.mark.parametrize("mode", ["quick", "full", "both"])
def test_import_api_refuses_a_name_too_long_for_its_column(
    admin_api, demo_tables, uploads_dir, data, field, message, mode
):
    response = admin_api.post(
        "/api/import", {"files": [upload("sales_small.csv")], "mode": mode, **data}, format="multipart"
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert (body["code"], body["field"], body["error"]) == ("field_too_long", field, message)
    assert not ImportJob.objects.exists()
    assert list(uploads_dir.iterdir()) == []


@pytest.mark.parametrize("mode", ["qiuck", "ful", "dry", "quick full", "x" * 500])
def test_import_api_refuses_an_unknown_mode_and_imports_nothing(admin_api, demo_tables, uploads_dir, mode):
    """A typo in the mode is refused, never run as a full import."""
    response = admin_api.post(
        "/api/import", {"files": [upload("sales_small.csv")], "mode": mode}, format="multipart"
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert (body["success"], body["code"], body["field"]) == (False, "invalid_mode", "mode")
    assert body["error"].startswith(f"mode: '{mode[:50]}' is not a mode. Use quick (validate only), full")
    assert not ImportJob.objects.exists()
    assert list(uploads_dir.iterdir()) == []
    assert table_count("sales") == 0


@pytest.mark.parametrize(
    ("mode", "answer"), [("", 200), (" QUICK ", 200), ("Full", 202), ("both", 200)], ids=str
)
def test_import_api_takes_the_known_modes_in_any_case_and_empty_as_both(
    admin_api, demo_tables, uploads_dir, mode, answer
):
    response = admin_api.post(
        "/api/import", {"files": [upload("sales_small.csv")], "mode": mode}, format="multipart"
    )
    assert response.status_code == answer, response.content
    expected = {"": "both", " QUICK ": "quick", "Full": "full", "both": "both"}[mode]
    assert response.json()["mode"] == expected


def long_names_zip(tmp_path: Path) -> SimpleUploadedFile:
    """Real sample files under names no job can record: a 260-character file name, and a short name in
    folders that make `<zip>:<path>` over 500 characters; and one ordinary member."""
    path = tmp_path / "long_names.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(DATA / "sales_small.csv", "sales_" + "x" * 250 + ".csv")
        archive.write(DATA / "stock_jan.csv", "/".join(["folder" + "y" * 94] * 5) + "/stock_jan.csv")
        archive.write(DATA / "products.csv", "products.csv")
    return SimpleUploadedFile("long_names.zip", path.read_bytes())


def test_import_skips_zip_members_whose_names_do_not_fit(admin_api, demo_tables, uploads_dir, tmp_path):
    response = admin_api.post(
        "/api/import", {"files": [long_names_zip(tmp_path)], "mode": "full"}, format="multipart"
    )
    assert response.status_code == 202, response.content
    warnings = response.json()["data"]["warnings"]
    assert len(warnings) == 2
    assert warnings[0].startswith("long_names.zip: sales_xxx")
    assert warnings[0].endswith("…: the file name is too long (260 characters, at most 255). Skipped.")
    assert (
        "its path in the archive is too long (533 characters with the ZIP's name, at most 500)" in warnings[1]
    )
    job = ImportJob.objects.exclude(status=JobStatus.SKIPPED).get()
    assert (job.original_filename, job.status, job.success_count) == ("products.csv", JobStatus.COMPLETE, 10)
    assert table_count("products") == 10 and table_count("sales") == 0 and table_count("stocks") == 0
    assert leftovers(uploads_dir) == []


# Written straight into the table, bypassing the checks of the services: a stray '%' that strptime cannot
# parse makes quick validation raise (an IndexError inside the date parser).
BROKEN_DATE_FORMAT = "%Y-%m-%d %"


@pytest.mark.parametrize("mode", ["full", "both"])
def test_import_with_an_unexpected_error_in_quick_validation_fails_the_file_and_keeps_it_for_a_retry(
    admin_api, demo_tables, uploads_dir, mode
):
    ColumnConfig.objects.filter(table__table_name="sales", column_name="dotanggal").update(
        date_format=BROKEN_DATE_FORMAT
    )
    response = admin_api.post(
        "/api/import",
        {"files": [upload("sales_small.csv"), upload("products.csv")], "mode": mode},
        format="multipart",
    )
    assert response.status_code in (200, 202), response.content
    body = response.json()
    files = body["files"] if mode == "both" else body["data"]["validation"]
    assert [(f["filename"], f["valid"]) for f in files] == [
        ("sales_small.csv", False),
        ("products.csv", True),
    ]
    assert files[0]["error"].startswith("Unexpected error while validating sales_small.csv (IndexError")
    sales = ImportJob.objects.get(original_filename="sales_small.csv")
    assert sales.status == JobStatus.FAILED and sales.error_code == "unexpected_error"
    assert sales.upload_kept_until is not None and (uploads_dir / sales.stored_filename).is_file()
    products = ImportJob.objects.get(original_filename="products.csv")
    assert products.status == JobStatus.COMPLETE and table_count("products") == 10
    assert table_count("sales") == 0
    assert leftovers(uploads_dir) == []


def test_quick_validation_with_an_unexpected_error_says_so_for_the_file(admin_api, demo_tables, uploads_dir):
    ColumnConfig.objects.filter(table__table_name="sales", column_name="dotanggal").update(
        date_format=BROKEN_DATE_FORMAT
    )
    response = admin_api.post(
        "/api/import", {"files": [upload("sales_small.csv")], "mode": "quick"}, format="multipart"
    )
    assert response.status_code == 422
    assert response.json()["files"][0]["error"].startswith(
        "Unexpected error while validating sales_small.csv"
    )
    assert list(uploads_dir.iterdir()) == []


def test_import_with_a_broken_table_configuration_fails_the_file_with_the_reason(
    admin_api, demo_tables, uploads_dir
):
    ColumnConfig.objects.filter(table__table_name="sales", column_name="qty").update(data_type="bogus")
    response = admin_api.post(
        "/api/import", {"files": [upload("sales_small.csv")], "mode": "both"}, format="multipart"
    )
    assert response.status_code == 422
    assert response.json()["files"][0]["error"] == "Column 'qty' has the unknown data type 'bogus'."
    job = ImportJob.objects.get(original_filename="sales_small.csv")
    assert (job.status, job.error_code) == (JobStatus.VALIDATION_FAILED, "invalid_config")
    assert (uploads_dir / job.stored_filename).is_file()  # kept, to retry once the column is fixed
    assert leftovers(uploads_dir) == []


def test_every_refused_submission_leaves_no_job_and_no_folder_behind(
    admin_api, demo_tables, uploads_dir, tmp_path, settings
):
    """Each refusal above in turn, on one UPLOAD_DIR: what remains is only what a queued job still needs."""
    post = admin_api.post
    for mode in ("quick", "full", "both"):
        post("/api/import", {"files": [upload("sales_small.csv")], "mode": mode, "dist_id": LONG_DIST})
        post("/api/import", {"files": [upload("sales_small.csv")], "mode": mode, "table_name": LONG_TABLE})
        post("/api/import", {"files": [long_names_zip(tmp_path)], "mode": mode})
        post("/api/import", {"files": [upload("report.pdf")], "mode": mode})
        post("/api/import", {"files": [upload("bomb.zip"), upload("zip_slip.zip")], "mode": mode})
    dates = ColumnConfig.objects.filter(table__table_name="sales", column_name="dotanggal")
    formats = dates.get().date_format
    dates.update(date_format=BROKEN_DATE_FORMAT)
    for mode in ("quick", "full", "both"):
        post("/api/import", {"files": [upload("sales_small.csv"), upload("sales_dist42.csv")], "mode": mode})
    dates.update(date_format=formats)
    ColumnConfig.objects.filter(table__table_name="sales", column_name="qty").update(data_type="bogus")
    for mode in ("quick", "full", "both"):
        post("/api/import", {"files": [upload("sales_small.csv")], "mode": mode})
    assert unfinished_jobs() == []
    assert leftovers(uploads_dir) == []
    assert ImportJob.objects.filter(status=JobStatus.FAILED).count() == 4
    # The failed jobs' uploads were kept for a retry; once purged, nothing but the archive's is left.
    uploads_expired_purge(now=timezone.now() + dt.timedelta(days=settings.FAILED_UPLOAD_KEEP_DAYS, hours=1))
    assert not ImportJob.objects.filter(upload_kept_until__isnull=False).exists()
    assert leftovers(uploads_dir) == []
    assert [p.name for p in uploads_dir.iterdir() if p.name != PENDING_DIR] == [
        str(b) for b in ImportJob.objects.filter(status=JobStatus.WAITING).values_list("batch_id", flat=True)
    ]
