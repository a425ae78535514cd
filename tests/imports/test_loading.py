"""Chunks land in physical tables exactly as validated, on every load path, one transaction per file."""

import os
from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import pytest
from django.db import DatabaseError, connection, transaction

from imports.services import loading
from imports.services.loading import (
    ChunkWriteResult,
    LoadDataRefused,
    ServerChangedValues,
    load_method_describe,
    mysql_load_data_available,
    table_writer_open,
)
from tableconfig.schema import ColumnSpec, physical_model_build, table_schema_sync

db_tx = pytest.mark.django_db(transaction=True)

EXPECTED_METHOD = {
    "on": "mysql LOAD DATA LOCAL INFILE",
    "off": "mysql multi-row INSERT",
    "auto": "sqlite executemany",
}

JOB_AT = datetime(2026, 11, 1, 8, 30, 15, tzinfo=UTC)
SALES = [
    ColumnSpec("distid", "int"),
    ColumnSpec("product_name", "str", max_length=100),
    ColumnSpec("amount", "decimal", decimal_digits=18, decimal_places=4),
    ColumnSpec("do_date", "date"),
    ColumnSpec("created", "datetime"),
    ColumnSpec("active", "bool"),
]
SALES_COLUMNS = [s.name for s in SALES]
PRODUCTS = [ColumnSpec("sku", "str", max_length=20, is_unique=True), ColumnSpec("price", "decimal")]
PRODUCTS_COLUMNS = ["sku", "price"]


@pytest.fixture
def sales():
    table_schema_sync(table_name="sales", specs=SALES)
    return "sales"


@pytest.fixture
def products():
    table_schema_sync(table_name="products", specs=PRODUCTS)
    return "products"


@pytest.fixture
def client_without_local_infile(mysql_only, monkeypatch):
    """A real connection whose client side refuses LOAD DATA LOCAL (the server still allows it)."""
    options = connection.settings_dict["OPTIONS"]
    saved = options.get("local_infile")
    options["local_infile"] = 0
    connection.close()
    monkeypatch.setattr(loading, "_load_data_allowed", None)
    yield
    options["local_infile"] = saved
    connection.close()


def _frame(rows: list[tuple], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns, dtype=object)


def _write(table: str, columns: list[str], chunks: list[list[tuple]], *, job_id: int = 42, unique=()):
    results = []
    with transaction.atomic():
        with table_writer_open(
            table_name=table, columns=columns, unique_columns=list(unique), job_id=job_id, imported_at=JOB_AT
        ) as writer:
            writer.job_rows_delete()
            for rows in chunks:
                results.append(writer.chunk_write(frame=_frame(rows, columns)))
    return results


def _select(table: str, columns: list[str]) -> list[tuple]:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table)} ORDER BY {quote('id')}"
        )
        return [tuple(row) for row in cursor.fetchall()]


def _count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
        return cursor.fetchone()[0]


def _sales_read(table: str = "sales") -> list[tuple]:
    """Rows as comparable text and numbers, whichever backend stored them."""

    def plain(value, kind):
        if value is None:
            return None
        if kind == "decimal":
            return Decimal(str(value))
        if kind in ("date", "datetime"):
            return str(value)
        return value

    kinds = [s.data_type for s in SALES]
    return [
        tuple(plain(v, k) for v, k in zip(row, kinds, strict=True)) for row in _select(table, SALES_COLUMNS)
    ]


TRICKY_TEXT = [
    "tab\there",
    "two\nlines",
    "crlf\r\nend",
    "back\\slash\\",
    "\\N",
    "\\t is not a tab",
    "quotes ' and \" and `",
    "emoji 😀 and Ünïcödé ×",
    "nul\x00byte",
    "",
    "  spaced  ",
    "semi;colon,comma|pipe",
    "unit\x1fseparator\tand tab",
    "every joiner \x1f\x1e\x1d\x1c\ufdd0 and a \\",
]


