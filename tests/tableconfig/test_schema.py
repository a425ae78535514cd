"""Physical tables follow the configuration on SQLite and MySQL; unsafe changes and identifiers are refused."""

from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from importhub.errors import ConfigError, SchemaChangeRefused
from tableconfig.models import ImportTable
from tableconfig.schema import ColumnSpec, table_schema_inspect, table_schema_plan, table_schema_sync
from tableconfig.services import column_create, column_update, import_table_create

pytestmark = pytest.mark.django_db(transaction=True)


def _insert(table: str, **values):
    columns = ", ".join(connection.ops.quote_name(c) for c in values)
    marks = ", ".join(["%s"] * len(values))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {connection.ops.quote_name(table)} ({columns}) VALUES ({marks})",
            list(values.values()),
        )


def _select(table: str, column: str) -> list:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {connection.ops.quote_name(column)} FROM {connection.ops.quote_name(table)}")
        return [row[0] for row in cursor.fetchall()]


def _make_products():
    return import_table_create(
        table_name="products",
        allowed_filename="products",
        columns=[
            {"column_name": "sku", "data_type": "str", "is_unique": True, "is_mandatory": True},
            {"column_name": "product_name", "data_type": "str", "max_length": 100},
            {"column_name": "price", "data_type": "decimal"},
            {"column_name": "launched", "data_type": "date"},
            {"column_name": "updated", "data_type": "datetime"},
            {"column_name": "active", "data_type": "bool"},
            {"column_name": "stock", "data_type": "int"},
        ],
    )


def test_table_create_makes_typed_columns_and_engine_columns():
    _make_products()
    actual = table_schema_inspect("products")
    assert set(actual) == {
        "id", "import_job_id", "imported_at", "sku", "product_name", "price", "launched", "updated", "active", "stock",
    }  # fmt: skip
    assert actual["sku"].data_type == "str" and actual["sku"].max_length == 255 and actual["sku"].is_unique
    assert actual["product_name"].max_length == 100
    assert actual["price"].data_type == "decimal"
    assert actual["launched"].data_type == "date"
    assert actual["updated"].data_type == "datetime"
    assert actual["active"].data_type == "bool"
    assert actual["stock"].data_type == "int"
    assert table_schema_plan(
        table_name="products",
        specs=[ColumnSpec.from_config(c) for c in ImportTable.objects.get().columns.all()],
    ).in_line


def test_unique_column_refuses_a_second_equal_value():
    _make_products()
    _insert("products", sku="A1")
    with pytest.raises(DatabaseError), transaction.atomic():
        _insert("products", sku="A1")
    assert _select("products", "sku") == ["A1"]


def test_column_add_alters_the_physical_table():
    table = _make_products()
    column_create(table=table, column_name="category", data_type="str", max_length=50)
    assert table_schema_inspect("products")["category"].max_length == 50


def test_column_type_change_on_empty_column_is_applied():
    table = _make_products()
    column, done = column_update(column=table.columns.get(column_name="stock"), data_type="decimal")
    assert done == ["changed column stock from int to decimal(18,4)"]
    assert table_schema_inspect("products")["stock"].data_type == "decimal"


def test_column_type_change_that_would_lose_values_is_refused_and_config_kept():
    table = _make_products()
    _insert("products", sku="A1", product_name="Tea")
    with pytest.raises(
        SchemaChangeRefused, match="Cannot change column 'product_name' of products from str to int"
    ):
        column_update(column=table.columns.get(column_name="product_name"), data_type="int")
    assert table.columns.get(column_name="product_name").data_type == "str"
    assert table_schema_inspect("products")["product_name"].data_type == "str"
    assert _select("products", "product_name") == ["Tea"]


def test_widening_a_text_column_keeps_values():
    table = _make_products()
    _insert("products", sku="A1", product_name="Tea")
    column_update(column=table.columns.get(column_name="product_name"), max_length=300)
    assert table_schema_inspect("products")["product_name"].max_length == 300
    assert _select("products", "product_name") == ["Tea"]


def test_column_update_narrowing_a_decimal_that_holds_wider_values_is_refused_and_config_kept():
    table = _make_products()
    _insert("products", sku="A1", price="1234.5678")
    price = table.columns.get(column_name="price")

    with pytest.raises(SchemaChangeRefused) as excinfo:
        column_update(column=price, decimal_places=2)

    assert excinfo.value.code == "decimal_change_refused"
    assert excinfo.value.message == (
        "Cannot change column 'price' of products to decimal(18,2): 1 stored value has more than 2 decimal "
        "places and would be rounded, e.g. '1234.5678'."
    )
    assert table.columns.get(column_name="price").decimal_places == 4
    assert table_schema_inspect("products")["price"].decimal_places == 4
    assert [Decimal(str(v)) for v in _select("products", "price")] == [Decimal("1234.5678")]


def test_making_a_column_unique_with_duplicates_is_refused():
    table = _make_products()
    _insert("products", sku="A1", product_name="Tea")
    _insert("products", sku="A2", product_name="Tea")
    with pytest.raises(SchemaChangeRefused, match="the value 'Tea' appears more than once"):
        column_update(column=table.columns.get(column_name="product_name"), is_unique=True)


@pytest.mark.parametrize(
    "name",
    [
        "x` (id int); DROP TABLE auth_user; --",
        "select",
        "django_session",
        "9lives",
        "a" * 70,
        "imports_importjob",
    ],
    ids=["injection", "reserved-word", "django-table", "leading-digit", "70-chars", "own-app-table"],
)
def test_table_name_refused_before_any_ddl(name):
    before = set(connection.introspection.table_names())
    with pytest.raises(ConfigError):
        import_table_create(table_name=name, columns=[{"column_name": "sku", "data_type": "str"}])
    assert set(connection.introspection.table_names()) == before
    assert not ImportTable.objects.exists()


@pytest.mark.parametrize("name", ["sku`", "id", "imported_at", "Order", "order"], ids=str)
def test_column_name_refused_before_any_ddl(name):
    table = _make_products()
    before = table_schema_inspect("products")
    with pytest.raises(ConfigError):
        column_create(table=table, column_name=name, data_type="str")
    assert table_schema_inspect("products") == before
    assert table.columns.count() == 7


def test_text_over_max_length_fails_on_mysql_instead_of_truncating(mysql_only):
    _make_products()
    with pytest.raises(DatabaseError), transaction.atomic():
        _insert("products", sku="x" * 300)
    assert _select("products", "sku") == []


def test_emoji_round_trips():
    _make_products()
    _insert("products", sku="E1", product_name="Kopi ☕ 🚀 ñ")
    assert _select("products", "product_name") == ["Kopi ☕ 🚀 ñ"]


def test_a_column_of_a_type_importhub_does_not_manage_is_never_dropped():
    specs = [ColumnSpec("sku", "str", max_length=20)]
    table_schema_sync(table_name="products", specs=specs)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE products ADD COLUMN weight real")
    _insert("products", sku="A1", weight=1.5)
    wider = [ColumnSpec("sku", "str", max_length=50)]

    if connection.vendor == "sqlite":
        with pytest.raises(SchemaChangeRefused) as excinfo:
            table_schema_sync(table_name="products", specs=wider)
        assert excinfo.value.message == (
            "Table products has columns of a type importhub does not manage (weight): SQLite rebuilds the table "
            "for this change and would drop them. Convert or drop them by hand first."
        )
        assert table_schema_inspect("products")["sku"].max_length == 20
    else:
        assert table_schema_sync(table_name="products", specs=wider) == [
            "changed column sku from str(20) to str(50)"
        ]
    assert _select("products", "weight") == [1.5]
