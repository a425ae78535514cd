"""The configuration rules: each refused by the services with its code and a message naming the field, before any
change; and each shown with that same message by the API, the admin and the pages, which save nothing."""

import html

import pytest
from django.db import connection

from importhub.errors import ConfigError, NotFound
from tableconfig.models import Alias, ColumnConfig, ImportTable
from tableconfig.schema import table_schema_inspect
from tableconfig.services import (
    alias_create,
    alias_delete,
    column_create,
    column_update,
    import_table_create,
    import_table_save,
    import_table_update,
)
from tests.tableconfig.test_admin import admin_form_data, admin_rows_add

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shop():
    """A table with a column of each kind the rules care about, an alias, and one stored row."""
    table = import_table_create(
        table_name="shop",
        columns=[
            {"column_name": "code", "data_type": "str", "max_length": 20, "is_unique": True},
            {"column_name": "name", "data_type": "str", "max_length": 100, "aliases": ["Item Name"]},
            {"column_name": "qty", "data_type": "int"},
            {"column_name": "price", "data_type": "decimal", "role": "amount"},
            {"column_name": "sold_on", "data_type": "date", "date_format": "%d/%m/%Y"},
            {"column_name": "seller", "data_type": "str"},
        ],
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {connection.ops.quote_name('shop')} (code, name, price) VALUES (%s, %s, %s)",
            ["T1", "Teapot", "12345.6789"],
        )
    return table


def _column(table: ImportTable, name: str) -> ColumnConfig:
    return table.columns.get(column_name=name)


def _refusal(call, **kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        call(**kwargs)
    return caught.value


def _snapshot(table_name: str = "shop"):
    """The configuration and the physical table as a user could see them."""
    tables = list(ImportTable.objects.order_by("pk").values())
    for table in tables:
        table.pop("updated_at")
    columns = list(ColumnConfig.objects.order_by("pk").values())
    aliases = list(Alias.objects.order_by("pk").values_list("column_id", "alias_name"))
    return tables, columns, aliases, table_schema_inspect(table_name)


# --- Date formats ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "date_format",
    [
        "%Y-%m-%d",
        "%d/%m/%Y|%m/%d/%Y",
        "%d %b, %Y",
        "%d %B %Y %H:%M:%S.%f",
        "%I:%M %p %d.%m.%y",
        "%Y%m%d",
        "%j/%Y",
        "%d %% %m %Y",
    ],
    ids=[
        "iso",
        "two-formats",
        "comma-inside",
        "microseconds",
        "12-hour-with-am-pm",
        "compact",
        "day-of-year",
        "percent",
    ],
)
def test_column_date_format_accepted(shop, date_format):
    column = column_create(table=shop, column_name="shipped", data_type="datetime", date_format=date_format)
    assert ColumnConfig.objects.get(pk=column.pk).date_format == date_format


def test_column_date_format_with_a_comma_is_one_format(shop):
    column = column_create(
        table=shop, column_name="shipped", data_type="date", date_format="%d %b, %Y|%Y-%m-%d"
    )
    assert ColumnConfig.objects.get(pk=column.pk).date_formats == ["%d %b, %Y", "%Y-%m-%d"]


@pytest.mark.parametrize(
    ("date_format", "message"),
    [
        ("dd/mm/yyyy", "date_format: 'dd/mm/yyyy' is not a strftime format (it has no % directive)."),
        ("%%", "date_format: '%%' is not a strftime format (it has no % directive)."),
        (
            "%d/%m/%Q",
            "date_format: '%d/%m/%Q' is not a date format the import can read: "
            "'Q' is a bad directive in format '%d/%m/%Q'.",
        ),
        (
            "%-d/%m/%Y",
            "date_format: '%-d/%m/%Y' is not a date format the import can read: "
            "'-' is a bad directive in format '%-d/%m/%Y'.",
        ),
        (
            "%Y-%m-%d %",
            "date_format: '%Y-%m-%d %' is not a date format the import can read: stray % in format",
        ),
        ("%G-%V", "date_format: '%G-%V' is not a date format the import can read: ISO year directive '%G'"),
        (
            "%d/%m/%Y %I:%M",
            "date_format: '%d/%m/%Y %I:%M' cannot read back the dates it writes: 2026-10-31 13:45:56.123456 is "
            "written '31/10/2026 01:45' and read back as 2026-10-31 01:45:00.000000 (the hour differs).",
        ),
        (
            "%Y-%m-%dT%H:%M:%S%z",
            "date_format: '%Y-%m-%dT%H:%M:%S%z' has a time zone (%z or %Z), but time zones are not stored: remove it.",
        ),
        ("%d/%m/%Y %Z", "date_format: '%d/%m/%Y %Z' has a time zone (%z or %Z)"),
        ("%Y-%m-%d|%Q", "date_format: '%Q' is not a date format the import can read"),
    ],
    ids=[
        "no-directive",
        "only-a-literal-percent",
        "unknown-directive",
        "glibc-no-padding",
        "stray-percent",
        "iso-week-without-weekday",
        "12-hour-without-am-pm",
        "utc-offset",
        "zone-name",
        "second-format-bad",
    ],
)
def test_column_date_format_refused_with_a_message_naming_it(shop, date_format, message):
    before = _snapshot()
    error = _refusal(
        column_create, table=shop, column_name="shipped", data_type="date", date_format=date_format
    )
    assert (error.code, error.details) == ("invalid_date_format", {"field": "date_format"})
    assert error.message.startswith(message), error.message
    assert _snapshot() == before