@db_tx
def test_chunk_write_round_trips_values_exactly(load_mode, sales):
    rows = [("123", text, "1250000.50", "2026-10-01", "2026-10-31 23:00:00", "1") for text in TRICKY_TEXT]
    rows.append(("-9223372036854775808", None, "-0.0001", "1999-12-31", "2000-02-29 00:00:01", "0"))
    rows.append((None, None, None, None, None, None))

    results = _write(sales, SALES_COLUMNS, [rows[:5], rows[5:]])

    assert results == [
        ChunkWriteResult(inserted=5),
        ChunkWriteResult(inserted=len(rows) - 5),
    ]
    assert _sales_read() == [
        *[(123, text, Decimal("1250000.50"), "2026-10-01", "2026-10-31 23:00:00", 1) for text in TRICKY_TEXT],
        (-9223372036854775808, None, Decimal("-0.0001"), "1999-12-31", "2000-02-29 00:00:01", 0),
        (None, None, None, None, None, None),
    ]
    assert set(_select(sales, ["import_job_id"])) == {(42,)}
    model = physical_model_build("sales", SALES)
    assert set(model.objects.values_list("imported_at", flat=True)) == {JOB_AT}
    assert load_method_describe() == EXPECTED_METHOD[load_mode]


@db_tx
def test_chunk_write_stores_imported_at_as_naive_utc_text(load_mode, sales):
    _write(sales, SALES_COLUMNS, [[("1", "a", None, None, None, None)]])

    assert str(_select(sales, ["imported_at"])[0][0]) == "2026-11-01 08:30:15"


@db_tx
def test_writer_reports_the_path_it_uses(load_mode, sales):
    with transaction.atomic():
        writer = table_writer_open(table_name=sales, columns=SALES_COLUMNS, job_id=1)
        writer.close()

    assert writer.method == EXPECTED_METHOD[load_mode]
    assert mysql_load_data_available() is (load_mode == "on")


@db_tx
def test_job_rows_delete_then_rewrite_leaves_one_copy(load_mode, sales):
    rows = [(str(i), f"item {i}", "1.5", "2026-01-01", None, "1") for i in range(10)]
    _write(sales, SALES_COLUMNS, [rows[:4], rows[4:]], job_id=7)
    _write(sales, SALES_COLUMNS, [rows[:3]], job_id=8)

    with transaction.atomic():
        writer = table_writer_open(table_name=sales, columns=SALES_COLUMNS, job_id=7)
        deleted = writer.job_rows_delete()
        writer.chunk_write(frame=_frame(rows[:4], SALES_COLUMNS))
        writer.chunk_write(frame=_frame(rows[4:], SALES_COLUMNS))
        writer.close()

    assert deleted == 10
    assert _count(sales) == 13
    assert sorted(_select(sales, ["import_job_id", "distid"])) == sorted(
        [(7, i) for i in range(10)] + [(8, i) for i in range(3)]
    )


@db_tx
def test_unique_table_existing_key_is_replaced_in_place(load_mode, products):
    first = _write(
        products, PRODUCTS_COLUMNS, [[("A-1", "10.00"), ("B-2", "20.00")]], job_id=1, unique=["sku"]
    )
    second = _write(
        products, PRODUCTS_COLUMNS, [[("A-1", "11.50"), ("C-3", "30.00")]], job_id=2, unique=["sku"]
    )

    assert first == [ChunkWriteResult(inserted=2)]
    assert second == [ChunkWriteResult(inserted=1, updated=1)]
    assert _count(products) == 3
    prices = {sku: Decimal(str(price)) for sku, price in _select(products, ["sku", "price"])}
    assert prices == {"A-1": Decimal("11.50"), "B-2": Decimal("20.00"), "C-3": Decimal("30.00")}
    assert dict(_select(products, ["sku", "import_job_id"])) == {"A-1": 2, "B-2": 1, "C-3": 2}


@db_tx
def test_unique_table_repeated_key_in_one_file_keeps_the_last_row(load_mode, products):
    results = _write(
        products,
        PRODUCTS_COLUMNS,
        [[("A-1", "1.00"), ("A-1", "2.00")], [("B-2", "5.00"), ("A-1", "3.00")]],
        unique=["sku"],
    )

    # The first chunk's repeat is settled in the chunk, the second's against the row the first chunk wrote:
    # both are repeats of this file, not updates of rows that were in the table before.
    assert results == [ChunkWriteResult(inserted=1, repeated=1), ChunkWriteResult(inserted=1, repeated=1)]
    prices = {sku: Decimal(str(price)) for sku, price in _select(products, ["sku", "price"])}
    assert prices == {"A-1": Decimal("3.00"), "B-2": Decimal("5.00")}


