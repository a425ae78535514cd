"""The admin's table page, column rows: only the options of each row's type are shown (the others are ignored),
aliases are edited in the rows through the configuration service, and the table's batch and sheet settings."""

import html
import re

import pytest

from tableconfig.models import Alias, ColumnConfig, ImportTable
from tableconfig.services import import_table_create

from .test_admin import TABLES_URL, _messages, admin_form_data, admin_row_set

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def products():
    return import_table_create(
        table_name="products",
        columns=[
            {"column_name": "sku", "data_type": "str", "is_unique": True, "aliases": ["item_code", "kode"]},
            {"column_name": "product_name", "data_type": "str", "max_length": 100},
            {"column_name": "price", "data_type": "decimal", "decimal_places": 2, "round_decimals": True},
            {"column_name": "launched", "data_type": "date", "date_format": "%d/%m/%Y"},
            {"column_name": "stock", "data_type": "int"},
        ],
    )


def _url(table) -> str:
    return f"{TABLES_URL}{table.pk}/change/"


def _row_html(page: str, column_name: str) -> str:
    """The <tr> of the column row whose name input holds `column_name`."""
    for row in re.findall(r'<tr class="form-row column-row.*?</tr>', page, flags=re.S):
        if f'value="{column_name}"' in row:
            return row
    raise AssertionError(f"no row for {column_name}")


def _shown_options(row: str) -> list[str]:
    """The type options a row shows (its option blocks without the hidden attribute)."""
    blocks = re.findall(r'<div class="type-option field-(\w+)" data-for-types="[^"]*"( hidden)?>', row)
    return [name for name, hidden in blocks if not hidden]


@pytest.mark.parametrize(
    "column, shown",
    [
        ("sku", ["max_length"]),
        ("price", ["decimal_digits", "decimal_places", "round_decimals"]),
        ("launched", ["date_format"]),
        ("stock", []),
    ],
    ids=["text", "decimal", "date", "int"],
)
def test_row_shows_only_the_options_of_its_type(admin_client, products, column, shown):
    page = html.unescape(admin_client.get(_url(products)).content.decode())
    row = _row_html(page, column)
    assert _shown_options(row) == shown
    assert ("No options for this type." in row and 'type-none" hidden' not in row) is (not shown)


def test_aliases_are_prefilled_in_the_rows(admin_client, products):
    response = admin_client.get(_url(products))
    rows = {
        f.instance.column_name: f["aliases"].value()
        for f in response.context["inline_admin_formsets"][0].formset.forms
        if f.instance.pk
    }
    assert rows["sku"] == "item_code, kode"
    assert rows["product_name"] == ""


def test_editing_aliases_in_a_row_saves_them_through_the_service(admin_client, products):
    url = _url(products)
    data = admin_form_data(admin_client.get(url))
    admin_row_set(data, "columns", "sku", aliases="item_code, Kode Barang")
    admin_row_set(data, "columns", "product_name", aliases="nama, Product Title")

    response = admin_client.post(url, data, follow=True)

    assert any("was changed successfully" in m for m in _messages(response))
    sku = ColumnConfig.objects.get(table=products, column_name="sku")
    name = ColumnConfig.objects.get(table=products, column_name="product_name")
    assert sorted(sku.aliases.values_list("alias_name", flat=True)) == ["Kode Barang", "item_code"]
    assert sorted(name.aliases.values_list("alias_name", flat=True)) == ["Product Title", "nama"]


@pytest.mark.parametrize(
    "column, aliases, message",
    [
        (
            "product_name",
            "Item Code",
            "The header 'Item Code' (read as 'item_code') would belong to both 'sku' and 'product_name'.",
        ),
        ("sku", "item_code, SKU", "The alias 'SKU' (read as 'sku') is the name of its own column 'sku'."),
        (
            "price",
            "harga, Harga",
            "The alias 'Harga' (read as 'harga') repeats the alias 'harga' of 'price'.",
        ),
    ],
    ids=["other-columns-alias", "own-column-name", "repeated"],
)
def test_clashing_alias_is_an_error_on_the_rows_aliases_and_saves_nothing(
    admin_client, products, column, aliases, message
):
    url = _url(products)
    data = admin_form_data(admin_client.get(url))
    admin_row_set(data, "columns", "stock", aliases="qty")  # a valid change in another row: not saved either
    admin_row_set(data, "columns", column, aliases=aliases)
    before = sorted(Alias.objects.values_list("column__column_name", "alias_name"))

    response = admin_client.post(url, data)

    assert response.status_code == 200  # the form again, with the error
    formset = response.context["inline_admin_formsets"][0].formset
    row = next(f for f in formset.forms if f.instance.pk and f.instance.column_name == column)
    assert row.errors["aliases"] == [message]
    assert message in html.unescape(response.content.decode())
    assert sorted(Alias.objects.values_list("column__column_name", "alias_name")) == before


def test_new_column_row_takes_its_aliases(admin_client, products):
    url = _url(products)
    data = admin_form_data(admin_client.get(url))
    index = int(data["columns-INITIAL_FORMS"])
    data.update(
        {
            f"columns-{index}-column_name": "barcode",
            f"columns-{index}-data_type": "str",
            f"columns-{index}-max_length": "40",
            f"columns-{index}-aliases": "ean, EAN 13",
        }
    )

    response = admin_client.post(url, data, follow=True)

    assert "Physical table products: added column barcode str(40)" in _messages(response)
    column = ColumnConfig.objects.get(table=products, column_name="barcode")
    assert sorted(column.aliases.values_list("alias_name", flat=True)) == ["EAN 13", "ean"]


def test_options_that_do_not_apply_to_the_new_type_are_ignored(admin_client, products):
    """A decimal column made text keeps no rounding (hidden, still ticked in the form), and the hidden digits
    sent with a text column change nothing."""
    url = _url(products)
    data = admin_form_data(admin_client.get(url))
    assert data[next(k for k in data if k.endswith("-round_decimals"))] == "on"
    admin_row_set(data, "columns", "price", data_type="str", max_length="40", decimal_places="99")
    admin_row_set(data, "columns", "product_name", decimal_digits="1", decimal_places="30")

    response = admin_client.post(url, data, follow=True)

    assert any("was changed successfully" in m for m in _messages(response)), _messages(response)
    price = ColumnConfig.objects.get(table=products, column_name="price")
    assert (price.data_type, price.max_length, price.round_decimals, price.decimal_places) == (
        "str",
        40,
        False,
        2,
    )
    name = ColumnConfig.objects.get(table=products, column_name="product_name")
    assert (name.decimal_digits, name.decimal_places) == (18, 4)


def test_table_form_sets_expected_in_batch_and_sheet_name(admin_client, products):
    url = _url(products)
    page = admin_client.get(url)
    assert "Expected in every batch" in page.content.decode()
    data = admin_form_data(page)
    data["expected_in_batch"] = "on"
    data["sheet_name"] = "Data 2026"

    admin_client.post(url, data, follow=True)

    products = ImportTable.objects.get(pk=products.pk)
    assert (products.expected_in_batch, products.sheet_name) == (True, "Data 2026")
