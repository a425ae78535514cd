"""The admin: saving a table, column or alias changes the physical table after commit; refusals are form errors."""

import html
import uuid

import pytest
from django import forms
from django.contrib.admin.models import LogEntry
from django.db import connection

from imports.models import ImportJob, JobStatus
from tableconfig import services
from tableconfig.models import Alias, ColumnConfig, ImportTable
from tableconfig.schema import table_schema_inspect
from tableconfig.services import import_table_create

pytestmark = pytest.mark.django_db(transaction=True)

TABLES_URL = "/admin/tableconfig/importtable/"
COLUMNS_URL = "/admin/tableconfig/columnconfig/"
COLUMN_DEFAULTS = {
    "data_type": "str",
    "max_length": "255",
    "decimal_digits": "18",
    "decimal_places": "4",
    "date_format": "",
    "role": "",
    "position": "0",
}


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def _products():
    return import_table_create(
        table_name="products",
        columns=[
            {"column_name": "sku", "data_type": "str", "is_unique": True, "aliases": ["item_code"]},
            {"column_name": "product_name", "data_type": "str", "max_length": 100},
            {"column_name": "price", "data_type": "decimal"},
        ],
    )


def _insert(table: str, **values):
    columns = ", ".join(connection.ops.quote_name(c) for c in values)
    marks = ", ".join(["%s"] * len(values))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {connection.ops.quote_name(table)} ({columns}) VALUES ({marks})",
            list(values.values()),
        )


def admin_form_data(response) -> dict:
    """What the admin page would post if submitted untouched: the main form and every inline formset."""
    data = {}

    def add(form):
        for name, field in form.fields.items():
            value = form[name].value()
            key = form.add_prefix(name)
            if isinstance(field, forms.BooleanField):
                if value:
                    data[key] = "on"
            else:
                value = field.prepare_value(value)
                data[key] = "" if value is None else value

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        add(inline.formset.management_form)
        for form in inline.formset.forms:
            add(form)
    return data


def admin_rows_add(data: dict, prefix: str, rows: list[dict], defaults: dict = None) -> dict:
    """Fill new inline rows after the existing ones (replacing the blank extra rows)."""
    start = int(data[f"{prefix}-INITIAL_FORMS"])
    for index, row in enumerate(rows, start=start):
        for key in [k for k in data if k.startswith(f"{prefix}-{index}-")]:
            del data[key]
        for name, value in {**(defaults or {}), **row}.items():
            if value is True:
                data[f"{prefix}-{index}-{name}"] = "on"
            elif value is not False:
                data[f"{prefix}-{index}-{name}"] = value
    data[f"{prefix}-TOTAL_FORMS"] = str(max(int(data[f"{prefix}-TOTAL_FORMS"]), start + len(rows)))
    return data


def admin_row_set(data: dict, prefix: str, column_name: str, **changes) -> dict:
    """Change the inline row showing `column_name`."""
    index = next(
        i
        for i in range(int(data[f"{prefix}-TOTAL_FORMS"]))
        if data.get(f"{prefix}-{i}-column_name") == column_name
    )
    for name, value in changes.items():
        key = f"{prefix}-{index}-{name}"
        if value is False:
            data.pop(key, None)
        else:
            data[key] = "on" if value is True else value
    return data


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def _page_text(response) -> str:
    return html.unescape(response.content.decode())


def test_table_add_form_creates_the_physical_table(admin_client):
    data = admin_form_data(admin_client.get(f"{TABLES_URL}add/"))
    data.update(table_name="sales", display_name="Sales", allowed_filename="sales, sales_*", is_active="on")
    admin_rows_add(
        data,
        "columns",
        [
            {"column_name": "sku", "is_mandatory": True},
            {"column_name": "qty", "data_type": "int"},
        ],
        COLUMN_DEFAULTS,
    )

    response = admin_client.post(f"{TABLES_URL}add/", data, follow=True)

    assert response.status_code == 200
    assert "Physical table sales: created table sales (sku str(255), qty int)" in _messages(response)
    physical = table_schema_inspect("sales")
    assert physical["sku"].data_type == "str" and physical["qty"].data_type == "int"
    table = ImportTable.objects.get(table_name="sales")
    assert list(table.columns.values_list("column_name", "position")) == [("sku", 1), ("qty", 2)]


