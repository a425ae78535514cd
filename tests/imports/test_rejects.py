"""Errors people can read: row errors grouped with exact counts over every rejected row, messages naming the
file's header and the column, and the rejected-rows downloads (a neutralised CSV, a text-only XLSX)."""

import csv
import io
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

from imports.admin import ImportJobAdmin
from imports.models import ImportJob, JobStatus
from imports.services.rejects import ErrorGroups, error_group_label, xlsx_text
from imports.services.validation import RowError
from tableconfig.models import ImportTable

from .conftest import DATA, table_count, upload

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = "DistID,DO No,DO Date,Cust ID,SKU,Quantity,Amount,Export Date"
BAD_ROWS = 9_677


def _line(dono: str, qty: str) -> str:
    return f"31001,{dono},2026-10-01,C000123,00123,{qty},1250.50,2026-10-31 23:00:00"


@pytest.fixture
def many_errors_file(tmp_path) -> Path:
    """The sales table's columns under a distributor's own headers: 2 good rows (quick validation reads
    them), 9,677 rows whose Quantity is 'ten', then 100 good rows."""
    lines = [HEADER, _line("DO1", "1"), _line("DO2", "2")]
    lines += [_line(f"BAD{n}", "ten") for n in range(BAD_ROWS)]
    lines += [_line(f"OK{n}", "5") for n in range(100)]
    path = tmp_path / "sales_many_errors.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def imported(client, path: Path, **fields) -> ImportJob:
    sample = SimpleUploadedFile(path.name, path.read_bytes())
    response = client.post("/api/import", {"files": [sample], "mode": "both", **fields}, format="multipart")
    assert response.status_code == 200, response.content
    job = ImportJob.objects.get(batch_id=response.json()["batch_id"], original_filename=path.name)
    assert job.status == JobStatus.COMPLETE, job.error_message
    return job


def test_identical_errors_make_one_group_with_the_exact_count(
    admin_api, client, admin_user, demo_tables, many_errors_file
):
    job = imported(admin_api, many_errors_file)
    assert job.error_count == BAD_ROWS and job.success_count == 102
    assert len(job.errors) == 1000  # the rows kept one by one stay capped; the group counts them all
    assert job.error_summary == [
        {
            "column": "qty",
            "header": "Quantity",
            "code": "invalid_int",
            "problem": "not a whole number (or out of range)",
            "count": BAD_ROWS,
            "examples": [{"row": 4, "value": "ten"}, {"row": 5, "value": "ten"}, {"row": 6, "value": "ten"}],
        }
    ]
    # Every message names the file's header and the column.
    assert job.errors[0]["message"] == "Quantity (qty): 'ten' is not a whole number"

    batch = admin_api.get(f"/api/jobs/{job.batch_id}").json()["data"]
    assert batch["files"][0]["error_summary"] == job.error_summary
    details = admin_api.get(f"/api/jobs/{job.batch_id}/details").json()["data"]
    assert details[0]["error_summary"] == job.error_summary

    client.force_login(admin_user)
    text = client.get(f"/batches/{job.batch_id}/").content.decode()
    assert (
        'Quantity (qty)</strong>: not a whole number (or out of range), 9,677 rows, e.g. row 4 "ten", row 5 "ten", row 6 "ten"'
        in text
    )


def test_ragged_rows_and_duplicate_keys_are_groups_too(admin_api, demo_tables):
    ragged = SimpleUploadedFile("sales_ragged_row.csv", (DATA / "sales_ragged_row.csv").read_bytes())
    response = admin_api.post("/api/import", {"files": [ragged], "mode": "full"}, format="multipart")
    job = ImportJob.objects.get(
        batch_id=response.json()["data"]["batch_id"], original_filename="sales_ragged_row.csv"
    )
    groups = {(g["column"], g["code"]): g for g in job.error_summary}
    assert groups[("", "ragged_row")]["count"] == sum(1 for e in job.errors if e["code"] == "ragged_row") > 0
    assert error_group_label(groups[("", "ragged_row")]) == "Whole row"

    # A table that refuses repeated keys: the repeats are one group, named by the file's header.
    ImportTable.objects.filter(table_name="products").update(on_duplicate="reject")
    lines = ["SKU,product_name,price", "D1,One,1.00", "D1,Again,2.00", "D1,Thrice,3.00", "D2,Two,2.00"]
    repeated = SimpleUploadedFile("products.csv", ("\n".join(lines) + "\n").encode())
    response = admin_api.post(
        "/api/import", {"files": [repeated], "mode": "full", "table_name": "products"}, format="multipart"
    )
    job = ImportJob.objects.get(batch_id=response.json()["data"]["batch_id"], table_name="products")
    assert job.status == JobStatus.COMPLETE and job.success_count == 2
    assert job.error_summary == [
        {
            "column": "sku",
            "header": "SKU",
            "code": "duplicate_key",
            "problem": "a unique key already used",
            "count": 2,
            "examples": [{"row": 3, "value": "D1"}, {"row": 4, "value": "D1"}],
        }
    ]
    assert job.errors[0]["message"] == "SKU (sku): 'D1' repeats row 2 of this file"


