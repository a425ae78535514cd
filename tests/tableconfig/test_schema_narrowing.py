"""Narrowing a column is refused, quoting stored values, when they would not fit as they are (MySQL would round
every decimal, or refuse mid-ALTER); the same change goes through when the values fit. On SQLite and MySQL."""

from decimal import Decimal

import pytest
from django.db import connection

from importhub.errors import SchemaChangeRefused
from tableconfig.schema import ColumnSpec, table_schema_inspect, table_schema_sync

pytestmark = pytest.mark.django_db(transaction=True)


def _spec(column: str, kind: str, **size) -> ColumnSpec:
    return ColumnSpec(column, kind, **size)


def _table_make(before: ColumnSpec, values: list) -> None:
    table_schema_sync(table_name="products", specs=[_spec("sku", "str"), before])
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for index, value in enumerate(values):
            cursor.execute(
                f"INSERT INTO products (sku, {quote(before.name)}) VALUES (%s, %s)", [f"S{index}", value]
            )


def _stored(column: str) -> list:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {connection.ops.quote_name(column)} FROM products ORDER BY id")
        return [row[0] for row in cursor.fetchall()]


def _as_number(value) -> Decimal:
    return Decimal(str(value))


DEC_18_4 = {"decimal_digits": 18, "decimal_places": 4}

REFUSED = [
    pytest.param(
        _spec("price", "decimal", **DEC_18_4),
        ["1.2345", "2.5000"],
        _spec("price", "decimal", decimal_digits=18, decimal_places=2),
        "Cannot change column 'price' of products to decimal(18,2): 1 stored value has more than 2 decimal "
        "places and would be rounded, e.g. '1.2345'.",
        "decimal_change_refused",
        id="fewer-places",
    ),
    pytest.param(
        _spec("price", "decimal", **DEC_18_4),
        ["0.0010", "0.0020", "7.0000", "0.0030", "0.0040", "0.0050"],
        _spec("price", "decimal", decimal_digits=18, decimal_places=2),
        "Cannot change column 'price' of products to decimal(18,2): 5 stored values have more than 2 decimal "
        "places and would be rounded, e.g. '0.0010', '0.0020', '0.0030'.",
        "decimal_change_refused",
        id="fewer-places-three-examples",
    ),
    pytest.param(
        _spec("price", "decimal", **DEC_18_4),
        ["123456789.5000", "12.0000", "-1000000.0000", "999999.9999"],
        _spec("price", "decimal", decimal_digits=10, decimal_places=4),
        "Cannot change column 'price' of products to decimal(10,4): 2 stored values need more than 6 digits "
        "before the decimal point, e.g. '123456789.5000', '-1000000.0000'.",
        "decimal_change_refused",
        id="fewer-whole-digits",
    ),
    pytest.param(
        _spec("price", "decimal", **DEC_18_4),
        ["99999999999999.9999"],
        _spec("price", "decimal", decimal_digits=16, decimal_places=2),
        "Cannot change column 'price' of products to decimal(16,2): 1 stored value has more than 2 decimal "
        "places and would be rounded, e.g. '99999999999999.9999'.",
        "decimal_change_refused",
        id="same-whole-digits-fewer-places",
    ),
    pytest.param(
        _spec("stock", "int"),
        [12345, 7, -9223372036854775808],
        _spec("stock", "decimal", decimal_digits=6, decimal_places=2),
        "Cannot change column 'stock' of products to decimal(6,2): 2 stored values need more than 4 digits "
        "before the decimal point, e.g. '12345', '-9223372036854775808'.",
        "decimal_change_refused",
        id="int-to-narrow-decimal",
    ),
    pytest.param(
        _spec("product_name", "str", max_length=100),
        ["Tea", "Earl Grey Tea", "Darjeeling"],
        _spec("product_name", "str", max_length=5),
        "Cannot shorten column 'product_name' of products to 5 characters: a stored value has 13 (2 values are "
        "longer, e.g. 'Earl Grey Tea', 'Darjeeling').",
        "length_change_refused",
        id="shorter-text",
    ),
    pytest.param(
        _spec("product_name", "str", max_length=100),
        ["☕" * 6],
        _spec("product_name", "str", max_length=5),
        "Cannot shorten column 'product_name' of products to 5 characters: a stored value has 6 (1 value is "
        "longer, e.g. '☕☕☕☕☕☕').",
        "length_change_refused",
        id="shorter-text-counts-characters",
    ),
    pytest.param(
        _spec("price", "decimal", **DEC_18_4),
        ["12345.6789"],
        _spec("price", "str", max_length=8),
        "Cannot shorten column 'price' of products to 8 characters: a stored value has 10 (1 value is longer, "
        "e.g. '12345.6789').",
        "length_change_refused",
        id="decimal-to-short-text",
    ),
]


@pytest.mark.parametrize(("before", "values", "after", "message", "code"), REFUSED)
def test_narrowing_refused_when_stored_values_would_not_fit(before, values, after, message, code):
    _table_make(before, values)
    stored = _stored(before.name)

    with pytest.raises(SchemaChangeRefused) as excinfo:
        table_schema_sync(table_name="products", specs=[_spec("sku", "str"), after])

    assert (excinfo.value.message, excinfo.value.code) == (message, code)
    assert _stored(before.name) == stored
    assert table_schema_inspect("products")[before.name] == before


ALLOWED = [
    pytest.param(
        _spec("price", "decimal", **DEC_18_4),
        ["1.2345", "-99999999999999.9999"],
        _spec("price", "decimal", decimal_digits=20, decimal_places=6),
        id="wider-decimal",
    ),
    pytest.param(
        _spec("price", "decimal", **DEC_18_4),
        ["1.5000", "2.2500", "-0.1000"],
        _spec("price", "decimal", decimal_digits=18, decimal_places=2),
        id="fewer-places-values-fit",
    ),
    pytest.param(
        _spec("price", "decimal", **DEC_18_4),
        ["999999.9999", "-999999.9999", "0.0000"],
        _spec("price", "decimal", decimal_digits=10, decimal_places=4),
        id="fewer-whole-digits-values-fit",
    ),
    pytest.param(
        _spec("stock", "int"),
        [1234, -1234, 0],
        _spec("stock", "decimal", decimal_digits=6, decimal_places=2),
        id="int-to-decimal-values-fit",
    ),
    pytest.param(
        _spec("stock", "int"),
        [9223372036854775807, -9223372036854775808],
        _spec("stock", "decimal", decimal_digits=19, decimal_places=0),
        id="int-to-decimal-19-digits",
    ),
    pytest.param(
        _spec("product_name", "str", max_length=100),
        ["Tea", "Milk"],
        _spec("product_name", "str", max_length=4),
        id="shorter-text-values-fit",
    ),
]


@pytest.mark.parametrize(("before", "values", "after"), ALLOWED)
def test_narrowing_or_widening_applied_when_stored_values_fit(before, values, after):
    _table_make(before, values)

    done = table_schema_sync(table_name="products", specs=[_spec("sku", "str"), after])

    assert done == [f"changed column {before.name} from {before.describe()} to {after.describe()}"]
    assert table_schema_inspect("products")[before.name] == after
    if after.data_type == "decimal":
        assert [_as_number(v) for v in _stored(before.name)] == [Decimal(str(v)) for v in values]
    else:
        assert _stored(before.name) == values
