"""manage.py load_demo_config and sync_tables: the configuration and the physical tables they leave behind."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from tableconfig.management.commands.load_demo_config import DEMO_TABLES
from tableconfig.models import Alias, ColumnConfig, ImportTable
from tableconfig.schema import table_schema_inspect, text_collation
from tableconfig.services import import_table_create

pytestmark = pytest.mark.django_db(transaction=True)


def _run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def _run_failing(*args) -> tuple[str, str]:
    out = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command(*args, stdout=out)
    return out.getvalue(), str(excinfo.value)


def _config_rows() -> list[tuple]:
    tables = list(ImportTable.objects.values_list("table_name", "display_name", "allowed_filename"))
    columns = list(
        ColumnConfig.objects.values_list(
            "table__table_name",
            "column_name",
            "data_type",
            "is_mandatory",
            "is_unique",
            "date_format",
            "role",
        ).order_by("table__table_name", "position")
    )
    aliases = sorted(
        Alias.objects.values_list("column__table__table_name", "column__column_name", "alias_name")
    )
    return [tables, columns, aliases]


def _rows(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [tuple(row) for row in cursor.fetchall()]


def _insert(table: str, **values):
    columns = ", ".join(connection.ops.quote_name(c) for c in values)
    marks = ", ".join(["%s"] * len(values))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {connection.ops.quote_name(table)} ({columns}) VALUES ({marks})",
            list(values.values()),
        )


def test_load_demo_config_twice_gives_the_same_configuration_and_typed_tables():
    first_output = _run("load_demo_config")
    first = _config_rows()
    second_output = _run("load_demo_config")

    assert _config_rows() == first
    assert "sales: created the configuration (8 columns) and the physical table" in first_output
    assert "sales: configuration already in place" in second_output
    assert "sales: physical table in line" in second_output
    assert [t[0] for t in first[0]] == ["products", "sales", "stocks"]
    assert ("sales", "Sales Lines", "sales, sales_*") in first[0]
    assert ("sales", "dotanggal", "date", True, False, "%Y-%m-%d|%d/%m/%Y", "period") in first[1]
    assert ("sales", "amount_jual", "kode_barang") not in first[2]
    assert ("sales", "sku", "kode_barang") in first[2]
    assert len(first[2]) == sum(len(c.get("aliases", [])) for t in DEMO_TABLES for c in t["columns"])

    for definition in DEMO_TABLES:
        physical = table_schema_inspect(definition["table_name"])
        for column in definition["columns"]:
            spec = physical[column["column_name"]]
            assert spec.data_type == column["data_type"], (definition["table_name"], column["column_name"])
            assert spec.is_unique == column.get("is_unique", False)
    assert table_schema_inspect("sales")["exportdate"].data_type == "datetime"
    assert table_schema_inspect("products")["sku"].is_unique


def test_load_demo_config_adds_missing_columns_and_aliases_and_keeps_others():
    table = import_table_create(
        table_name="products",
        columns=[
            {"column_name": "sku", "data_type": "str", "is_unique": True, "aliases": ["kode"]},
            {"column_name": "notes", "data_type": "str"},
        ],
    )

    output = _run("load_demo_config")

    assert "products: added column product_name" in output
    assert "products: added column price" in output
    columns = list(table.columns.values_list("column_name", flat=True))
    assert columns == ["sku", "notes", "product_name", "price"]
    assert list(Alias.objects.filter(column__table=table).values_list("alias_name", flat=True)) == ["kode"]
    assert {"sku", "notes", "product_name", "price"} <= set(table_schema_inspect("products"))


def test_sync_tables_check_fails_after_a_column_added_behind_the_services_back_until_synced():
    _run("load_demo_config")
    assert "sales: in line" in _run("sync_tables", "--check")

    ColumnConfig.objects.create(table=ImportTable.objects.get(table_name="sales"), column_name="notes")
    output, error = _run_failing("sync_tables", "--check")
    assert "sales: would change: added column notes str(255)" in output
    assert "stocks: in line" in output
    assert "Out of line: sales" in error
    assert "notes" not in table_schema_inspect("sales")

    output = _run("sync_tables")
    assert "sales: added column notes str(255)" in output
    assert table_schema_inspect("sales")["notes"].max_length == 255
    assert "sales: in line" in _run("sync_tables", "--check", "sales")


def test_sync_tables_reports_a_refused_change_and_exits_non_zero():
    _run("load_demo_config")
    _insert("products", sku="A1", product_name="Tea")
    ColumnConfig.objects.filter(table__table_name="products", column_name="product_name").update(
        data_type="int"
    )

    output, error = _run_failing("sync_tables")

    assert "products: REFUSED: Cannot change column 'product_name' of products from str to int" in output
    assert "sales: in line" in output
    assert "Refused changes to: products" in error
    assert table_schema_inspect("products")["product_name"].data_type == "str"


def test_sync_tables_keeps_a_column_no_longer_configured():
    _run("load_demo_config")
    ColumnConfig.objects.filter(table__table_name="stocks", column_name="stock_cs").delete()

    output = _run("sync_tables", "stocks")

    assert output.strip() == "stocks: in line; kept column stock_cs (not configured)"
    assert "stock_cs" in table_schema_inspect("stocks")


def test_sync_tables_creates_a_table_configured_without_services():
    table = ImportTable.objects.create(table_name="returns")
    ColumnConfig.objects.create(table=table, column_name="sku")

    output = _run("sync_tables", "returns")

    assert output.startswith("returns: created table returns (sku str(255))")
    assert set(table_schema_inspect("returns")) == {"id", "import_job_id", "imported_at", "sku"}


def test_sync_tables_refuses_an_unknown_table_name():
    _, error = _run_failing("sync_tables", "nosuch")
    assert error == "No configured table named: nosuch."


def _products_create():
    return import_table_create(
        table_name="products",
        columns=[
            {"column_name": "sku", "data_type": "str", "max_length": 50, "is_unique": True},
            {"column_name": "product_name", "data_type": "str", "max_length": 100},
            {"column_name": "price", "data_type": "decimal"},
        ],
    )


def test_sync_tables_moves_text_columns_with_the_old_collation_to_exact_comparison(mysql_only):
    _products_create()
    # As tables were created before exact keys: the database's case- and accent-insensitive collation.
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE products MODIFY sku varchar(50) COLLATE utf8mb4_unicode_ci NULL")
        cursor.execute(
            "ALTER TABLE products MODIFY product_name varchar(100) COLLATE utf8mb4_unicode_ci NULL"
        )
    for sku, name in [("abc", "Tea"), ("straße", "Milk"), ("résumé", "Kopi ☕")]:
        _insert("products", sku=sku, product_name=name, price="1.5000")
    collation = text_collation()

    output, error = _run_failing("sync_tables", "--check")

    assert output.strip() == (
        f"products: would change: changed collation of column sku to {collation} (exact comparison); "
        f"changed collation of column product_name to {collation} (exact comparison)"
    )
    assert "Out of line: products" in error
    assert table_schema_inspect("products")["sku"].collation == "utf8mb4_unicode_ci"

    output = _run("sync_tables")

    assert output.strip() == (
        f"products: changed collation of column sku to {collation} (exact comparison); "
        f"changed collation of column product_name to {collation} (exact comparison)"
    )
    assert _rows("SELECT sku, product_name, price FROM products ORDER BY id") == [
        ("abc", "Tea", Decimal("1.5000")),
        ("straße", "Milk", Decimal("1.5000")),
        ("résumé", "Kopi ☕", Decimal("1.5000")),
    ]
    for sku in ["ABC", "strasse", "resume"]:
        _insert("products", sku=sku)
    assert len(_rows("SELECT sku FROM products")) == 6
    assert table_schema_inspect("products")["sku"].is_unique
    assert _run("sync_tables", "--check").strip() == "products: in line"


def test_sync_tables_moves_an_old_sqlite_decimal_column_to_exact_text(sqlite_only):
    table = ImportTable.objects.create(table_name="products")
    ColumnConfig.objects.create(table=table, column_name="sku", is_unique=True, position=1)
    ColumnConfig.objects.create(table=table, column_name="price", data_type="decimal", position=2)
    # The DDL Django's own DecimalField gives on SQLite: NUMERIC affinity, values kept as binary floats.
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE products (id integer NOT NULL PRIMARY KEY AUTOINCREMENT, import_job_id bigint NULL, "
            "imported_at datetime NULL, sku varchar(255) NULL UNIQUE, price decimal NULL)"
        )
    for index, price in enumerate(["1.5", "2.0000", "-0.0001", "1234.5678"]):
        _insert("products", sku=f"S{index}", price=price)
    assert _rows("SELECT typeof(price) FROM products") == [("real",), ("integer",), ("real",), ("real",)]

    output, error = _run_failing("sync_tables", "--check")
    assert output.strip() == (
        "products: would change: changed column price from decimal (binary float) to decimal(18,4)"
    )
    assert "Out of line: products" in error

    output = _run("sync_tables")

    assert output.strip() == "products: changed column price from decimal (binary float) to decimal(18,4)"
    assert (
        dict(_rows("SELECT name, type FROM pragma_table_info('products')"))["price"] == "decimal_text(18,4)"
    )
    assert _rows("SELECT sku, price FROM products ORDER BY id") == [
        ("S0", "1.5"),
        ("S1", "2"),
        ("S2", "-0.0001"),
        ("S3", "1234.5678"),
    ]
    _insert("products", sku="S4", price="12345678901234.5678")
    assert _rows("SELECT price FROM products WHERE sku = 'S4'") == [("12345678901234.5678",)]
    assert table_schema_inspect("products")["sku"].is_unique
    assert _run("sync_tables", "--check").strip() == "products: in line"


def test_sync_tables_refuses_to_round_stored_decimals_and_keeps_them():
    _products_create()
    _insert("products", sku="A1", price="1.2345")
    _insert("products", sku="A2", price="2.5000")
    ColumnConfig.objects.filter(column_name="price").update(decimal_places=2)

    output, error = _run_failing("sync_tables")

    assert output.strip() == (
        "products: REFUSED: Cannot change column 'price' of products to decimal(18,2): 1 stored value has "
        "more than 2 decimal places and would be rounded, e.g. '1.2345'."
    )
    assert "Refused changes to: products" in error
    assert [Decimal(str(v)) for (v,) in _rows("SELECT price FROM products ORDER BY id")] == [
        Decimal("1.2345"),
        Decimal("2.5000"),
    ]
    assert table_schema_inspect("products")["price"].decimal_places == 4


@pytest.fixture
def sqlite_only():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's storage of decimals (MySQL keeps DECIMAL(p,s), exact already)")