def test_error_groups_count_every_error_and_keep_the_first_examples():
    groups = ErrorGroups(headers={"qty": "Qty", "dotanggal": "DO Date"})
    groups.add([RowError(n, "qty", "ten", "invalid_int", "m") for n in range(2, 12)])
    groups.add([RowError(20, "dotanggal", "31/02/2026", "invalid_date", "m")])
    groups.add([RowError(30, "qty", "x" * 500, "invalid_int", "m")])
    qty, date = groups.as_list()
    assert qty["count"] == 11 and [e["row"] for e in qty["examples"]] == [2, 3, 4]
    assert error_group_label(qty) == "Qty (qty)" and error_group_label(date) == "DO Date (dotanggal)"
    assert error_group_label({"column": "qty", "header": "qty"}) == "qty"
    assert date["problem"] == "not a date in the expected format"


# --- downloads ---------------------------------------------------------------------------------------------


@pytest.fixture
def formula_job(admin_api, demo_tables) -> ImportJob:
    return imported(admin_api, DATA / "sales_formula_rejects.csv")


NEUTRALISED_DO_NO = ["'=cmd|' /C calc'!A0", "'@SUM(1+1)", "'+1", "-2", "'-x", "'\tTAB", "'\rCR"]
ORIGINAL_DO_NO = ["=cmd|' /C calc'!A0", "@SUM(1+1)", "+1", "-2", "-x", "\tTAB", "\rCR"]


def test_errors_csv_neutralises_formula_cells_like_the_exports(admin_api, formula_job):
    job = formula_job
    assert job.error_count == 7 and job.errors_file == f"errors/{job.batch_id}/{job.id}.csv"
    response = admin_api.get(f"/api/jobs/{job.batch_id}/files/{job.id}/errors.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="sales_formula_rejects-errors.csv"' in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body[1:], newline="")))
    assert rows[0] == [
        "row",
        "errors",
        "DistID",
        "DO No",
        "DO Date",
        "Cust ID",
        "SKU",
        "Quantity",
        "Amount",
        "Export Date",
    ]
    assert [r[0] for r in rows[1:]] == ["4", "5", "6", "7", "8", "9", "10"]
    assert [r[3] for r in rows[1:]] == NEUTRALISED_DO_NO
    assert rows[1][1] == "Quantity (qty): 'x' is not a whole number"
    # The stored file keeps the values as the distributor sent them.
    stored = (Path(settings.MEDIA_ROOT) / job.errors_file).read_bytes().decode("utf-8-sig")
    assert [r[3] for r in list(csv.reader(io.StringIO(stored, newline="")))[1:]] == ORIGINAL_DO_NO


def _excel_text(value: str) -> str:
    """What Excel reads from a stored cell: OOXML's _xHHHH_ escapes decoded."""
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), value)


