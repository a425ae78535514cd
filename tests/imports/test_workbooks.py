"""Excel and OpenDocument input: real .xlsx, .xls and .ods samples import exactly like their CSV twin."""

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from imports.models import ImportJob, JobStatus
from imports.services import workbooks
from imports.services.workbooks import cell_text
from tableconfig.models import ColumnConfig, ImportTable
from tableconfig.services import column_update, import_table_update

from .conftest import DATA, table_count, upload
from .test_import_files_e2e import batch_jobs, post_import, rows_text

pytestmark = pytest.mark.django_db(transaction=True)

SALES_COLUMNS = "distid, dono, dotanggal, custid, sku, qty, amount_jual, exportdate"
# sales_workbook.csv / .xlsx / .xls / .ods: rows 5 (qty 'ten') and 7 (date '01/13/2026') are refused.
GOOD_ROWS = 5


def sales_table_rows() -> list[tuple]:
    return rows_text("sales", SALES_COLUMNS, order="dono")


def job_errors(job: ImportJob) -> list[tuple]:
    return [(error["row"], error["column"], error["value"], error["code"]) for error in job.errors]


def imported(admin_api, name: str, **fields) -> ImportJob:
    response = post_import(admin_api, upload(name), mode="full", **fields)
    assert response.status_code == 202, response.json()
    data = response.json()["data"]
    return batch_jobs(data["batch_id"])[name]


def csv_twin(admin_api) -> tuple[list[tuple], list[tuple]]:
    """The rows and errors of sales_workbook.csv; the table is emptied again afterwards."""
    job = imported(admin_api, "sales_workbook.csv")
    assert (job.status, job.success_count, job.error_count) == (JobStatus.COMPLETE, GOOD_ROWS, 2)
    rows, errors = sales_table_rows(), job_errors(job)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {connection.ops.quote_name('sales')}")
    assert table_count("sales") == 0
    return rows, errors


@pytest.mark.parametrize("sample", ["sales_workbook.xlsx", "sales_workbook.xls", "sales_workbook.ods"])
def test_workbook_imports_the_same_rows_and_errors_as_its_csv_twin(admin_api, demo_tables, sample, settings):
    rows, errors = csv_twin(admin_api)
    assert errors == [(5, "qty", "ten", "invalid_int"), (7, "dotanggal", "01/13/2026", "invalid_date")]
    working = Path(settings.IMPORT_WORK_DIR) / "sheets"
    before = set(working.glob("sheet-*"))
    job = imported(admin_api, sample)
    assert (job.status, job.total_rows, job.success_count, job.error_count) == (
        JobStatus.COMPLETE,
        7,
        GOOD_ROWS,
        2,
    )
    assert sales_table_rows() == rows
    assert job_errors(job) == errors
    # The sheet's CSV working file is gone once the import has read it.
    assert set(working.glob("sheet-*")) - before == set()
    # Leading zeros stay, a number cell 31001 is "31001", a whole 99000.0 is 99000, an empty cell is NULL.
    by_order = {row[1]: row for row in rows}
    assert by_order["DO2610001"][:5] == ("31001", "DO2610001", "2026-10-03", "C000123", "00123")
    assert by_order["DO2610003"][7] is None


def test_workbook_the_archived_original_is_the_workbook_itself(admin_api, demo_tables, settings):
    job = imported(admin_api, "sales_workbook.xlsx")
    assert job.status == JobStatus.COMPLETE
    assert job.original_filename == "sales_workbook.xlsx"
    assert job.file_size == (DATA / "sales_workbook.xlsx").stat().st_size


def test_workbook_inside_a_zip_imports_like_the_csv(admin_api, demo_tables):
    rows, errors = csv_twin(admin_api)
    response = post_import(admin_api, upload("sales_workbook_in_zip.zip"), mode="full")
    assert response.status_code == 202, response.json()
    data = response.json()["data"]
    assert data["files"] == ["sales_workbook.xlsx"]
    job = batch_jobs(data["batch_id"])["sales_workbook.xlsx"]
    assert job.source_name == "sales_workbook_in_zip.zip:sales_workbook.xlsx"
    assert (job.success_count, job_errors(job)) == (GOOD_ROWS, errors)
    assert sales_table_rows() == rows