def test_column_added_on_the_change_form_is_added_to_the_physical_table(admin_client):
    table = _products()
    url = f"{TABLES_URL}{table.pk}/change/"
    data = admin_rows_add(
        admin_form_data(admin_client.get(url)),
        "columns",
        [{"column_name": "notes", "max_length": "500"}],
        COLUMN_DEFAULTS,
    )

    response = admin_client.post(url, data, follow=True)

    assert "Physical table products: added column notes str(500)" in _messages(response)
    assert table_schema_inspect("products")["notes"].max_length == 500
    assert table.columns.get(column_name="notes").position == 4


def test_saving_an_unchanged_table_leaves_the_physical_table_alone(admin_client):
    table = _products()
    before = table_schema_inspect("products")
    url = f"{TABLES_URL}{table.pk}/change/"

    response = admin_client.post(url, admin_form_data(admin_client.get(url)), follow=True)

    assert response.status_code == 200
    assert [m for m in _messages(response) if m.startswith("Physical table")] == []
    assert any("was changed successfully" in m for m in _messages(response))
    assert table_schema_inspect("products") == before


def test_widening_a_column_keeps_its_values(admin_client):
    table = _products()
    _insert("products", sku="A1", product_name="Tea")
    url = f"{TABLES_URL}{table.pk}/change/"
    data = admin_row_set(admin_form_data(admin_client.get(url)), "columns", "product_name", max_length="300")

    response = admin_client.post(url, data, follow=True)

    assert "Physical table products: changed column product_name from str(100) to str(300)" in _messages(
        response
    )
    assert table_schema_inspect("products")["product_name"].max_length == 300


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"data_type": "int"}, "Cannot change column 'product_name' of products from str to int"),
        (
            {"is_unique": True},
            "Cannot make column 'product_name' of products unique: the value 'Tea' appears",
        ),
        ({"max_length": "2"}, "Cannot shorten column 'product_name' of products to 2 characters"),
    ],
    ids=["str-to-int", "unique-with-duplicates", "shorter-than-values"],
)
def test_unsafe_column_change_is_a_form_error_and_changes_nothing(admin_client, changes, message):
    table = _products()
    _insert("products", sku="A1", product_name="Tea")
    _insert("products", sku="A2", product_name="Tea")
    before = table_schema_inspect("products")
    url = f"{TABLES_URL}{table.pk}/change/"
    data = admin_row_set(admin_form_data(admin_client.get(url)), "columns", "product_name", **changes)

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert message in _page_text(response)
    assert table_schema_inspect("products") == before
    column = table.columns.get(column_name="product_name")
    assert (column.data_type, column.is_unique, column.max_length) == ("str", False, 100)


@pytest.mark.parametrize(
    "row, message",
    [
        ({"column_name": "order"}, "'order' is a reserved SQL word"),
        ({"column_name": "imported_at"}, "'imported_at' is a column the import engine adds itself"),
        (
            {"column_name": "item_code"},
            "The header 'item_code' (read as 'item_code') would belong to both 'sku'",
        ),
        ({"column_name": "vendor", "role": "distributor"}, None),
    ],
    ids=["reserved-word", "engine-column", "clashes-with-alias", "accepted"],
)
def test_new_column_name_is_checked_before_any_ddl(admin_client, row, message):
    table = _products()
    before = table_schema_inspect("products")
    url = f"{TABLES_URL}{table.pk}/change/"
    data = admin_rows_add(admin_form_data(admin_client.get(url)), "columns", [row], COLUMN_DEFAULTS)

    response = admin_client.post(url, data)

    if message is None:
        assert response.status_code == 302
        assert table.columns.filter(column_name=row["column_name"]).exists()
        return
    assert response.status_code == 200
    assert message in _page_text(response)
    assert table_schema_inspect("products") == before
    assert table.columns.count() == 3


