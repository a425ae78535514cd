"""table_schema_drift, the engine's check before a load: one query, one sentence per mismatch, and the same
verdict as table_schema_plan (the DDL that sync_tables would run)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from importhub.errors import SchemaChangeRefused
from tableconfig.schema import (
    ColumnSpec,
    table_schema_drift,
    table_schema_plan,
    table_schema_sync,
    text_collation,
)

pytestmark = pytest.mark.django_db(transaction=True)

SKU = ColumnSpec("sku", "str", max_length=50, is_unique=True)
PRICE = ColumnSpec("price", "decimal", decimal_digits=18, decimal_places=4)
STOCK = ColumnSpec("stock", "int")
CONFIGURED = [SKU, PRICE, STOCK]


def _execute(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)


DRIFTED = [
    pytest.param(
        [SKU, PRICE],
        ["Column stock is missing (configured as int)."],
        id="missing-column",
    ),
    pytest.param(
        [SKU, PRICE, ColumnSpec("stock", "str")],
        ["Column stock is str(255) in the table, configured as int."],
        id="other-type",
    ),
    pytest.param(
        [ColumnSpec("sku", "str", max_length=20, is_unique=True), PRICE, STOCK],
        ["Column sku holds 20 characters in the table, narrower than the configured 50."],
        id="narrower-text",
    ),
    pytest.param(
        [ColumnSpec("sku", "str", max_length=80, is_unique=True), PRICE, STOCK],
        ["Column sku holds 80 characters in the table, wider than the configured 50."],
        id="wider-text",
    ),
    pytest.param(
        [SKU, ColumnSpec("price", "decimal", decimal_digits=10, decimal_places=2), STOCK],
        ["Column price is decimal(10,2) in the table, configured as decimal(18,4)."],
        id="other-decimal-size",
    ),
    pytest.param(
        [ColumnSpec("sku", "str", max_length=50), PRICE, STOCK],
        ["Column sku has no UNIQUE index in the table, configured unique."],
        id="missing-unique-index",
    ),
    pytest.param(
        [SKU, PRICE, ColumnSpec("stock", "int", is_unique=True)],
        ["Column stock has a UNIQUE index in the table, configured not unique."],
        id="unexpected-unique-index",
    ),
    pytest.param(
        [ColumnSpec("sku", "str", max_length=20), PRICE],
        [
            "Column sku holds 20 characters in the table, narrower than the configured 50.",
            "Column sku has no UNIQUE index in the table, configured unique.",
            "Column stock is missing (configured as int).",
        ],
        id="several",
    ),
]


@pytest.mark.parametrize(("physical", "expected"), DRIFTED)
def test_table_schema_drift_names_each_mismatch_and_agrees_with_the_plan(physical, expected):
    table_schema_sync(table_name="products", specs=physical)

    drift = table_schema_drift(table_name="products", specs=CONFIGURED)

    assert drift == expected
    assert not table_schema_plan(table_name="products", specs=CONFIGURED).in_line
    table_schema_sync(table_name="products", specs=CONFIGURED)
    assert table_schema_drift(table_name="products", specs=CONFIGURED) == []
    assert table_schema_plan(table_name="products", specs=CONFIGURED).in_line


def test_table_schema_drift_is_empty_for_a_table_in_line_with_extra_columns():
    table_schema_sync(table_name="products", specs=[*CONFIGURED, ColumnSpec("legacy", "str")])

    assert table_schema_drift(table_name="products", specs=CONFIGURED) == []
    assert table_schema_plan(table_name="products", specs=CONFIGURED).in_line


def test_table_schema_drift_reports_a_missing_table():
    assert table_schema_drift(table_name="products", specs=CONFIGURED) == ["Table products does not exist."]
    assert not table_schema_plan(table_name="products", specs=CONFIGURED).in_line


def test_table_schema_drift_reports_missing_engine_columns():
    if connection.vendor == "mysql":
        text, decimal = f"varchar(50) COLLATE {text_collation()}", "decimal(18,4)"
    else:
        text, decimal = "varchar(50)", "decimal_text(18,4)"
    _execute(f"CREATE TABLE products (id integer PRIMARY KEY, sku {text} UNIQUE, price {decimal})")

    drift = table_schema_drift(table_name="products", specs=[SKU, PRICE])

    assert drift == [
        "Column import_job_id (added by the engine) is missing.",
        "Column imported_at (added by the engine) is missing.",
    ]
    assert table_schema_plan(table_name="products", specs=[SKU, PRICE]).summary() == [
        "added column import_job_id",
        "added column imported_at",
    ]


def test_table_schema_drift_reports_storage_that_is_not_exact():
    """MySQL: a text column with the database's insensitive collation; SQLite: a decimal kept as a float."""
    table_schema_sync(table_name="products", specs=CONFIGURED)
    if connection.vendor == "mysql":
        _execute("ALTER TABLE products MODIFY sku varchar(50) COLLATE utf8mb4_unicode_ci NULL")
        expected = [
            f"Column sku compares with collation utf8mb4_unicode_ci in the table, not exactly ({text_collation()})."
        ]
    else:
        _execute("ALTER TABLE products RENAME COLUMN price TO old_price")
        _execute("ALTER TABLE products ADD COLUMN price decimal")
        expected = ["Column price is decimal (binary float) in the table, configured as decimal(18,4)."]

    assert table_schema_drift(table_name="products", specs=CONFIGURED) == expected
    assert not table_schema_plan(table_name="products", specs=CONFIGURED).in_line
    table_schema_sync(table_name="products", specs=CONFIGURED)
    assert table_schema_drift(table_name="products", specs=CONFIGURED) == []


def test_table_schema_drift_is_one_query():
    table_schema_sync(table_name="products", specs=CONFIGURED)

    with CaptureQueriesContext(connection) as queries:
        assert table_schema_drift(table_name="products", specs=CONFIGURED) == []

    assert len(queries) == 1


@pytest.mark.parametrize(
    ("table_name", "specs"),
    [
        pytest.param("products`; DROP TABLE x; --", CONFIGURED, id="table"),
        pytest.param("products", [ColumnSpec("sku`", "str")], id="column"),
    ],
)
def test_table_schema_drift_refuses_an_unsafe_identifier_before_any_query(table_name, specs):
    with CaptureQueriesContext(connection) as queries, pytest.raises(SchemaChangeRefused) as excinfo:
        table_schema_drift(table_name=table_name, specs=specs)

    assert excinfo.value.code == "invalid_identifier"
    assert len(queries) == 0
