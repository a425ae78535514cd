"""What a physical table holds is exactly what was written: text keys compare exactly on MySQL/MariaDB (the
test database's own collation is utf8mb4_unicode_ci, as in production) and decimals keep every digit on
SQLite."""

from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from tableconfig.schema import (
    ColumnSpec,
    physical_model_build,
    table_schema_inspect,
    table_schema_plan,
    table_schema_sync,
    text_collation,
)

pytestmark = pytest.mark.django_db(transaction=True)

PRODUCTS = [
    ColumnSpec("sku", "str", max_length=50, is_unique=True),
    ColumnSpec("price", "decimal", decimal_digits=18, decimal_places=4),
]
# Every digit of decimal(18,4): 14 before the point, 4 after.
EXACT_DECIMALS = ["12345678901234.5678", "99999999999999.9999", "-0.0001"]


def _query(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return [tuple(row) for row in cursor.fetchall()]


def _insert(table: str, column: str, values: list) -> None:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for value in values:
            cursor.execute(f"INSERT INTO {quote(table)} ({quote(column)}) VALUES (%s)", [value])


def _column(table: str, column: str) -> list:
    quote = connection.ops.quote_name
    return [row[0] for row in _query(f"SELECT {quote(column)} FROM {quote(table)} ORDER BY id")]


@pytest.mark.parametrize(
    "keys",
    [
        pytest.param(["abc", "ABC", "Abc"], id="case"),
        pytest.param(["straße", "strasse", "STRASSE"], id="sharp-s"),
        pytest.param(["résumé", "resume", "RÉSUMÉ"], id="accents"),
        pytest.param(["\u00e9", "e\u0301"], id="nfc-nfd"),
        pytest.param(["a", "a "], id="trailing-space"),
    ],
)
def test_unique_text_column_keeps_keys_that_differ_only_in_case_accents_or_normalisation(keys):
    if connection.vendor == "mysql":
        # The proof needs the insensitive default: without the column's own collation these keys would clash.
        assert _query("SELECT @@collation_database") == [("utf8mb4_unicode_ci",)]
    table_schema_sync(table_name="products", specs=PRODUCTS)

    _insert("products", "sku", keys)

    assert _column("products", "sku") == keys
    for key in keys:
        assert _query("SELECT sku FROM products WHERE sku = %s", [key]) == [(key,)]
    with pytest.raises(DatabaseError), transaction.atomic():
        _insert("products", "sku", [keys[0]])
    assert _column("products", "sku") == keys


def test_text_columns_get_the_binary_no_pad_collation_on_mariadb(mysql_only):
    table_schema_sync(table_name="products", specs=[*PRODUCTS, ColumnSpec("note", "str")])

    rows = _query(
        "SELECT COLUMN_NAME, COLLATION_NAME FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'products' AND DATA_TYPE = 'varchar' "
        "ORDER BY ORDINAL_POSITION"
    )

    expected = "utf8mb4_nopad_bin" if connection.mysql_is_mariadb else "utf8mb4_0900_bin"
    assert text_collation() == expected
    assert rows == [("sku", expected), ("note", expected)]
    assert table_schema_inspect("products")["sku"].collation is None


def test_decimal_column_keeps_every_digit_written_with_plain_sql():
    table_schema_sync(table_name="products", specs=PRODUCTS)

    _insert("products", "price", EXACT_DECIMALS)

    stored = _column("products", "price")
    if connection.vendor == "sqlite":
        assert stored == EXACT_DECIMALS
        assert _query("SELECT DISTINCT typeof(price) FROM products") == [("text",)]
    else:
        assert stored == [Decimal(v) for v in EXACT_DECIMALS]
    model = physical_model_build("products", PRODUCTS)
    assert list(model.objects.order_by("id").values_list("c_price", flat=True)) == [
        Decimal(v) for v in EXACT_DECIMALS
    ]


def test_decimal_written_through_the_model_is_stored_with_the_column_scale():
    table_schema_sync(table_name="products", specs=PRODUCTS)
    model = physical_model_build("products", PRODUCTS)

    model.objects.create(c_sku="A1", c_price=Decimal("1.5"))
    model.objects.create(c_sku="A2", c_price=Decimal("1E+2"))

    assert [str(v) for v in _column("products", "price")] == ["1.5000", "100.0000"]
    assert model.objects.get(c_price=Decimal("100")).c_sku == "A2"


def test_decimal_column_is_inspected_with_its_precision_and_scale():
    table_schema_sync(table_name="products", specs=PRODUCTS)

    price = table_schema_inspect("products")["price"]

    assert (price.data_type, price.decimal_digits, price.decimal_places) == ("decimal", 18, 4)
    assert not price.decimal_as_float
    assert table_schema_plan(table_name="products", specs=PRODUCTS).in_line
    other_scale = [PRODUCTS[0], ColumnSpec("price", "decimal", decimal_digits=18, decimal_places=2)]
    assert table_schema_plan(table_name="products", specs=other_scale).summary() == [
        "changed column price from decimal(18,4) to decimal(18,2)"
    ]


def test_decimal_column_declared_as_text_on_sqlite(sqlite_only):
    table_schema_sync(table_name="products", specs=PRODUCTS)

    declared = dict(_query("SELECT name, type FROM pragma_table_info('products')"))

    assert declared["price"] == "decimal_text(18,4)"


@pytest.fixture
def sqlite_only():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's storage of decimals (MySQL keeps DECIMAL(p,s), exact already)")