def test_two_columns_with_one_role_are_refused(admin_client):
    data = admin_form_data(admin_client.get(f"{TABLES_URL}add/"))
    data.update(table_name="sales")
    rows = [{"column_name": "distid", "role": "distributor"}, {"column_name": "dist2", "role": "distributor"}]
    admin_rows_add(data, "columns", rows, COLUMN_DEFAULTS)

    response = admin_client.post(f"{TABLES_URL}add/", data)

    assert response.status_code == 200
    assert "role: Column 'distid' already has the role 'distributor'." in _page_text(response)
    assert table_schema_inspect("sales") is None
    assert not ImportTable.objects.exists()


def test_adding_a_table_that_exists_in_the_database_is_refused(admin_client):
    _products()
    ImportTable.objects.all().delete()
    data = admin_form_data(admin_client.get(f"{TABLES_URL}add/"))
    data.update(table_name="products")
    admin_rows_add(data, "columns", [{"column_name": "sku"}], COLUMN_DEFAULTS)

    response = admin_client.post(f"{TABLES_URL}add/", data)

    assert response.status_code == 200
    assert "A table named 'products' already exists in the database." in _page_text(response)
    assert not ImportTable.objects.exists()


def test_renaming_a_table_renames_the_physical_table_with_its_rows(admin_client):
    table = _products()
    _insert("products", sku="A1")
    url = f"{TABLES_URL}{table.pk}/change/"
    data = admin_form_data(admin_client.get(url))
    data["table_name"] = "items"

    response = admin_client.post(url, data, follow=True)

    assert "Physical table items: renamed table products to items" in _messages(response)
    assert table_schema_inspect("products") is None
    assert set(table_schema_inspect("items")) >= {"sku", "product_name", "price"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT sku FROM items")
        assert [tuple(row) for row in cursor.fetchall()] == [("A1",)]


def test_deleting_a_column_keeps_the_physical_column_and_says_so(admin_client):
    table = _products()
    url = f"{TABLES_URL}{table.pk}/change/"
    data = admin_row_set(admin_form_data(admin_client.get(url)), "columns", "price", DELETE=True)

    response = admin_client.post(url, data, follow=True)

    assert any("kept in the database with their data: products.price" in m for m in _messages(response))
    assert not table.columns.filter(column_name="price").exists()
    assert "price" in table_schema_inspect("products")


def test_deleting_a_table_keeps_the_physical_table_and_says_so(admin_client):
    table = _products()

    response = admin_client.post(f"{TABLES_URL}{table.pk}/delete/", {"post": "yes"}, follow=True)

    assert any(
        "Physical table(s) kept in the database with their rows: products" in m for m in _messages(response)
    )
    assert not ImportTable.objects.exists()
    assert table_schema_inspect("products") is not None


def test_sync_action_creates_missing_tables_and_reports_refusals(admin_client):
    returns = ImportTable.objects.create(table_name="returns")
    ColumnConfig.objects.create(table=returns, column_name="sku")
    products = _products()
    _insert("products", sku="A1", product_name="Tea")
    ColumnConfig.objects.filter(table=products, column_name="product_name").update(data_type="int")

    response = admin_client.post(
        TABLES_URL,
        {"action": "physical_tables_sync", "_selected_action": [returns.pk, products.pk]},
        follow=True,
    )

    assert response.status_code == 200
    messages = _messages(response)
    assert "Physical table returns: created table returns (sku str(255))" in messages
    assert any(
        m.startswith("Physical table products was not changed: Cannot change column 'product_name'")
        for m in messages
    )
    assert "sku" in table_schema_inspect("returns")
    assert table_schema_inspect("products")["product_name"].data_type == "str"


def test_alias_added_on_the_column_page_is_served_by_the_api(admin_client):
    table = _products()
    column = table.columns.get(column_name="product_name")
    url = f"{COLUMNS_URL}{column.pk}/change/"
    data = admin_rows_add(admin_form_data(admin_client.get(url)), "aliases", [{"alias_name": "Nama Barang"}])

    response = admin_client.post(url, data, follow=True)

    assert response.status_code == 200
    assert any("was changed successfully" in m for m in _messages(response))
    assert list(column.aliases.values_list("alias_name", flat=True)) == ["Nama Barang"]
    api_response = admin_client.get("/api/tables/products/columns", follow=True)
    assert api_response.status_code == 200
    assert "Nama Barang" in api_response.content.decode()


def test_clashing_alias_is_a_form_error_and_not_saved(admin_client):
    table = _products()
    column = table.columns.get(column_name="product_name")
    url = f"{COLUMNS_URL}{column.pk}/change/"
    data = admin_rows_add(admin_form_data(admin_client.get(url)), "aliases", [{"alias_name": "Item Code"}])

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert "The header 'Item Code' (read as 'item_code') would belong to both 'sku' and 'product_name'." in (
        _page_text(response)
    )
    assert not column.aliases.exists()


def test_column_added_on_the_column_page_is_added_to_the_physical_table(admin_client):
    table = _products()
    data = admin_form_data(admin_client.get(f"{COLUMNS_URL}add/"))
    data.update(COLUMN_DEFAULTS, table=table.pk, column_name="launched", data_type="date")
    admin_rows_add(data, "aliases", [{"alias_name": "Launch Date"}])

    response = admin_client.post(f"{COLUMNS_URL}add/", data, follow=True)

    assert "Physical table products: added column launched date" in _messages(response)
    assert table_schema_inspect("products")["launched"].data_type == "date"
    column = table.columns.get(column_name="launched")
    assert column.position == 4
    assert list(column.aliases.values_list("alias_name", flat=True)) == ["Launch Date"]


def test_new_column_clashing_with_an_alias_is_refused_on_the_column_page(admin_client):
    table = _products()
    before = table_schema_inspect("products")
    data = admin_form_data(admin_client.get(f"{COLUMNS_URL}add/"))
    data.update(COLUMN_DEFAULTS, table=table.pk, column_name="item_code")

    response = admin_client.post(f"{COLUMNS_URL}add/", data)

    assert response.status_code == 200
    assert "would belong to both 'sku' and 'item_code'" in _page_text(response)
    assert table_schema_inspect("products") == before
    assert table.columns.count() == 3


def test_column_type_change_on_the_column_page_alters_the_physical_column(admin_client):
    table = _products()
    column = table.columns.get(column_name="price")
    url = f"{COLUMNS_URL}{column.pk}/change/"
    data = admin_form_data(admin_client.get(url))
    data["data_type"] = "str"

    response = admin_client.post(url, data, follow=True)

    assert "Physical table products: changed column price from decimal(18,4) to str(255)" in _messages(
        response
    )
    assert table_schema_inspect("products")["price"].data_type == "str"


def test_column_type_change_refused_on_the_column_page(admin_client):
    table = _products()
    _insert("products", sku="A1", product_name="Tea")
    column = table.columns.get(column_name="product_name")
    url = f"{COLUMNS_URL}{column.pk}/change/"
    data = admin_form_data(admin_client.get(url))
    data["data_type"] = "date"

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert "Cannot change column 'product_name' of products from str to date" in _page_text(response)
    assert table_schema_inspect("products")["product_name"].data_type == "str"


def test_alias_page_refuses_a_clashing_alias(admin_client):
    table = _products()
    column = table.columns.get(column_name="price")
    data = {"column": column.pk, "alias_name": "SKU"}

    response = admin_client.post("/admin/tableconfig/alias/add/", data)

    assert response.status_code == 200
    assert "would belong to both 'sku' and 'price'" in _page_text(response)
    assert not Alias.objects.filter(alias_name="SKU").exists()


# --- The table settings of the data-fidelity issue ----------------------------------------------------

NEW_SETTINGS = {
    "on_duplicate": "skip",
    "decimal_separator": ",",
    "thousands_separator": ".",
    "distributor_match": "exact",
    "distributor_prefix_length": "3",
}


def test_table_add_form_stores_the_table_settings_and_column_rounding(admin_client):
    data = admin_form_data(admin_client.get(f"{TABLES_URL}add/"))
    data.update(table_name="ledger", **NEW_SETTINGS)
    admin_rows_add(
        data,
        "columns",
        [{"column_name": "amount", "data_type": "decimal", "decimal_places": "2", "round_decimals": True}],
        COLUMN_DEFAULTS,
    )

    response = admin_client.post(f"{TABLES_URL}add/", data, follow=True)

    assert "Physical table ledger: created table ledger (amount decimal(18,2))" in _messages(response)
    table = ImportTable.objects.get(table_name="ledger")
    assert (
        table.on_duplicate,
        table.decimal_separator,
        table.thousands_separator,
        table.distributor_match,
        table.distributor_prefix_length,
    ) == ("skip", ",", ".", "exact", 3)
    assert table.columns.get().round_decimals is True
    assert LogEntry.objects.filter(object_id=str(table.pk)).exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"on_duplicate": "reject"},
        {"decimal_separator": ",", "thousands_separator": " "},
        {"thousands_separator": "'"},
        {"distributor_match": "exact"},
        {"distributor_prefix_length": "50"},
    ],
    ids=[
        "on-duplicate",
        "comma-decimals-space-thousands",
        "apostrophe-thousands",
        "exact-distributor",
        "prefix-50",
    ],
)
def test_table_change_form_changes_a_setting(admin_client, changes):
    table = _products()
    url = f"{TABLES_URL}{table.pk}/change/"
    data = {**admin_form_data(admin_client.get(url)), **changes}

    response = admin_client.post(url, data)

    assert response.status_code == 302, _page_text(response)
    table.refresh_from_db()
    assert {name: str(getattr(table, name)) for name in changes} == changes


