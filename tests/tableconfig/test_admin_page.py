"""The admin's table page in a real Chromium at 1,366 px: it fits, each column row shows only the options of
its type (switched live with the type select, in added rows too), and aliases are edited in the rows."""

import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

from tableconfig.models import ColumnConfig, ImportTable
from tests.pages.conftest import browser, screenshot  # noqa: F401 -- Chromium, and full-page PNGs

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WIDTH = 1366
SHOTS = Path("/tmp/shots")
OPTIONS = ("max_length", "decimal_digits", "decimal_places", "round_decimals", "date_format")


@pytest.fixture
def expect():
    from playwright.sync_api import expect

    return expect


@pytest.fixture
def admin_page(browser, live_server, admin_user):  # noqa: F811
    context = browser.new_context(base_url=live_server.url, viewport={"width": WIDTH, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto("/admin/login/?next=/admin/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("pw-admin")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/")
    yield page
    context.close()


@pytest.fixture
def sales(db):
    call_command("load_demo_config", verbosity=0)
    return ImportTable.objects.get(table_name="sales")


def _row(page, column_name: str):
    return page.locator(
        "tr.column-row", has=page.locator(f'input[name$="-column_name"][value="{column_name}"]')
    )


def _visible_options(row) -> list[str]:
    return [name for name in OPTIONS if row.locator(f".type-option.field-{name}").is_visible()]


def test_table_page_fits_1366_px_and_shows_the_options_of_each_type(admin_page, expect, sales, screenshot):  # noqa: F811
    page = admin_page
    page.goto(f"/admin/tableconfig/importtable/{sales.pk}/change/")
    expect(page.locator("#columns-group")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH

    assert _visible_options(_row(page, "dotanggal")) == ["date_format"]
    assert _visible_options(_row(page, "exportdate")) == ["date_format"]
    assert _visible_options(_row(page, "distid")) == ["max_length"]
    assert _visible_options(_row(page, "amount_jual")) == [
        "decimal_digits",
        "decimal_places",
        "round_decimals",
    ]
    assert _visible_options(_row(page, "qty")) == []
    expect(_row(page, "qty").locator(".type-none")).to_have_text("No options for this type.")
    # The table's own settings, the new ones included.
    expect(page.get_by_label("Expected in every batch")).to_be_checked()
    expect(page.get_by_label("Sheet (Excel, OpenDocument)")).to_have_value("")
    expect(page.get_by_label("Decimal separator")).to_be_visible()

    shot = screenshot(page, "admin-table")
    SHOTS.mkdir(exist_ok=True)
    shutil.copy(shot, SHOTS / "admin-table.png")

    dono = _row(page, "dono")
    dono.locator('select[name$="-data_type"]').select_option("decimal")
    assert _visible_options(dono) == ["decimal_digits", "decimal_places", "round_decimals"]
    dono.locator('select[name$="-data_type"]').select_option("datetime")
    assert _visible_options(dono) == ["date_format"]
    dono.locator('select[name$="-data_type"]').select_option("bool")
    assert _visible_options(dono) == []
    expect(dono.locator(".type-none")).to_be_visible()

    # A row added with "Add another" switches too.
    page.locator("#columns-group .add-row a").click()
    added = page.locator("tr.column-row.dynamic-columns").last
    assert _visible_options(added) == ["max_length"]
    added.locator('select[name$="-data_type"]').select_option("date")
    assert _visible_options(added) == ["date_format"]
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH


def test_aliases_edited_in_a_row_are_saved_and_a_clash_is_shown_on_the_row(admin_page, expect, sales):
    page = admin_page
    url = f"/admin/tableconfig/importtable/{sales.pk}/change/"
    page.goto(url)
    sku = _row(page, "sku").locator('input[name$="-aliases"]')
    expect(sku).to_have_value("item_code, kode_barang")
    sku.fill("item_code, kode_barang, Barcode")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    column = ColumnConfig.objects.get(table=sales, column_name="sku")
    assert sorted(column.aliases.values_list("alias_name", flat=True)) == [
        "Barcode",
        "item_code",
        "kode_barang",
    ]
    expect(_row(page, "sku").locator('input[name$="-aliases"]')).to_have_value(
        "Barcode, item_code, kode_barang"
    )

    _row(page, "qty").locator('input[name$="-aliases"]').fill("quantity, Kode Barang")
    page.get_by_role("button", name="Save and continue editing").click()
    message = "The header 'Kode Barang' (read as 'kode_barang') would belong to both 'sku' and 'qty'."
    expect(_row(page, "qty").locator(".field-aliases .errorlist")).to_have_text(message)
    expect(page.locator(".errornote")).to_be_visible()
    qty = ColumnConfig.objects.get(table=sales, column_name="qty")
    assert list(qty.aliases.values_list("alias_name", flat=True)) == ["quantity"]
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
