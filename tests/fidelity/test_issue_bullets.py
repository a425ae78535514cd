"""Each way the first version changed data silently, through the whole engine (upload, validation, load,
summary), on SQLite and MariaDB: what the table holds is what the file said, or the row is refused saying why."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection

from imports.models import ImportJob, JobStatus
from tableconfig.schema import ColumnSpec, table_schema_sync
from tableconfig.services import import_table_create

pytestmark = pytest.mark.django_db(transaction=True)

DATA = Path(__file__).resolve().parent.parent / "data" / "fidelity"


def _import(client, name: str, **fields) -> ImportJob:
    upload = SimpleUploadedFile(name, (DATA / name).read_bytes())
    response = client.post("/api/import", {"files": [upload], "mode": "full", **fields}, format="multipart")
    assert response.status_code in (202, 422), response.content
    return ImportJob.objects.filter(original_filename=name).latest("id")


def _rows(table: str, columns: str) -> list[tuple]:
    quote = connection.ops.quote_name
    names = ", ".join(quote(c.strip()) for c in columns.split(","))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {names} FROM {quote(table)} ORDER BY id")
        return [tuple(r) for r in cursor.fetchall()]


def _counts(job: ImportJob) -> tuple[int, int, int, int, int]:
    return (job.inserted_count, job.updated_count, job.skipped_count, job.repeated_count, job.error_count)


@pytest.fixture
def demo(db):
    call_command("load_demo_config", verbosity=0)


@pytest.fixture
def items(db):
    return import_table_create(
        table_name="items",
        allowed_filename="items_*",
        columns=[
            {"column_name": "sku", "data_type": "str", "is_unique": True, "max_length": 20},
            {"column_name": "name", "data_type": "str"},
            {"column_name": "price", "data_type": "decimal"},
        ],
    )


def test_keys_differing_only_in_case_accents_or_normalisation_are_eleven_rows(admin_api, demo):
    job = _import(admin_api, "products_lookalike_keys.csv", table_name="products")

    assert job.status == JobStatus.COMPLETE, job.error_message
    assert _counts(job) == (11, 0, 0, 0, 0)
    assert len(_rows("products", "sku")) == 11
    assert {r[0] for r in _rows("products", "sku")} == {
        "abc",
        "ABC",
        "Abc",
        "straße",
        "strasse",
        "STRASSE",
        "résumé",
        "resume",
        "\u00e9",
        "e\u0301",
        "ß",
    }


def test_update_in_place_keeps_the_row_id_and_the_columns_the_file_did_not_carry(admin_api, items):
    _import(admin_api, "items_first.csv")
    before = {sku: (row_id, name) for row_id, sku, name in _rows("items", "id, sku, name")}

    job = _import(admin_api, "items_price_only.csv")

    assert job.status == JobStatus.COMPLETE and _counts(job) == (1, 1, 0, 0, 0)
    after = {
        sku: (row_id, name, Decimal(str(price)))
        for row_id, sku, name, price in _rows("items", "id, sku, name, price")
    }
    assert after["A-1"] == (*before["A-1"], Decimal("1.5000"))  # same id, name untouched
    assert after["B-2"] == (*before["B-2"], Decimal("2.0000"))
    assert after["C-3"][1:] == (None, Decimal("3.0000"))


@pytest.mark.parametrize(
    ("policy", "counts", "a1_price"),
    [
        pytest.param("skip", (1, 0, 1, 0, 0), Decimal("1.0000"), id="skip"),
        pytest.param("reject", (1, 0, 0, 0, 1), Decimal("1.0000"), id="reject"),
        pytest.param("update", (1, 1, 0, 0, 0), Decimal("1.5000"), id="update"),
    ],
)
def test_duplicate_policy_decides_what_a_known_key_does(admin_api, items, policy, counts, a1_price):
    items.on_duplicate = policy
    items.save()
    _import(admin_api, "items_first.csv")

    job = _import(admin_api, "items_price_only.csv")

    assert job.status == JobStatus.COMPLETE
    assert _counts(job) == counts
    assert (job.success_count, job.duplicate_count) == (counts[0] + counts[1], counts[1] + counts[2])
    prices = {sku: Decimal(str(price)) for sku, price in _rows("items", "sku, price")}
    assert prices["A-1"] == a1_price and prices["C-3"] == Decimal("3.0000")
    if policy == "reject":
        assert [(e["row"], e["column"], e["code"]) for e in job.errors] == [(2, "sku", "duplicate_key")]
        assert "'A-1' is already in items" in job.errors[0]["message"]


@pytest.fixture
def sales_job(admin_api, demo) -> ImportJob:
    return _import(admin_api, "sales_fidelity.csv", dist_id="31001")


def test_values_the_engine_cannot_keep_exactly_are_refused_saying_why(sales_job):
    assert sales_job.status == JobStatus.COMPLETE, sales_job.error_message
    by_row = {e["row"]: (e["column"], e["code"], e["message"]) for e in sales_job.errors}
    assert by_row[4][:2] == ("dotanggal", "invalid_date")  # 0000-01-01
    assert by_row[5][:2] == ("dotanggal", "time_in_date")  # 03/04/2026 23:59
    assert by_row[6][:2] == ("amount_jual", "too_many_decimals")  # 1.00001 into decimal(18,4)
    assert by_row[7] == (
        "dotanggal",
        "invalid_date",
        "dotanggal: '31/11/2026' is not a real date (November has 30 days)",
    )
    assert by_row[8][:2] == ("distid", "distributor_mismatch")  # 32001 under dist_id 31001
    assert by_row[4][2] == "dotanggal: '0000-01-01' is not a real date (there is no year 0)"
    assert set(by_row) == {4, 5, 6, 7, 8}
    assert (sales_job.inserted_count, sales_job.error_count) == (3, 5)


def test_exact_decimals_and_dates_are_stored_and_summed_exactly(sales_job):
    stored = {
        dono: (Decimal(str(amount)), str(day)[:10])
        for dono, amount, day in _rows("sales", "dono, amount_jual, dotanggal")
    }
    assert stored["DO2"] == (Decimal("99999999999999.9999"), "2026-10-02")
    assert stored["DO8"] == (Decimal("-0.0001"), "2026-04-03")  # a midnight time in a date column is the date
    assert stored["DO1"][0] == Decimal("12345678901234.5678")
    assert sales_job.summary["amount_total"] == "112345678901234.5676"
    assert "Total amount_jual: 112,345,678,901,234.5676" in sales_job.notes


def test_fractional_seconds_are_kept(sales_job):
    value = dict(_rows("sales", "dono, exportdate"))["DO1"]
    value = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    assert value == dt.datetime(2026, 10, 31, 10, 15, 0, 999000)


def test_a_table_narrower_than_its_configuration_is_not_loaded(admin_api, items):
    # Someone shortened the physical column by hand: the engine must not load into it.
    table_schema_sync(
        table_name="items",
        specs=[
            ColumnSpec("sku", "str", max_length=20, is_unique=True),
            ColumnSpec("name", "str", max_length=3),
            ColumnSpec("price", "decimal"),
        ],
    )

    job = _import(admin_api, "items_first.csv")

    assert job.status == JobStatus.PROCESSING_FAILED
    assert job.error_code == "table_out_of_sync"
    assert "name" in job.error_message and "sync_tables" in job.error_message
    assert _rows("items", "sku") == []
    call_command("sync_tables", verbosity=0)
    assert _import(admin_api, "items_first.csv").status == JobStatus.COMPLETE


def test_equal_decimal_keys_written_differently_are_one_key_on_both_databases(admin_api, db):
    import_table_create(
        table_name="codes",
        allowed_filename="codes_*",
        columns=[
            {"column_name": "code", "data_type": "decimal", "is_unique": True},
            {"column_name": "label", "data_type": "str"},
        ],
    )
    _import(admin_api, "codes_first.csv")

    job = _import(admin_api, "codes_again.csv")

    assert _counts(job) == (0, 2, 0, 0, 0)
    assert {(Decimal(str(code)), label) for code, label in _rows("codes", "code, label")} == {
        (Decimal("7.5"), "again"),
        (Decimal("12"), "again"),
    }


def test_round_decimals_rounds_half_up_and_the_notes_count_the_rounded_values(admin_api, items):
    column = items.columns.get(column_name="price")
    column.round_decimals = True
    column.save()

    job = _import(admin_api, "items_rounding.csv")

    assert job.status == JobStatus.COMPLETE and job.error_count == 0
    prices = {sku: Decimal(str(price)) for sku, price in _rows("items", "sku, price")}
    assert prices == {"R-1": Decimal("1.2346"), "R-2": Decimal("2.5000"), "R-3": Decimal("4.0000")}
    assert "2 price values rounded" in job.notes
