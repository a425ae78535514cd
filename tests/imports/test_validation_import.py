"""Data fidelity through real imports (POST /api/import, the engine, the table read back), on both databases:
what validation accepts lands exactly as the file said; what it refuses is a row error saying why."""

from decimal import Decimal

import pytest

from imports.models import ImportJob, JobStatus
from tableconfig.models import ColumnConfig, ImportTable

from .conftest import table_count, table_rows, upload

pytestmark = pytest.mark.django_db(transaction=True)

ACCENTED_CUSTOMERS = ["PEÑA-01", "JOSÉ-02", "CAFÉ-03", "MUÑOZ-04", "IBÁÑEZ-05"]


def imported_job(client, sample: str, *, status: int = 202, **fields) -> ImportJob:
    response = client.post(
        "/api/import", {"files": [upload(sample)], "mode": "full", **fields}, format="multipart"
    )
    assert response.status_code == status, response.json()
    return ImportJob.objects.get(batch_id=response.json()["data"]["batch_id"], original_filename=sample)


def row_errors(job: ImportJob) -> list[tuple[int, str, str]]:
    return [(e["row"], e["column"], e["code"]) for e in job.errors]


def test_import_late_cp1252_file_stores_its_accents_exactly(admin_api, demo_tables):
    job = imported_job(admin_api, "sales_cp1252_late.csv")

    assert (job.status, job.error_message) == (JobStatus.COMPLETE, "")
    assert (job.success_count, job.error_count) == (971, 0)
    custids = [row[0] for row in table_rows("sales", "custid")]
    assert custids[961:966] == ACCENTED_CUSTOMERS


def test_import_undecodable_file_is_refused_before_anything_is_loaded(admin_api, demo_tables):
    job = imported_job(admin_api, "sales_undecodable_late.csv", status=422)

    assert job.status == JobStatus.VALIDATION_FAILED
    assert (job.error_code, job.error_message) == (
        "undecodable",
        "sales_undecodable_late.csv cannot be decoded as cp1252 at row 963 (byte 71728).",
    )
    assert table_count("sales") == 0


@pytest.mark.parametrize(
    ("settings", "errors"),
    [
        pytest.param(
            {},
            [
                (
                    9,
                    "distid",
                    "distributor_mismatch",
                    "distid: '3200123' does not match dist_id 31001 (first 2 characters)",
                )
            ],
            id="prefix-2",
        ),
        pytest.param(
            {"distributor_match": "exact"},
            [
                (8, "distid", "distributor_mismatch", "distid: '31002' does not match dist_id 31001"),
                (9, "distid", "distributor_mismatch", "distid: '3200123' does not match dist_id 31001"),
            ],
            id="exact",
        ),
    ],
)
def test_import_distributor_checked_on_every_row(admin_api, demo_tables, settings, errors):
    ImportTable.objects.filter(table_name="sales").update(**settings)

    job = imported_job(admin_api, "sales_dist_mixed.csv", dist_id="31001")

    assert job.status == JobStatus.COMPLETE
    assert [(e["row"], e["column"], e["code"], e["message"]) for e in job.errors] == errors
    assert job.success_count == 10 - len(errors)
    assert "3200123" not in {row[0] for row in table_rows("sales", "distid")}


def test_import_without_dist_id_loads_every_distributor(admin_api, demo_tables):
    job = imported_job(admin_api, "sales_dist_mixed.csv")
    assert (job.status, job.success_count, job.errors) == (JobStatus.COMPLETE, 10, [])


def test_import_nul_byte_rejects_its_row_naming_the_column(admin_api, demo_tables):
    job = imported_job(admin_api, "sales_nul_byte.csv")

    assert job.status == JobStatus.COMPLETE
    assert row_errors(job) == [(31, "dono", "nul_byte")]
    assert (job.success_count, table_count("sales")) == (59, 59)