def test_workbook_excel_dates_pass_a_column_whose_format_is_day_month_year(admin_api, demo_tables):
    """The date cells arrive as ISO text; the CSV's 03/10/2026 and the workbook's date cell load alike."""
    for name, fmt in (("dotanggal", "%d/%m/%Y"), ("exportdate", "%d/%m/%Y %H:%M:%S")):
        column_update(
            column=ColumnConfig.objects.get(table__table_name="sales", column_name=name), date_format=fmt
        )
    rows, errors = csv_twin(admin_api)
    assert errors == [(5, "qty", "ten", "invalid_int"), (7, "dotanggal", "01/13/2026", "invalid_date")]
    job = imported(admin_api, "sales_workbook.xlsx")
    assert (job.success_count, job_errors(job)) == (GOOD_ROWS, errors)
    assert sales_table_rows() == rows
    # A CSV with ISO text in that column is still refused: only a workbook's date cells are read as ISO.
    csv_job = imported(admin_api, "sales_small.csv")
    assert (csv_job.status, csv_job.success_count, csv_job.error_count) == (JobStatus.COMPLETE, 0, 10)
    assert {(e["column"], e["code"]) for e in csv_job.errors} == {
        ("dotanggal", "invalid_date"),
        ("exportdate", "invalid_datetime"),
    }
    assert "2026-10-31 23:00:00" in {e["value"] for e in csv_job.errors}


def test_workbook_row_numbers_are_the_sheets_own(admin_api, demo_tables):
    job = imported(admin_api, "sales_gaps.xlsx")
    assert (job.status, job.total_rows, job.success_count) == (JobStatus.COMPLETE, 6, 4)
    assert job_errors(job) == [(8, "qty", "four", "invalid_int"), (11, "", "", "ragged_row")]
    assert job.errors[1]["message"] == "expected 8 fields, found 9"
    assert [row[1] for row in sales_table_rows()] == ["DO1", "DO2", "DO3", "DO5"]


def test_workbook_error_cells_are_row_errors_naming_the_cell(admin_api, demo_tables):
    job = imported(admin_api, "sales_error_cells.xlsx")
    assert (job.status, job.success_count, job.error_count) == (JobStatus.COMPLETE, 4, 2)
    assert [(e["row"], e["column"], e["value"], e["code"], e["message"]) for e in job.errors] == [
        (5, "amount_jual", "#DIV/0!", "excel_error", "amount_jual: cell G5 holds the Excel error #DIV/0!"),
        (6, "exportdate", "#N/A", "excel_error", "exportdate: cell H6 holds the Excel error #N/A"),
    ]
    assert [row[1] for row in sales_table_rows()] == ["DO1", "DO2", "DO3", "DO6"]


def test_workbook_the_sheet_the_table_names_is_read(admin_api, demo_tables):
    import_table_update(table=ImportTable.objects.get(table_name="sales"), sheet_name="Sales")
    job = imported(admin_api, "sales_two_sheets.xlsx")
    assert (job.status, job.success_count, job.error_count) == (JobStatus.COMPLETE, GOOD_ROWS, 2)
    assert [error[0] for error in job_errors(job)] == [5, 7]


def test_workbook_without_a_sheet_name_reads_the_first_sheet(admin_api, demo_tables):
    response = post_import(admin_api, upload("sales_two_sheets.xlsx"), mode="full")
    assert response.status_code == 422
    [result] = response.json()["data"]["validation"]
    assert result["valid"] is False
    assert "Missing mandatory columns" in result["error"] or "missing" in result["error"].lower()
    assert table_count("sales") == 0


def test_workbook_a_missing_sheet_is_a_file_error_naming_the_sheets(admin_api, demo_tables):
    import_table_update(table=ImportTable.objects.get(table_name="sales"), sheet_name="October")
    response = post_import(admin_api, upload("sales_two_sheets.xlsx"), mode="full")
    assert response.status_code == 422
    [result] = response.json()["data"]["validation"]
    assert result["error"] == "sales_two_sheets.xlsx has no sheet 'October'; its sheets are 'Notes', 'Sales'."
    job = batch_jobs(response.json()["data"]["batch_id"])["sales_two_sheets.xlsx"]
    assert (job.status, job.error_code) == (JobStatus.VALIDATION_FAILED, "sheet_missing")
    assert table_count("sales") == 0


def test_workbook_bomb_is_refused_like_a_bomb_zip(admin_api, demo_tables):
    response = post_import(
        admin_api, upload("sales_workbook_bomb.xlsx"), upload("sales_small.csv"), mode="full"
    )
    assert response.status_code == 202, response.json()
    data = response.json()["data"]
    [warning] = data["warnings"]
    assert warning.startswith("sales_workbook_bomb.xlsx: xl/worksheets/sheet1.xml: compression ratio of ")
    assert warning.endswith(":1 is over the limit of 200:1 (possible ZIP bomb). Skipped.")
    assert data["files"] == ["sales_small.csv"]
    assert table_count("sales") == 10