@db_tx
def test_unique_table_identical_rerun_counts_replacements(load_mode, products):
    rows = [("A-1", "1.00"), ("B-2", "2.00")]
    _write(products, PRODUCTS_COLUMNS, [rows], job_id=3, unique=["sku"])

    # Rows already stored by another job, identical values: still updated, and counted.
    results = _write(products, PRODUCTS_COLUMNS, [rows], job_id=4, unique=["sku"])

    assert results == [ChunkWriteResult(inserted=0, updated=2)]
    assert sorted(_select(products, ["sku", "import_job_id"])) == [("A-1", 4), ("B-2", 4)]


@db_tx
def test_error_inside_the_file_transaction_leaves_no_rows(load_mode, sales):
    rows = [(str(i), "x", "1", "2026-01-01", None, "0") for i in range(100)]

    with pytest.raises(RuntimeError, match="third chunk failed"):
        with transaction.atomic():
            with table_writer_open(table_name=sales, columns=SALES_COLUMNS, job_id=5) as writer:
                writer.job_rows_delete()
                writer.chunk_write(frame=_frame(rows[:50], SALES_COLUMNS))
                writer.chunk_write(frame=_frame(rows[50:], SALES_COLUMNS))
                raise RuntimeError("third chunk failed")

    assert _count(sales) == 0


