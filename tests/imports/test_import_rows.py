"""Row-level results of real imports: what each value becomes, why a row is rejected, and what the job says."""

import csv
import io
from decimal import Decimal

import pytest

from imports.models import ImportJob, JobStatus
from tableconfig.services import import_table_create

from .conftest import DATA, table_count, table_rows, upload

pytestmark = pytest.mark.django_db(transaction=True)

TYPED_COLUMNS = "label, code, whole, money, flag, day"
# The row number a spreadsheet shows for each case of typed_rows.csv (the header is row 1).
TYPED_ROW_NUMBERS = {
    line.split(",", 1)[0]: number
    for number, line in enumerate((DATA / "typed_rows.csv").read_text().splitlines()[1:], start=2)
}


def post_import(client, *files, **fields):
    return client.post("/api/import", {"files": list(files), **fields}, format="multipart")


def imported_job(client, sample: str, **fields) -> ImportJob:
    response = post_import(client, upload(sample), mode="full", **fields)
    assert response.status_code == 202, response.json()
    return ImportJob.objects.get(batch_id=response.json()["data"]["batch_id"], original_filename=sample)


def errors_csv(client, job: ImportJob) -> list[list[str]]:
    response = client.get(f"/api/jobs/{job.batch_id}/files/{job.id}/errors.csv")
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


def _text(value) -> str | None:
    """A cell as text, the same on SQLite and MariaDB: amounts to 2 places, booleans as 1/0."""
    if value is None:
        return None
    if isinstance(value, float | Decimal):
        return f"{Decimal(str(value)):.2f}"
    if isinstance(value, bool):
        return str(int(value))
    return str(value)


@pytest.fixture
def typed_table(demo_tables):
    return import_table_create(
        table_name="typed",
        allowed_filename="typed_*",
        columns=[
            {"column_name": "label", "data_type": "str", "is_mandatory": True, "max_length": 40},
            {"column_name": "code", "data_type": "str", "max_length": 5},
            {"column_name": "whole", "data_type": "int"},
            {"column_name": "money", "data_type": "decimal", "decimal_digits": 10, "decimal_places": 2},
            {"column_name": "flag", "data_type": "bool"},
            {"column_name": "day", "data_type": "date", "date_format": "%d/%m/%Y|%m/%d/%Y"},
        ],
    )


@pytest.fixture
def typed_job(admin_api, typed_table) -> ImportJob:
    return imported_job(admin_api, "typed_rows.csv")


def typed_row(label: str) -> dict | None:
    rows = {row[0]: row for row in table_rows("typed", TYPED_COLUMNS)}
    if label not in rows:
        return None
    return dict(zip(TYPED_COLUMNS.split(", "), (_text(v) for v in rows[label]), strict=True))


# --- Values -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "column", "stored"),
    [
        pytest.param("all_valid", "code", "00123", id="str-leading-zeros-kept"),
        pytest.param("all_valid", "whole", "42", id="int"),
        pytest.param("int_negative", "whole", "-7", id="int-negative"),
        pytest.param("all_valid", "money", "1234.50", id="decimal"),
        pytest.param("all_valid", "flag", "1", id="bool-yes"),
        pytest.param("bool_no", "flag", "0", id="bool-n"),
        pytest.param("all_valid", "day", "2026-10-31", id="date-day-first"),
        pytest.param("date_day_first", "day", "2026-12-25", id="date-only-day-first-fits"),
        pytest.param("date_month_first", "day", "2026-12-25", id="date-only-month-first-fits"),
        pytest.param("str_max_length", "code", "ABCDE", id="str-at-max-length"),
        pytest.param("int_negative", "money", None, id="empty-is-null"),
    ],
)
def test_import_row_value_is_stored_canonically(typed_job, label, column, stored):
    row = typed_row(label)
    assert row is not None, f"{label} was rejected: {typed_job.errors}"
    assert row[column] == stored