def test_roles_swapped_in_one_save_are_accepted(admin_client):
    table = import_table_create(
        table_name="sales",
        columns=[
            {"column_name": "ordered", "data_type": "date", "role": "period"},
            {"column_name": "shipped", "data_type": "date"},
        ],
    )
    url = f"{TABLES_URL}{table.pk}/change/"
    data = admin_form_data(admin_client.get(url))
    admin_row_set(data, "columns", "ordered", role="")
    admin_row_set(data, "columns", "shipped", role="period")

    response = admin_client.post(url, data)

    assert response.status_code == 302, _page_text(response)
    assert dict(table.columns.values_list("column_name", "role")) == {"ordered": "", "shipped": "period"}


def test_change_refused_at_save_time_saves_nothing_and_says_why(admin_client, monkeypatch):
    """A value stored between the form's check and the save: the service refuses again, nothing is saved."""
    table = _products()
    real = services.import_table_save

    def check_then_store_a_long_value(**kwargs):
        result = real(**kwargs)
        if kwargs.get("dry_run") and kwargs.get("columns_changed"):  # the last check, the inline rows'
            _insert("products", sku="A1", product_name="x" * 40)
        return result

    monkeypatch.setattr(services, "import_table_save", check_then_store_a_long_value)
    url = f"{TABLES_URL}{table.pk}/change/"
    data = admin_row_set(admin_form_data(admin_client.get(url)), "columns", "product_name", max_length="20")
    data["display_name"] = "Renamed"

    response = admin_client.post(url, data, follow=True)

    assert any(
        m.startswith("Nothing was saved: Cannot shorten column 'product_name' of products to 20 characters")
        for m in _messages(response)
    ), _messages(response)
    table.refresh_from_db()
    assert (table.display_name, table.columns.get(column_name="product_name").max_length) == ("Products", 100)
    assert table_schema_inspect("products")["product_name"].max_length == 100