def test_column_date_format_change_refused_keeps_the_old_one(shop):
    sold_on = _column(shop, "sold_on")
    error = _refusal(column_update, column=sold_on, date_format="%d/%m/%Y|%d %b %Y %z")
    assert error.code == "invalid_date_format"
    assert _column(shop, "sold_on").date_format == "%d/%m/%Y"


# --- Roles and rounding on fitting types ------------------------------------------------------------

ROLE_FITS = {
    "period": {"date", "datetime"},
    "export_date": {"date", "datetime"},
    "amount": {"int", "decimal"},
    "distributor": {"str", "int"},
}
TYPES = ("str", "int", "decimal", "date", "datetime", "bool")


@pytest.mark.parametrize(
    ("role", "data_type"),
    [(role, data_type) for role in ROLE_FITS for data_type in TYPES],
    ids=[f"{role}-on-{data_type}" for role in ROLE_FITS for data_type in TYPES],
)
def test_column_role_only_on_a_fitting_type(db, role, data_type):
    columns = [{"column_name": "value", "data_type": data_type, "role": role}]
    if data_type in ROLE_FITS[role]:
        table = import_table_create(table_name="roles", columns=columns)
        assert _column(table, "value").role == role
        return
    error = _refusal(import_table_create, table_name="roles", columns=columns)
    fitting = " or ".join(t for t in TYPES if t in ROLE_FITS[role])
    assert (error.code, error.details) == ("role_type_mismatch", {"field": "role"})
    assert error.message == (
        f"role: The role '{role}' needs a column of type {fitting}; 'value' is of type {data_type}."
    )
    assert not ImportTable.objects.exists()
    assert table_schema_inspect("roles") is None


def test_column_type_change_that_no_longer_fits_its_role_is_refused(shop):
    before = _snapshot()
    error = _refusal(column_update, column=_column(shop, "price"), data_type="str")
    assert error.code == "role_type_mismatch"
    assert (
        error.message
        == "role: The role 'amount' needs a column of type int or decimal; 'price' is of type str."
    )
    assert _snapshot() == before


@pytest.mark.parametrize("data_type", ["str", "int", "date", "bool"])
def test_column_round_decimals_only_on_decimals(shop, data_type):
    error = _refusal(column_create, table=shop, column_name="extra", data_type=data_type, round_decimals=True)
    assert (error.code, error.details) == ("option_type_mismatch", {"field": "round_decimals"})
    assert error.message == (
        f"round_decimals: Rounding applies to columns of type decimal only; 'extra' is of type {data_type}."
    )
    assert not shop.columns.filter(column_name="extra").exists()


def test_column_round_decimals_on_a_decimal_is_stored(shop):
    column, done = column_update(column=_column(shop, "price"), round_decimals=True)
    assert (column.round_decimals, done) == (True, [])
    assert _column(shop, "price").round_decimals is True


def test_column_role_held_by_another_column_is_refused(shop):
    error = _refusal(column_update, column=_column(shop, "qty"), role="amount")
    assert error.code == "role_taken"
    assert error.message == "role: Column 'price' already has the role 'amount'."
    assert _column(shop, "qty").role == ""


def test_roles_swapped_in_one_save_are_accepted(shop):
    price, qty = _column(shop, "price"), _column(shop, "qty")
    import_table_save(table=shop, columns_changed={price.pk: {"role": ""}, qty.pk: {"role": "amount"}})
    assert dict(shop.columns.exclude(role="").values_list("column_name", "role")) == {"qty": "amount"}