@pytest.mark.parametrize(
    ("label", "column", "code", "message"),
    [
        pytest.param(
            "int_decimal_point", "whole", "invalid_int", "whole: '12.7' is not a whole number", id="int-12.7"
        ),
        pytest.param("int_text", "whole", "invalid_int", "whole: 'abc' is not a whole number", id="int-abc"),
        pytest.param(
            "decimal_thousands",
            "money",
            "invalid_decimal",
            "money: '1,000' is not a number (digits with an optional '.', no thousands separators)",
            id="decimal-thousands-separator",
        ),
        pytest.param(
            "decimal_too_big",
            "money",
            "decimal_out_of_range",
            "money: '123456789.00' has 9 digits before the decimal point, more than the 8 allowed",
            id="decimal-too-many-digits",
        ),
        pytest.param(
            "bool_other",
            "flag",
            "invalid_bool",
            "flag: 'maybe' is not yes or no (true/false, 1/0, yes/no, y/n, t/f)",
            id="bool-maybe",
        ),
        pytest.param(
            "date_ambiguous",
            "day",
            "ambiguous_date",
            "day: '03/04/2026' is ambiguous: it reads as 2026-04-03 with %d/%m/%Y and 2026-03-04 with %m/%d/%Y",
            id="date-ambiguous-between-formats",
        ),
        pytest.param(
            "date_iso_not_configured",
            "day",
            "invalid_date",
            "day: '2026-10-31' is not a date in the format DD/MM/YYYY or MM/DD/YYYY",
            id="date-not-in-the-columns-formats",
        ),
        pytest.param(
            "date_impossible",
            "day",
            "invalid_date",
            "day: '31/02/2026' is not a real date (February 2026 has 28 days)",
            id="date-31-february",
        ),
        pytest.param(
            "str_too_long",
            "code",
            "too_long",
            "code: 6 characters, more than the 5 allowed",
            id="str-over-max",
        ),
    ],
)
def test_import_row_value_is_rejected_with_a_message(typed_job, label, column, code, message):
    assert typed_row(label) is None
    errors = [e for e in typed_job.errors if e["row"] == TYPED_ROW_NUMBERS[label]]
    assert [(e["column"], e["code"], e["message"]) for e in errors] == [(column, code, message)]


def test_import_typed_file_counts_and_errors_csv(admin_api, typed_job):
    assert (typed_job.status, typed_job.total_rows) == (JobStatus.COMPLETE, 16)
    assert (typed_job.success_count, typed_job.error_count) == (6, 10)
    assert table_count("typed") == 6
    rows = errors_csv(admin_api, typed_job)
    assert rows[0] == ["row", "errors", "label", "code", "whole", "money", "flag", "day"]
    assert [(r[0], r[2]) for r in rows[1:]] == [
        ("4", "int_decimal_point"),
        ("5", "int_text"),
        ("6", "decimal_rounded"),
        ("7", "decimal_thousands"),
        ("8", "decimal_too_big"),
        ("10", "bool_other"),
        ("13", "date_ambiguous"),
        ("14", "date_iso_not_configured"),
        ("15", "date_impossible"),
        ("17", "str_too_long"),
    ]
    # The original values are kept, so the rows can be fixed and sent again.
    assert rows[4][2:] == ["decimal_thousands", "", "", "1,000", "", ""]


# --- Whole rows and whole files ---------------------------------------------------------------


def test_import_ragged_row_is_rejected_and_listed_with_its_values(admin_api, demo_tables):
    job = imported_job(admin_api, "sales_ragged_row.csv")
    assert (job.status, job.total_rows, job.success_count, job.error_count) == (JobStatus.COMPLETE, 5, 4, 1)
    assert job.errors == [
        {"row": 4, "column": "", "value": "", "code": "ragged_row", "message": "expected 8 fields, found 9"}
    ]
    assert [row[0] for row in table_rows("sales", "dono")] == [
        "DO2610001",
        "DO2610002",
        "DO2610004",
        "DO2610005",
    ]
    rows = errors_csv(admin_api, job)
    assert rows[1] == [
        "4",
        "expected 8 fields, found 9",
        "31001",
        "DO2610003",
        "2026-10-02",
        "C000125",
        "01789",
        "1",
        "99000",
        "2026-10-31 23:00:00",
        "EXTRA",
    ]
    assert len(rows) == 2


def test_import_columns_not_configured_are_ignored_and_named_once(admin_api, demo_tables):
    job = imported_job(admin_api, "sales_aliases.csv")
    assert (job.status, job.success_count) == (JobStatus.COMPLETE, 5)
    assert job.warnings == ["Columns not in the configuration are ignored: remark"]
    assert table_count("sales") == 5


@pytest.fixture
def strict_products(demo_tables):
    return import_table_create(
        table_name="strict_products",
        reject_file_on_error=True,
        columns=[
            {"column_name": "sku", "data_type": "str", "is_mandatory": True},
            {"column_name": "product_name", "data_type": "str", "is_mandatory": True},
            {"column_name": "price", "data_type": "decimal"},
        ],
    )