def test_alias_renamed_or_deleted_on_the_column_page(admin_client):
    table = _products()
    sku = table.columns.get(column_name="sku")
    alias = sku.aliases.get()
    url = f"{COLUMNS_URL}{sku.pk}/change/"
    data = admin_form_data(admin_client.get(url))
    data["aliases-0-alias_name"] = "Kode Barang"

    assert admin_client.post(url, data).status_code == 302
    alias.refresh_from_db()
    assert alias.alias_name == "Kode Barang"

    data = admin_form_data(admin_client.get(url))
    data["aliases-0-alias_name"] = "Product Name"
    refused = admin_client.post(url, data)
    assert refused.status_code == 200
    assert (
        "The header 'product_name' (read as 'product_name') would belong to both 'sku' and 'product_name'."
        in _page_text(refused)
    )
    alias.refresh_from_db()
    assert alias.alias_name == "Kode Barang"

    data = admin_form_data(admin_client.get(url))
    data["aliases-0-DELETE"] = "on"
    assert admin_client.post(url, data).status_code == 302
    assert not sku.aliases.exists()


def test_column_deleted_on_its_own_page_keeps_the_physical_column(admin_client):
    table = _products()
    price = table.columns.get(column_name="price")

    response = admin_client.post(f"{COLUMNS_URL}{price.pk}/delete/", {"post": "yes"}, follow=True)

    assert any("kept in the database with their data: products.price" in m for m in _messages(response))
    assert not table.columns.filter(column_name="price").exists()
    assert "price" in table_schema_inspect("products")