# --- Table settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decimal_separator", "thousands_separator", "accepted"),
    [
        (".", "", True),
        (".", ",", True),
        (",", ".", True),
        (",", " ", True),
        (".", "'", True),
        (".", ".", False),
        (",", ",", False),
    ],
    ids=[
        "point",
        "point-comma",
        "comma-point",
        "comma-space",
        "point-apostrophe",
        "point-point",
        "comma-comma",
    ],
)
def test_table_separators_must_differ(db, decimal_separator, thousands_separator, accepted):
    settings = {"decimal_separator": decimal_separator, "thousands_separator": thousands_separator}
    columns = [{"column_name": "amount", "data_type": "decimal"}]
    if accepted:
        table = import_table_create(table_name="ledger", columns=columns, **settings)
        stored = ImportTable.objects.get(pk=table.pk)
        assert (stored.decimal_separator, stored.thousands_separator) == (
            decimal_separator,
            thousands_separator,
        )
        return
    error = _refusal(import_table_create, table_name="ledger", columns=columns, **settings)
    assert (error.code, error.details) == ("separator_clash", {"field": "thousands_separator"})
    assert error.message == (
        f"thousands_separator: The thousands separator cannot be the decimal separator ('{decimal_separator}'): "
        "a number such as 1.234 would read two ways."
    )
    assert not ImportTable.objects.exists()


@pytest.mark.parametrize(
    ("length", "message"),
    [
        (0, "distributor_prefix_length: Ensure this value is greater than or equal to 1."),
        (51, "distributor_prefix_length: Ensure this value is less than or equal to 50."),
        (1, None),
        (50, None),
    ],
    ids=["zero", "fifty-one", "one", "fifty"],
)
def test_table_distributor_prefix_length_is_1_to_50(shop, length, message):
    if message is None:
        table, done = import_table_update(table=shop, distributor_prefix_length=length)
        assert (ImportTable.objects.get(pk=shop.pk).distributor_prefix_length, done) == (length, [])
        return
    error = _refusal(import_table_update, table=shop, distributor_prefix_length=length)
    assert (error.message, error.details) == (message, {"field": "distributor_prefix_length"})
    assert ImportTable.objects.get(pk=shop.pk).distributor_prefix_length == 2


def test_table_update_does_not_touch_the_caller_instance_when_refused(shop):
    _refusal(import_table_update, table=shop, thousands_separator=".")
    assert shop.thousands_separator == ""


def test_table_rename_onto_an_existing_physical_table_is_refused(shop):
    with connection.schema_editor() as editor:
        editor.execute(f"CREATE TABLE {editor.quote_name('legacy')} (x int)")
    error = _refusal(import_table_update, table=shop, table_name="legacy")
    assert error.code == "table_exists"
    assert error.message == (
        "Cannot rename table shop to legacy: a table named 'legacy' already exists in the database."
    )
    assert set(table_schema_inspect("legacy")) == {"x"}
    assert ImportTable.objects.get(pk=shop.pk).table_name == "shop"


def test_table_rename_moves_the_rows(shop):
    table, done = import_table_update(table=shop, table_name="store")
    assert (table.table_name, done) == ("store", ["renamed table shop to store"])
    assert table_schema_inspect("shop") is None
    with connection.cursor() as cursor:
        cursor.execute("SELECT code, name FROM store")
        assert [tuple(r) for r in cursor.fetchall()] == [("T1", "Teapot")]


def test_table_rename_frees_the_old_name_for_a_new_table(shop):
    """SQLite's index names are the database's, not the table's: the renamed table's indexes must not keep
    the old table's names, or a new table with the old name cannot create its own."""
    import_table_update(table=shop, table_name="store")
    again = import_table_create(
        table_name="shop", columns=[{"column_name": "code", "data_type": "str", "is_unique": True}]
    )
    assert set(table_schema_inspect("shop")) >= {"code"} and again.table_name == "shop"
    with connection.cursor() as cursor:
        cursor.execute("SELECT code FROM store")
        assert [tuple(r) for r in cursor.fetchall()] == [("T1",)]
        indexes = connection.introspection.get_constraints(cursor, "store")
    assert not [name for name in indexes if name.startswith("shop_")]