def test_import_reject_file_on_error_keeps_nothing_but_the_errors(admin_api, strict_products):
    job = imported_job(admin_api, "product_list_bad_price.csv", table_name="strict_products")
    assert job.status == JobStatus.PROCESSING_FAILED
    assert (job.total_rows, job.success_count, job.error_count) == (4, 0, 1)
    assert job.error_message == (
        "1 of 4 rows are invalid and this table rejects the whole file on any error: nothing was imported. "
        "Download the errors, fix those rows and upload again."
    )
    assert table_count("strict_products") == 0
    rows = errors_csv(admin_api, job)
    assert rows == [
        ["row", "errors", "sku", "product_name", "price"],
        [
            "4",
            "price: 'abc' is not a number (digits with an optional '.', no thousands separators)",
            "P102",
            "Bad",
            "abc",
        ],
    ]


def test_import_file_undecodable_part_way_is_refused_before_loading_naming_row_and_byte(
    admin_api, demo_tables
):
    response = post_import(admin_api, upload("sales_undecodable_late.csv"), mode="full")
    assert response.status_code == 422
    job = ImportJob.objects.get(original_filename="sales_undecodable_late.csv")
    assert job.status == JobStatus.VALIDATION_FAILED
    # The message names the user's file (not the server's stored name), the row and the byte offset.
    assert job.error_message == (
        "sales_undecodable_late.csv cannot be decoded as cp1252 at row 963 (byte 71728)."
    )
    assert job.success_count == 0
    assert table_count("sales") == 0


def test_import_cp1252_file_whose_first_accent_is_past_64_kib_imports_every_row_exactly(
    admin_api, demo_tables
):
    job = imported_job(admin_api, "sales_bad_byte_late.csv")
    assert (job.status, job.success_count, job.error_count) == (JobStatus.COMPLETE, 1000, 0)
    custids = {row[0] for row in table_rows("sales", "custid")}
    assert "C00095é" in custids and len(custids) == 1000


def test_import_one_failing_file_leaves_the_rest_of_the_batch_complete(admin_api, demo_tables):
    response = post_import(
        admin_api,
        upload("sales_undecodable_late.csv"),
        upload("sales_small.csv"),
        upload("products.csv"),
        mode="full",
    )
    assert response.status_code == 202
    jobs = {
        job.original_filename: job
        for job in ImportJob.objects.filter(batch_id=response.json()["data"]["batch_id"]).exclude(
            status=JobStatus.SKIPPED
        )
    }
    assert {name: (job.status, job.success_count) for name, job in jobs.items()} == {
        "sales_undecodable_late.csv": (JobStatus.VALIDATION_FAILED, 0),
        "sales_small.csv": (JobStatus.COMPLETE, 10),
        "products.csv": (JobStatus.COMPLETE, 10),
    }
    assert {row[0] for row in table_rows("sales", "import_job_id")} == {jobs["sales_small.csv"].id}
    assert table_count("sales") == 10 and table_count("products") == 10
    batch = admin_api.get(f"/api/jobs/{jobs['sales_small.csv'].batch_id}").json()["data"]
    assert batch["success_count"] == 20


@pytest.mark.parametrize(
    ("sample", "summary", "notes"),
    [
        pytest.param(
            "sales_utf8.csv",
            {
                "period_column": "dotanggal",
                "period_start": "2026-10-01",
                "period_end": "2026-10-31",
                "amount_column": "amount_jual",
                "amount_total": "4849001.7500",
                "export_date": "2026-10-31 23:00:00",
            },
            "Processed 5 rows; dotanggal period: 01/10/2026 to 31/10/2026; Total amount_jual: 4,849,001.75; "
            "Exported: 31/10/2026 23:00",
            id="five-rows",
        ),
        pytest.param(
            "sales_summary.csv",
            {
                "period_column": "dotanggal",
                "period_start": "2026-09-28",
                "period_end": "2026-10-31",
                "amount_column": "amount_jual",
                "amount_total": "1080.5500",
                "export_date": "2026-10-31 23:59:59",
            },
            "Processed 4 rows (1 rejected); dotanggal period: 28/09/2026 to 31/10/2026; "
            "Total amount_jual: 1,080.55; Exported: 31/10/2026 23:59",
            id="mixed-formats-a-return-and-a-rejected-row",
        ),
    ],
)
def test_import_summary_and_notes_for_the_sales_table(admin_api, demo_tables, sample, summary, notes):
    job = imported_job(admin_api, sample)
    assert job.status == JobStatus.COMPLETE
    assert {k: v for k, v in job.summary.items() if k != "timings"} == summary  # timings: their own test
    # The archive may add its own part after the import's.
    assert job.notes == notes or job.notes.startswith(notes + "; ")