def _job(**fields) -> ImportJob:
    defaults = {"original_filename": "sales_jan.csv", "table_name": "sales", "dist_id": "D001"}
    return ImportJob.objects.create(**{**defaults, **fields})


@pytest.mark.parametrize(
    "url, query, expected",
    [
        (TABLES_URL, "?q=prod&is_active__exact=1", "products"),
        (COLUMNS_URL, "?q=item_code&data_type__exact=str", "sku"),
        ("/admin/tableconfig/alias/", "?q=item&column__table__id__exact={table}", "item_code"),
        ("/admin/imports/importjob/", "?q=sales_jan&status__exact=9&dist_id=D001", "sales_jan.csv"),
    ],
    ids=["tables", "columns", "aliases", "jobs"],
)
def test_changelists_render_with_search_and_filter(admin_client, url, query, expected):
    table = _products()
    _job(status=JobStatus.COMPLETE, table=table)
    _job(original_filename="stock.csv", dist_id="D002", status=JobStatus.COMPLETE)

    response = admin_client.get(url + query.format(table=table.pk))

    assert response.status_code == 200
    assert response.context["cl"].result_count == 1
    assert expected in response.content.decode()


def test_jobs_are_found_by_their_batch_id(admin_client):
    batch_id = uuid.uuid4()
    _job(batch_id=batch_id)
    _job(original_filename="other.csv")

    whole = admin_client.get("/admin/imports/importjob/", {"q": str(batch_id)})
    part = admin_client.get("/admin/imports/importjob/", {"q": str(batch_id)[:8]})

    assert [j.batch_id for j in whole.context["cl"].result_list] == [batch_id]
    assert [j.batch_id for j in part.context["cl"].result_list] == [batch_id]


def test_job_admin_cannot_add_and_shows_a_read_only_page(admin_client):
    job = _job(status=JobStatus.VALIDATION_FAILED, errors=[{"row": 2, "message": "bad date"}])

    assert admin_client.get("/admin/imports/importjob/add/").status_code == 403
    response = admin_client.get(f"/admin/imports/importjob/{job.pk}/change/")

    assert response.status_code == 200
    page = _page_text(response)
    assert 'name="_save"' not in page
    assert 'name="original_filename"' not in page
    assert "6 · Validation failed" in page
    assert "bad date" in page
    changelist = admin_client.get("/admin/imports/importjob/")
    assert "Add import job" not in changelist.content.decode()


def test_only_superusers_may_delete_jobs(client, admin_user, make_user):
    job = _job()
    staff = make_user(
        "staff",
        is_staff=True,
        perms=["imports.view_importjob", "imports.change_importjob", "imports.delete_importjob"],
    )
    client.force_login(staff)
    assert client.get(f"/admin/imports/importjob/{job.pk}/change/").status_code == 200
    assert client.get(f"/admin/imports/importjob/{job.pk}/delete/").status_code == 403

    client.force_login(admin_user)
    response = client.post(f"/admin/imports/importjob/{job.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not ImportJob.objects.exists()