def test_errors_xlsx_stores_every_cell_as_text_with_the_original_values(admin_api, formula_job):
    job = formula_job
    response = admin_api.get(f"/api/jobs/{job.batch_id}/files/{job.id}/errors.xlsx")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert 'filename="sales_formula_rejects-errors.xlsx"' in response["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).worksheets[0]
    cells = [list(row) for row in sheet.iter_rows()]
    assert {c.data_type for row in cells for c in row} == {"s"}
    values = [[_excel_text(c.value) for c in row] for row in cells]
    assert values[0][:4] == ["row", "errors", "DistID", "DO No"]
    assert [r[3] for r in values[1:]] == ORIGINAL_DO_NO
    # Numbers and dates stay the text the file had: "00123" keeps its zeros, the row number is text too.
    assert [r[0] for r in values[1:]] == ["4", "5", "6", "7", "8", "9", "10"]
    assert {r[6] for r in values[1:]} == {"00123"} and {r[4] for r in values[1:]} == {"2026-10-01"}


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("plain", "plain"),
        ("\rCR", "_x000D_CR"),
        ("a\x01b", "a_x0001_b"),
        ("line\nbreak\ttab", "line\nbreak\ttab"),
        ("x_x0041_y", "x_x005F_x0041_y"),
    ],
    ids=["plain", "cr", "control", "lf-and-tab-kept", "escape-lookalike"],
)
def test_xlsx_text_reads_back_exactly(value, stored):
    assert xlsx_text(value) == stored
    assert _excel_text(stored) == value


def test_downloads_of_a_file_without_rejected_rows_are_404(admin_api, demo_tables):
    response = admin_api.post(
        "/api/import", {"files": [upload("sales_small.csv")], "mode": "full"}, format="multipart"
    )
    job = ImportJob.objects.get(
        batch_id=response.json()["data"]["batch_id"], original_filename="sales_small.csv"
    )
    assert job.error_count == 0 and job.errors_file == ""
    for extension in ("csv", "xlsx"):
        answer = admin_api.get(f"/api/jobs/{job.batch_id}/files/{job.id}/errors.{extension}")
        assert answer.status_code == 404
        assert answer.json()["success"] is False
        assert answer.json()["error"] == "This file has no rejected rows."


def test_batch_page_offers_both_downloads_and_says_which_to_fix(admin_user, client, formula_job):
    client.force_login(admin_user)
    text = client.get(f"/batches/{formula_job.batch_id}/").content.decode()
    base = f"/api/jobs/{formula_job.batch_id}/files/{formula_job.id}"
    assert f'href="{base}/errors.xlsx"' in text and f'href="{base}/errors.csv"' in text
    assert "Fix the rows in the XLSX and send it again" in text
    assert "carries a leading" in text


# --- errors_file relative to MEDIA_ROOT ----------------------------------------------------------------------


def test_an_older_absolute_errors_file_is_still_downloaded(admin_api, formula_job):
    job = formula_job
    absolute = Path(settings.MEDIA_ROOT) / job.errors_file
    ImportJob.objects.filter(pk=job.pk).update(errors_file=str(absolute))
    response = admin_api.get(f"/api/jobs/{job.batch_id}/files/{job.id}/errors.csv")
    assert response.status_code == 200
    assert len(list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))) == 8


def test_migration_makes_absolute_errors_files_relative(formula_job):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("imports.migrations.0009_errors_file_relative")
    job = formula_job
    relative = job.errors_file
    ImportJob.objects.filter(pk=job.pk).update(errors_file=str(Path(settings.MEDIA_ROOT) / relative))
    elsewhere = ImportJob.objects.create(table_name="sales", errors_file="/somewhere/else/1.csv")
    migration.errors_file_relative(apps, None)
    job.refresh_from_db()
    elsewhere.refresh_from_db()
    assert job.errors_file == relative
    assert elsewhere.errors_file == "/somewhere/else/1.csv"
    migration.errors_file_absolute(apps, None)
    job.refresh_from_db()
    assert job.errors_file == str(Path(settings.MEDIA_ROOT) / relative)


def test_admin_shows_the_errors_file_as_download_links_not_a_path(admin_user, client, formula_job):
    client.force_login(admin_user)
    text = client.get(f"/admin/imports/importjob/{formula_job.pk}/change/").content.decode()
    base = f"/api/jobs/{formula_job.batch_id}/files/{formula_job.id}"
    assert f'href="{base}/errors.xlsx"' in text and f'href="{base}/errors.csv"' in text
    assert str(settings.MEDIA_ROOT) not in text
    assert "errors_file_link" in ImportJobAdmin.fieldsets[2][1]["fields"]


def test_rows_are_not_lost_by_the_grouping(admin_api, demo_tables, many_errors_file):
    job = imported(admin_api, many_errors_file)
    assert table_count("sales") == 102
    response = admin_api.get(f"/api/jobs/{job.batch_id}/files/{job.id}/errors.csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert len(rows) == 1 + BAD_ROWS