@db_tx
def test_chunk_write_loads_many_rows(load_mode, sales):
    # Multi-row INSERT runs near 50k rows/s: 20k rows still take four statements there.
    n = 20_000 if load_mode == "off" else 100_000
    frame = pd.DataFrame(
        {
            "distid": [str(i) for i in range(n)],
            "product_name": [f"Product {i % 97}\tvariant" for i in range(n)],
            "amount": [f"{i}.25" for i in range(n)],
            "do_date": ["2026-10-01"] * n,
            "created": ["2026-10-31 23:00:00"] * n,
            "active": [None if i % 10 == 0 else "1" for i in range(n)],
        },
        dtype=object,
    )

    with transaction.atomic():
        with table_writer_open(table_name=sales, columns=SALES_COLUMNS, job_id=9) as writer:
            result = writer.chunk_write(frame=frame)

    assert result == ChunkWriteResult(inserted=n)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*), SUM(distid), COUNT(active), MAX(product_name) FROM sales")
        count, total, active, longest = cursor.fetchone()
    assert (count, int(total), active, longest) == (n, n * (n - 1) // 2, n - n // 10, "Product 96\tvariant")


@db_tx
def test_chunk_write_takes_pandas_missing_values_as_null(load_mode, sales):
    frame = _frame([("1", None, "2.5", None, None, "1"), ("2", "b", None, None, None, "0")], SALES_COLUMNS)
    frame["product_name"] = frame["product_name"].astype("string")
    frame.loc[1, "amount"] = float("nan")

    with transaction.atomic():
        with table_writer_open(table_name=sales, columns=SALES_COLUMNS, job_id=1) as writer:
            writer.chunk_write(frame=frame)

    assert _sales_read() == [(1, None, Decimal("2.5"), None, None, 1), (2, "b", None, None, None, 0)]


@db_tx
def test_chunk_write_takes_columns_in_any_order(load_mode, products):
    frame = _frame([("9.99", "Z-9")], ["price", "sku"])

    with transaction.atomic():
        with table_writer_open(table_name=products, columns=PRODUCTS_COLUMNS, job_id=1) as writer:
            writer.chunk_write(frame=frame)

    assert [(sku, Decimal(str(price))) for sku, price in _select(products, PRODUCTS_COLUMNS)] == [
        ("Z-9", Decimal("9.99"))
    ]


@db_tx
@pytest.mark.parametrize(
    ("column", "value"),
    [
        pytest.param("distid", "twelve", id="text-in-int"),
        pytest.param("product_name", "x" * 101, id="too-long"),
        pytest.param("do_date", "2026-13-45", id="bad-date"),
    ],
)
def test_chunk_write_bad_value_raises_and_rolls_back(mysql_only, load_mode, sales, column, value):
    row = dict.fromkeys(SALES_COLUMNS)
    row["distid"] = "1"
    good = [tuple(row.values())]
    row[column] = value

    # INSERT fails in strict mode; LOAD DATA LOCAL turns the error into a warning, which is read and fails.
    with pytest.raises((DatabaseError, ServerChangedValues)) as failure:
        _write(sales, SALES_COLUMNS, [good, [tuple(row.values())]])

    if isinstance(failure.value, ServerChangedValues):
        assert f"column {column}" in failure.value.message and "row 2" in failure.value.message

    assert _count(sales) == 0


@db_tx
def test_load_data_temp_files_are_removed_on_close(mysql_only, settings, sales):
    settings.IMPORT_LOAD_DATA_LOCAL = "on"

    with transaction.atomic():
        writer = table_writer_open(table_name=sales, columns=SALES_COLUMNS, job_id=1)
        writer.chunk_write(frame=_frame([("1", "a", None, None, None, None)], SALES_COLUMNS))
        directory = writer.directory
        assert os.listdir(directory) == []
        writer.close()
        writer.close()

    assert not os.path.exists(directory)


@db_tx
def test_auto_falls_back_to_insert_when_the_client_refuses(client_without_local_infile, settings, sales):
    settings.IMPORT_LOAD_DATA_LOCAL = "auto"

    with transaction.atomic():
        with table_writer_open(table_name=sales, columns=SALES_COLUMNS, job_id=3) as writer:
            assert writer.method == "mysql LOAD DATA LOCAL INFILE"
            first = writer.chunk_write(frame=_frame([("1", "a\tb", None, None, None, "1")], SALES_COLUMNS))
            second = writer.chunk_write(frame=_frame([("2", "c", None, None, None, "0")], SALES_COLUMNS))

    assert (first, second) == (
        ChunkWriteResult(inserted=1),
        ChunkWriteResult(inserted=1),
    )
    assert writer.method == "mysql multi-row INSERT"
    assert _select(sales, ["distid", "product_name"]) == [(1, "a\tb"), (2, "c")]
    assert load_method_describe() == "mysql multi-row INSERT"


@db_tx
def test_load_data_on_fails_clearly_when_refused(client_without_local_infile, settings, sales):
    settings.IMPORT_LOAD_DATA_LOCAL = "on"

    with pytest.raises(LoadDataRefused, match="IMPORT_LOAD_DATA_LOCAL is 'on'"):
        with transaction.atomic():
            with table_writer_open(table_name=sales, columns=SALES_COLUMNS, job_id=3) as writer:
                writer.chunk_write(frame=_frame([("1", "a", None, None, None, "1")], SALES_COLUMNS))

    assert _count(sales) == 0


@pytest.mark.parametrize(
    ("table_name", "columns", "unique_columns"),
    [
        pytest.param("sales; DROP TABLE x", ["distid"], [], id="table-injection"),
        pytest.param("Sales", ["distid"], [], id="table-uppercase"),
        pytest.param("django_session", ["distid"], [], id="table-own-prefix"),
        pytest.param("select", ["distid"], [], id="table-reserved"),
        pytest.param("sales", ["dist`id"], [], id="column-backtick"),
        pytest.param("sales", ["import_job_id"], [], id="column-engine"),
        pytest.param("sales", ["order"], [], id="column-reserved"),
        pytest.param("sales", ["distid"], ["sku x"], id="unique-invalid"),
        pytest.param("sales", ["distid", "distid"], [], id="column-repeated"),
        pytest.param("sales", [], [], id="no-columns"),
    ],
)
def test_table_writer_open_refuses_unsafe_identifiers(table_name, columns, unique_columns):
    with pytest.raises(ValueError):
        table_writer_open(table_name=table_name, columns=columns, unique_columns=unique_columns, job_id=1)


@db_tx
def test_chunk_write_outside_a_transaction_is_refused(sales):
    writer = table_writer_open(table_name=sales, columns=SALES_COLUMNS, job_id=1)

    with pytest.raises(RuntimeError, match="transaction.atomic"):
        writer.chunk_write(frame=_frame([("1", "a", None, None, None, None)], SALES_COLUMNS))
    writer.close()
    assert _count(sales) == 0


@db_tx
def test_chunk_write_refuses_non_text_values_and_wrong_columns(load_mode, sales):
    with transaction.atomic():
        with table_writer_open(table_name=sales, columns=SALES_COLUMNS, job_id=1) as writer:
            with pytest.raises(TypeError, match="'distid' holds a int"):
                writer.chunk_write(frame=_frame([(1, "a", None, None, None, None)], SALES_COLUMNS))
            with pytest.raises(ValueError, match="missing"):
                writer.chunk_write(frame=_frame([("1", "a")], ["distid", "product_name"]))
            assert writer.chunk_write(frame=_frame([], SALES_COLUMNS)) == ChunkWriteResult(inserted=0)

    assert _count(sales) == 0