def test_workbook_bomb_inside_a_zip_is_refused(tmp_path, admin_api, demo_tables):
    import zipfile

    archive = tmp_path / "sales_bombs.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as out:
        out.write(DATA / "sales_workbook_bomb.xlsx", "sales_bomb.xlsx")
        out.write(DATA / "sales_workbook.xlsx", "sales_fine.xlsx")
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = post_import(
        admin_api, SimpleUploadedFile("sales_bombs.zip", archive.read_bytes()), mode="full"
    )
    data = response.json()["data"]
    [warning] = data["warnings"]
    assert warning.startswith("sales_bombs.zip: sales_bomb.xlsx: xl/worksheets/sheet1.xml: compression ratio")
    assert data["files"] == ["sales_fine.xlsx"]
    assert table_count("sales") == GOOD_ROWS


def test_workbook_import_files_command_takes_workbooks(demo_tables, tmp_path):
    out, err = io.StringIO(), io.StringIO()
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "sales_workbook.ods").write_bytes((DATA / "sales_workbook.ods").read_bytes())
    call_command("import_files", str(folder), "--wait", stdout=out, stderr=err)
    job = ImportJob.objects.get(original_filename="sales_workbook.ods")
    assert (job.status, job.success_count, job.error_count) == (JobStatus.COMPLETE, GOOD_ROWS, 2)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(1.0, "1", id="whole-float"),
        pytest.param(-2.0, "-2", id="negative-whole"),
        pytest.param(99000.0, "99000", id="whole-thousands"),
        pytest.param(0.1, "0.1", id="shortest-repr"),
        pytest.param(1.1000000000000001, "1.1", id="excel-17-digits"),
        pytest.param(0.1 + 0.2, "0.30000000000000004", id="a-computed-sum-is-what-it-is"),
        pytest.param(1.5e-05, "0.000015", id="no-exponent-small"),
        pytest.param(1e16, "10000000000000000", id="no-exponent-large"),
        pytest.param(True, "true", id="bool-true"),
        pytest.param(False, "false", id="bool-false"),
        pytest.param("00123", "00123", id="text-kept"),
        pytest.param(None, "", id="empty"),
    ],
)
def test_workbook_cell_text(value, text):
    assert cell_text(value) == text


def test_workbook_dates_and_times_as_iso_text():
    from datetime import date, datetime, time

    assert cell_text(date(2026, 10, 3)) == "2026-10-03"
    assert cell_text(datetime(2026, 10, 3, 8, 15)) == "2026-10-03 08:15:00"
    assert cell_text(datetime(2026, 10, 3, 8, 15, 0, 250000)) == "2026-10-03 08:15:00.250000"
    assert cell_text(time(12, 30)) == "12:30:00"


@pytest.mark.parametrize(
    ("sample", "good", "errors"),
    [
        pytest.param(
            "sales_workbook.xlsx",
            GOOD_ROWS,
            [(5, "qty", "ten", "invalid_int"), (7, "dotanggal", "01/13/2026", "invalid_date")],
            id="sales",
        ),
        pytest.param(
            "sales_gaps.xlsx",
            4,
            [(8, "qty", "four", "invalid_int"), (11, "", "", "ragged_row")],
            id="empty-rows-and-a-ragged-one",
        ),
        pytest.param(
            "sales_error_cells.xlsx",
            4,
            [(5, "amount_jual", "#DIV/0!", "excel_error"), (6, "exportdate", "#N/A", "excel_error")],
            id="error-cells",
        ),
    ],
)
def test_workbook_a_large_sheet_read_in_parts_gives_the_same_rows(
    admin_api, demo_tables, monkeypatch, sample, good, errors
):
    """Above SPLIT_BYTES of sheet XML, calamine reads the sheet in part workbooks of about PART_BYTES: here a
    row or two each, so every cut between rows is crossed."""
    job = imported(admin_api, sample)
    whole_rows = sales_table_rows()
    assert (job.success_count, job_errors(job)) == (good, errors)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {connection.ops.quote_name('sales')}")
    monkeypatch.setattr(workbooks, "SPLIT_BYTES", 1)
    monkeypatch.setattr(workbooks, "PART_BYTES", 300)
    job = imported(admin_api, sample, force="true")  # the same workbook again: forced past the re-sent check
    assert (job.success_count, job_errors(job)) == (good, errors)
    assert sales_table_rows() == whole_rows