# --- Header aliases ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "alias_name", "message"),
    [
        ("name", "NAME", "The alias 'NAME' (read as 'name') is the name of its own column 'name'."),
        (
            "name",
            "item name",
            "The alias 'item name' (read as 'item_name') repeats the alias 'Item Name' of 'name'.",
        ),
        (
            "name",
            "item-name",
            "The alias 'item-name' (read as 'item_name') repeats the alias 'Item Name' of 'name'.",
        ),
        (
            "qty",
            "Item Name",
            "The header 'Item Name' (read as 'item_name') would belong to both 'name' and 'qty'.",
        ),
        (
            "qty",
            "Sold On",
            "The header 'sold_on' (read as 'sold_on') would belong to both 'qty' and 'sold_on'.",
        ),
        ("qty", "---", "alias_name: An alias cannot be empty."),
    ],
    ids=[
        "own-column-name",
        "own-alias-other-case",
        "own-alias-dashed",
        "other-columns-alias",
        "other-column",
        "empty",
    ],
)
def test_alias_refused_like_a_header_clash(shop, column, alias_name, message):
    before = _snapshot()
    error = _refusal(alias_create, column=_column(shop, column), alias_name=alias_name)
    assert error.message == message
    assert error.code == ("invalid_alias" if alias_name == "---" else "header_clash")
    assert _snapshot() == before


def test_alias_repeat_saved_before_the_rule_does_not_block_other_changes(shop):
    name = _column(shop, "name")
    Alias.objects.create(column=name, alias_name="item name")  # as the configuration allowed before
    alias = alias_create(column=_column(shop, "qty"), alias_name="Jumlah")
    column, _ = column_update(column=name, is_mandatory=True)
    assert (alias.alias_name, column.is_mandatory) == ("Jumlah", True)
    assert _refusal(alias_create, column=name, alias_name="ITEM NAME").code == "header_clash"


def test_alias_delete_removes_only_that_alias(shop):
    name = _column(shop, "name")
    extra = alias_create(column=name, alias_name="Nama")
    alias_delete(alias=extra)
    assert list(name.aliases.values_list("alias_name", flat=True)) == ["Item Name"]
    with pytest.raises(NotFound):
        alias_delete(alias=extra)


# --- Physical changes and dry runs -------------------------------------------------------------------


def test_narrowing_below_stored_values_is_refused_and_nothing_changes(shop):
    before = _snapshot()
    error = _refusal(column_update, column=_column(shop, "name"), max_length=3)
    assert "Cannot shorten column 'name' of shop to 3 characters" in error.message
    assert _snapshot() == before


def test_dry_run_reports_the_change_and_changes_nothing(shop):
    before = _snapshot()
    saved = import_table_save(
        table=shop,
        changes={"on_duplicate": "reject"},
        columns_added=[{"column_name": "barcode", "data_type": "str", "max_length": 13, "aliases": ["EAN"]}],
        columns_changed={_column(shop, "qty").pk: {"data_type": "decimal"}},
        dry_run=True,
    )
    assert saved.schema_changes == [
        "added column barcode str(13)",
        "changed column qty from int to decimal(18,4)",
    ]
    assert [(c.column_name, c.pk, c.position) for c in saved.columns] == [
        ("qty", _column(shop, "qty").pk, 3),
        ("barcode", None, 7),
    ]
    assert _snapshot() == before


def test_one_save_is_refused_whole_when_one_part_is_refused(shop):
    before = _snapshot()
    error = _refusal(
        import_table_save,
        table=shop,
        changes={"on_duplicate": "skip"},
        columns_added=[{"column_name": "barcode", "data_type": "str"}],
        columns_changed={_column(shop, "name").pk: {"max_length": 3}},
    )
    assert "Cannot shorten column 'name'" in error.message
    assert _snapshot() == before


# --- The same message in the API, the admin and the pages --------------------------------------------