def test_import_concatenated_exports_marks_removed_and_said(admin_api, demo_tables):
    job = imported_job(admin_api, "sales_concatenated_bom.csv")

    assert "Row 5: a byte-order mark (from concatenated exports) was removed" in job.warnings
    # Row 5 is the second export's header: rejected for its values, shown without the mark.
    assert row_errors(job) == [
        (5, "dotanggal", "invalid_date"),
        (5, "qty", "invalid_int"),
        (5, "amount_jual", "invalid_decimal"),
        (5, "exportdate", "invalid_datetime"),
    ]
    assert [row[0] for row in table_rows("sales", "custid")] == [
        "ÉLODIE-01",
        "C000002",
        "C000003",
        "ŽOFIA-04",
        "C000005",
    ]


def test_import_dates_years_1_to_9999_time_parts_and_microseconds(admin_api, demo_tables):
    job = imported_job(admin_api, "sales_dates_edge.csv")

    assert job.status == JobStatus.COMPLETE
    assert [(e["row"], e["code"], e["message"]) for e in job.errors] == [
        (4, "invalid_date", "dotanggal: '0000-01-01' is not a real date (there is no year 0)"),
        (
            6,
            "time_in_date",
            "dotanggal: '03/04/2026 23:59' has a time of day (23:59); this column holds dates only",
        ),
        (7, "invalid_date", "dotanggal: '31/11/2026' is not a real date (November has 30 days)"),
        (
            8,
            "too_precise_time",
            "exportdate: '2026-10-31 10:15:00.1234567' has more than 6 digits of fractional seconds; "
            "the table keeps microseconds",
        ),
    ]
    stored = [(str(day), str(exported)) for day, exported in table_rows("sales", "dotanggal, exportdate")]
    assert stored == [
        ("0001-01-01", "0001-01-01 00:00:00"),
        ("9999-12-31", "9999-12-31 23:59:59.999999"),
        ("2026-04-03", "2026-10-31 10:15:00.999000"),
        ("1677-01-01", "2263-01-01 00:00:00.500000"),
    ]


def test_import_decimal_comma_table_stores_the_amounts_exactly(admin_api, demo_tables):
    ImportTable.objects.filter(table_name="sales").update(decimal_separator=",", thousands_separator=".")

    job = imported_job(admin_api, "sales_semicolon.csv", table_name="sales")

    assert (job.status, job.success_count, job.errors) == (JobStatus.COMPLETE, 5, [])
    amounts = [Decimal(str(row[0])) for row in table_rows("sales", "amount_jual")]
    assert amounts == [
        Decimal("1250000.50"),
        Decimal("375000.00"),
        Decimal("99000"),
        Decimal("3125001.25"),
        0,
    ]


@pytest.mark.parametrize(
    ("round_decimals", "errors", "stored"),
    [
        pytest.param(
            False,
            [(4, "too_many_decimals"), (7, "too_many_decimals")],
            {"P2": "1.5000", "P3": "99999999999999.9999", "P4": "-0.0001", "P5": "12345678901234.5678"},
            id="refused-by-default",
        ),
        pytest.param(
            True,
            [],
            {
                "P2": "1.5000",
                "P3": "99999999999999.9999",
                "P1": "1.2346",
                "P4": "-0.0001",
                "P5": "12345678901234.5678",
                "P6": "2.0001",
            },
            id="rounded-half-up",
        ),
    ],
)
def test_import_decimals_all_digits_extra_places_refused_or_rounded(
    admin_api, demo_tables, round_decimals, errors, stored
):
    ColumnConfig.objects.filter(table__table_name="products", column_name="price").update(
        round_decimals=round_decimals
    )

    job = imported_job(admin_api, "products_long_decimals.csv", table_name="products")

    assert job.status == JobStatus.COMPLETE
    assert [(e["row"], e["code"]) for e in job.errors] == errors
    rows = {sku: f"{Decimal(str(price)):.4f}" for sku, price in table_rows("products", "sku, price")}
    assert rows == stored