# (what is changed, which column, the change, a part of the message the user must read)
RULES = [
    ("column", "sold_on", {"date_format": "%d/%m/%Q"}, "'Q' is a bad directive"),
    ("column", "sold_on", {"date_format": "%d/%m/%Y %z"}, "time zones are not stored"),
    ("column", "sold_on", {"date_format": "%d %b, %Y|%I:%M"}, "cannot read back the dates it writes"),
    ("column", "sold_on", {"date_format": "dd/mm/yyyy"}, "has no % directive"),
    ("column", "name", {"role": "period"}, "The role 'period' needs a column of type date or datetime"),
    ("column", "seller", {"data_type": "bool", "role": "distributor"}, "needs a column of type str or int"),
    ("column", "price", {"data_type": "str"}, "The role 'amount' needs a column of type int or decimal"),
    ("column", "qty", {"role": "amount"}, "Column 'price' already has the role 'amount'."),
    ("column", "qty", {"round_decimals": True}, "Rounding applies to columns of type decimal only"),
    ("column", "name", {"max_length": 3}, "Cannot shorten column 'name' of shop to 3 characters"),
    (
        "column",
        "price",
        {"decimal_places": 2},
        "more than 2 decimal places and would be rounded, e.g. '12345.6789'",
    ),
    (
        "column",
        "price",
        {"decimal_digits": 8},
        "more than 4 digits before the decimal point, e.g. '12345.6789'",
    ),
    (
        "table",
        None,
        {"decimal_separator": ",", "thousands_separator": ","},
        "cannot be the decimal separator",
    ),
    ("table", None, {"distributor_prefix_length": 51}, "less than or equal to 50"),
    ("alias", "name", {"alias_name": "item name"}, "repeats the alias 'Item Name' of 'name'"),
    ("alias", "name", {"alias_name": "NAME"}, "is the name of its own column 'name'"),
    ("alias", "qty", {"alias_name": "Item-Name"}, "would belong to both 'name' and 'qty'"),
]
RULE_IDS = [
    "unknown-directive",
    "time-zone",
    "cannot-read-back",
    "no-directive",
    "role-on-text",
    "role-with-new-type",
    "type-change-breaks-role",
    "role-taken",
    "rounding-not-decimal",
    "narrowing-below-values",
    "fewer-decimal-places-than-values",
    "fewer-digits-than-values",
    "separator-clash",
    "prefix-length",
    "alias-repeats-alias",
    "alias-is-own-name",
    "alias-of-another-column",
]


def _service_message(table: ImportTable, kind: str, column: str | None, changes: dict) -> str:
    if kind == "table":
        error = _refusal(import_table_update, table=table, **changes)
    elif kind == "column":
        error = _refusal(column_update, column=_column(table, column), **changes)
    else:
        error = _refusal(alias_create, column=_column(table, column), **changes)
    return error.message


def _page_text(response) -> str:
    return html.unescape(response.content.decode())


def _form_values(changes: dict) -> dict:
    """Changes as a browser posts them: a ticked box is "on", an unticked one is left out."""
    return {k: "on" if v is True else str(v) for k, v in changes.items() if v is not False}


def _through_api(client, table, kind, column, changes) -> str:
    if kind == "table":
        response = client.put(f"/api/tables/{table.pk}", changes, format="json")
    elif kind == "column":
        response = client.put(f"/api/columns/{_column(table, column).pk}", changes, format="json")
    else:
        response = client.post(f"/api/columns/{_column(table, column).pk}/aliases", changes, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["success"] is False
    return response.json()["error"]


def _through_admin(client, table, kind, column, changes) -> str:
    if kind == "table":
        url = f"/admin/tableconfig/importtable/{table.pk}/change/"
        data = {**admin_form_data(client.get(url)), **_form_values(changes)}
    else:
        url = f"/admin/tableconfig/columnconfig/{_column(table, column).pk}/change/"
        data = admin_form_data(client.get(url))
        if kind == "column":
            data.update(_form_values(changes))
        else:
            admin_rows_add(data, "aliases", [changes])
    response = client.post(url, data)
    assert response.status_code == 200
    return _page_text(response)


def _through_pages(client, table, kind, column, changes) -> str:
    if kind == "alias":
        url = f"/config/columns/{_column(table, column).pk}/aliases/"
        return _page_text(client.post(url, changes, follow=True))
    url = (
        f"/config/tables/{table.pk}/" if kind == "table" else f"/config/columns/{_column(table, column).pk}/"
    )
    initial = client.get(url).context["form"].initial
    data = {**{k: v for k, v in initial.items() if v is not False and v is not None}, **changes}
    response = client.post(url, _form_values(data))
    assert response.status_code == 400
    return _page_text(response)


FRONT_ENDS = {"api": _through_api, "admin": _through_admin, "pages": _through_pages}


@pytest.mark.parametrize("front_end", list(FRONT_ENDS))
@pytest.mark.parametrize(("kind", "column", "changes", "fragment"), RULES, ids=RULE_IDS)
def test_rule_gives_the_same_message_in_api_admin_and_pages(
    shop, admin_user, client, admin_api, front_end, kind, column, changes, fragment
):
    expected = _service_message(shop, kind, column, changes)
    assert fragment in expected
    before = _snapshot()
    client.force_login(admin_user)

    shown = FRONT_ENDS[front_end](admin_api if front_end == "api" else client, shop, kind, column, changes)

    assert expected in shown
    assert _snapshot() == before
