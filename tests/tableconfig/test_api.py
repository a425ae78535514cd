"""The table configuration API answers the older app's Postman requests, changes physical tables, and guards writes."""

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tableconfig.models import Alias, ColumnConfig, ImportTable
from tableconfig.schema import table_schema_inspect
from tableconfig.services import alias_create, import_table_create

pytestmark = pytest.mark.django_db(transaction=True)

# The bodies of the Postman collection's requests, verbatim.
POSTMAN_TABLE = {
    "table_name": "products",
    "display_name": "Product Data",
    "allowed_filename": "product_list",
    "columns": [
        {"name": "sku", "type": "str"},
        {"name": "product_name", "type": "str"},
        {"name": "price", "type": "int"},
        {"name": "category", "type": "str"},
    ],
}
POSTMAN_FILENAME = {"allowed_filename": "pv_inventory"}
POSTMAN_COLUMN = {"column_name": "notes", "data_type": "str"}
POSTMAN_COLUMN_UPDATE = {"is_mandatory": True, "data_type": "str"}
POSTMAN_ALIAS = {"alias_name": "item_code"}

# The table settings of a table created without them.
TABLE_SETTINGS_DEFAULTS = {
    "on_duplicate": "update",
    "decimal_separator": ".",
    "thousands_separator": "",
    "distributor_match": "prefix",
    "distributor_prefix_length": 2,
}

ALL_WRITE_PERMS = [
    "tableconfig.add_importtable",
    "tableconfig.change_importtable",
    "tableconfig.add_columnconfig",
    "tableconfig.change_columnconfig",
    "tableconfig.add_alias",
    "tableconfig.delete_alias",
]


@pytest.fixture
def stocks():
    """The `stocks` table of the Postman collection, with an alias on two of its columns."""
    table = import_table_create(
        table_name="stocks",
        allowed_filename="stock_*",
        columns=[
            {"column_name": "kode_barang", "data_type": "str", "is_mandatory": True},
            {"column_name": "do_date", "data_type": "date", "date_format": "%d/%m/%Y"},
            {"column_name": "qty", "data_type": "int"},
        ],
    )
    alias_create(column=table.columns.get(column_name="kode_barang"), alias_name="Kode")
    alias_create(column=table.columns.get(column_name="qty"), alias_name="Quantity")
    return table


@pytest.fixture
def ids(stocks):
    column = stocks.columns.get(column_name="kode_barang")
    return {"table": stocks.pk, "column": column.pk, "alias": column.aliases.get().pk}


def _db_tables() -> set[str]:
    return set(connection.introspection.table_names())


def _send(client, method: str, path: str, body=None):
    return getattr(client, method.lower())(path, body, format="json")


def _login(make_user, username: str, perms=()) -> APIClient:
    make_user(username, perms=list(perms))
    client = APIClient()
    assert client.login(username=username, password=f"pw-{username}")
    return client


def _refused(response, status: int, message: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["success"] is False
    assert message in body["error"], body["error"]


# --- Tables -------------------------------------------------------------------------------------


def test_tables_list_shows_each_table_with_its_column_count(admin_api, stocks):
    response = admin_api.get("/api/tables")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert [
        {
            k: t[k]
            for k in ("id", "table_name", "display_name", "allowed_filename", "is_active", "column_count")
        }
        for t in body["data"]
    ] == [
        {
            "id": stocks.pk,
            "table_name": "stocks",
            "display_name": "Stocks",
            "allowed_filename": "stock_*",
            "is_active": True,
            "column_count": 3,
        }
    ]
    assert {k: body["data"][0][k] for k in TABLE_SETTINGS_DEFAULTS} == TABLE_SETTINGS_DEFAULTS
    assert {"description", "reject_file_on_error", "created_at", "updated_at"} <= set(body["data"][0])


def test_tables_list_is_empty_without_tables(admin_api):
    assert admin_api.get("/api/tables").json() == {"success": True, "data": []}


def test_tables_create_postman_request_creates_table_columns_and_physical_table(admin_api):
    response = admin_api.post("/api/tables", POSTMAN_TABLE, format="json")
    assert response.status_code == 201, response.content
    data = response.json()["data"]
    assert data["table_name"] == "products"
    assert data["display_name"] == "Product Data"
    assert data["allowed_filename"] == "product_list"
    assert data["column_count"] == 4
    assert [
        (c["column_name"], c["data_type"], c["is_mandatory"], c["position"]) for c in data["columns"]
    ] == [
        ("sku", "str", True, 1),
        ("product_name", "str", True, 2),
        ("price", "int", True, 3),
        ("category", "str", True, 4),
    ]
    actual = table_schema_inspect("products")
    assert set(actual) == {"id", "import_job_id", "imported_at", "sku", "product_name", "price", "category"}
    assert actual["sku"].data_type == "str" and actual["sku"].max_length == 255
    assert actual["price"].data_type == "int"
    assert ImportTable.objects.get().table_name == "products"


def test_tables_create_accepts_every_type_and_the_column_options(admin_api):
    body = {
        "table_name": "sales",
        "columns": [
            {"name": "invoice", "type": "str", "is_unique": True, "max_length": 40, "aliases": ["No Faktur"]},
            {"name": "qty", "type": "int", "is_mandatory": False},
            {"name": "amount", "type": "decimal", "role": "amount"},
            {"name": "do_date", "type": "date", "date_format": "%d/%m/%Y", "role": "period"},
            {"name": "exported", "type": "datetime", "is_mandatory": False},
            {"name": "returned", "type": "bool", "is_mandatory": False},
        ],
    }
    response = admin_api.post("/api/tables", body, format="json")
    assert response.status_code == 201, response.content
    columns = {c["column_name"]: c for c in response.json()["data"]["columns"]}
    assert columns["invoice"]["is_unique"] is True and columns["invoice"]["max_length"] == 40
    assert [a["alias_name"] for a in columns["invoice"]["aliases"]] == ["No Faktur"]
    assert columns["qty"]["is_mandatory"] is False
    assert columns["amount"]["role"] == "amount"
    assert columns["do_date"]["date_format"] == "%d/%m/%Y"
    actual = table_schema_inspect("sales")
    assert {name: actual[name].data_type for name in columns} == {
        "invoice": "str",
        "qty": "int",
        "amount": "decimal",
        "do_date": "date",
        "exported": "datetime",
        "returned": "bool",
    }
    assert actual["invoice"].is_unique and actual["invoice"].max_length == 40


def _column(**extra):
    return {"name": "sku", "type": "str", **extra}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"columns": [_column()]}, "table_name: This field is required."),
        ({"table_name": "products"}, "columns: This field is required."),
        ({"table_name": "products", "columns": []}, "columns: at least one column is required"),
        (
            {"table_name": "products", "columns": "sku"},
            'columns: Expected a list of items but got type "str".',
        ),
        (
            {
                "table_name": "products",
                "columns": [_column(), _column(name="qty"), _column(name="x", type="varchar")],
            },
            'columns[2].type: "varchar" is not a valid type; use one of str, int, decimal, date, datetime, bool.',
        ),
        (
            {"table_name": "products", "columns": [{"type": "str"}]},
            "columns[0].name: This field is required.",
        ),
        (
            {"table_name": "products", "columns": [{"name": "sku"}]},
            "columns[0].type: This field is required.",
        ),
        (
            {"table_name": "products", "columns": [_column(is_unique="maybe")]},
            "columns[0].is_unique: Must be a valid boolean.",
        ),
        (
            {"table_name": "products", "columns": [_column(max_length=1000)]},
            "columns[0].max_length: Ensure this value is less than or equal to 768.",
        ),
        (
            {"table_name": "products", "columns": [_column(role="boss")]},
            'columns[0].role: "boss" is not a valid choice; use one of "distributor", "period", "amount", "export_date".',
        ),
        (
            {"table_name": "products", "columns": [_column(aliases=["SKU", ""])]},
            "columns[0].aliases[1]: This field may not be blank.",
        ),
        (
            {"table_name": "products", "columns": [_column(aliases=["--"])]},
            "columns[0].aliases[0]: An alias needs",
        ),
        ({"table_name": "products", "columns": [_column(), _column()]}, "Column names repeat: sku."),
        (
            {
                "table_name": "products",
                "columns": [
                    _column(type="int", role="amount"),
                    _column(name="qty", type="int", role="amount"),
                ],
            },
            "role: Column 'sku' already has the role 'amount'.",
        ),
        (
            {"table_name": "products", "columns": [_column(name="do_date"), _column(aliases=["DO Date"])]},
            "The header 'DO Date' (read as 'do_date') would belong to both 'do_date' and 'sku'.",
        ),
        (
            {"table_name": "products", "columns": [_column(type="date", date_format="dd/mm/yyyy")]},
            "date_format: 'dd/mm/yyyy' is not a strftime format",
        ),
        (
            {"table_name": "products", "columns": [_column(type="date", date_format="%d %b, %Y|%Q")]},
            "date_format: '%Q' is not a date format the import can read: 'Q' is a bad directive in format '%Q'.",
        ),
        (
            {"table_name": "products", "columns": [_column(type="datetime", date_format="%Y-%m-%d %H:%M%z")]},
            "date_format: '%Y-%m-%d %H:%M%z' has a time zone (%z or %Z), but time zones are not stored",
        ),
        (
            {"table_name": "products", "columns": [_column(role="period")]},
            "role: The role 'period' needs a column of type date or datetime; 'sku' is of type str.",
        ),
        (
            {"table_name": "products", "columns": [_column(round_decimals=True)]},
            "round_decimals: Rounding applies to columns of type decimal only; 'sku' is of type str.",
        ),
        (
            {"table_name": "products", "columns": [_column(aliases=["Item", "ITEM"])]},
            "The alias 'ITEM' (read as 'item') repeats the alias 'Item' of 'sku'.",
        ),
        (
            {
                "table_name": "products",
                "decimal_separator": ",",
                "thousands_separator": ",",
                "columns": [_column()],
            },
            "thousands_separator: The thousands separator cannot be the decimal separator (',')",
        ),
        (
            {"table_name": "products", "on_duplicate": "merge", "columns": [_column()]},
            'on_duplicate: "merge" is not a valid choice; use one of "update", "skip", "reject".',
        ),
        (
            {"table_name": "products", "distributor_prefix_length": 0, "columns": [_column()]},
            "distributor_prefix_length: Ensure this value is greater than or equal to 1.",
        ),
    ],
    ids=[
        "no-table-name",
        "no-columns",
        "zero-columns",
        "columns-not-a-list",
        "unknown-type",
        "column-without-name",
        "column-without-type",
        "not-a-boolean",
        "max-length-too-big",
        "unknown-role",
        "blank-alias",
        "alias-without-letters",
        "repeated-column",
        "repeated-role",
        "alias-clashes-with-column",
        "date-format-without-directive",
        "date-format-unknown-directive",
        "date-format-time-zone",
        "role-on-a-text-column",
        "rounding-a-text-column",
        "alias-repeated-on-its-column",
        "separator-clash",
        "unknown-duplicate-policy",
        "prefix-length-zero",
    ],
)
def test_tables_create_refuses_a_bad_body_before_any_ddl(admin_api, body, message):
    before = _db_tables()
    _refused(admin_api.post("/api/tables", body, format="json"), 400, message)
    assert _db_tables() == before
    assert not ImportTable.objects.exists()
    assert not ColumnConfig.objects.exists()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "x` (id int); DROP TABLE auth_user; --",
            "'x` (id int); DROP TABLE auth_user; --' is not a valid table name",
        ),
        ("select", "'select' is a reserved SQL word"),
        ("django_session", "'django_session' clashes with the application's own tables"),
        ("9lives", "'9lives' is not a valid table name"),
        ("a" * 70, f"'{'a' * 70}' is not a valid table name: use 1 to 63 characters"),
        ("Products", "'Products' is not a valid table name"),
    ],
    ids=["injection", "reserved-word", "django-table", "leading-digit", "70-chars", "uppercase"],
)
def test_tables_create_refuses_an_unsafe_table_name_before_any_ddl(admin_api, name, message):
    before = _db_tables()
    body = {**POSTMAN_TABLE, "table_name": name}
    _refused(admin_api.post("/api/tables", body, format="json"), 400, f"table_name: {message}")
    assert _db_tables() == before
    assert "auth_user" in _db_tables()
    assert not ImportTable.objects.exists()


def test_tables_create_refuses_a_backtick_column_name_before_any_ddl(admin_api):
    before = _db_tables()
    body = {**POSTMAN_TABLE, "columns": [{"name": "sku", "type": "str"}, {"name": "price`", "type": "int"}]}
    _refused(
        admin_api.post("/api/tables", body, format="json"),
        400,
        "columns[1].name: 'price`' is not a valid column name",
    )
    assert _db_tables() == before
    assert not ImportTable.objects.exists()


def test_tables_create_refuses_a_duplicate_table_name(admin_api):
    assert admin_api.post("/api/tables", POSTMAN_TABLE, format="json").status_code == 201
    before = table_schema_inspect("products")
    again = {**POSTMAN_TABLE, "columns": [{"name": "other", "type": "int"}]}
    _refused(admin_api.post("/api/tables", again, format="json"), 400, "table_name: ")
    assert ImportTable.objects.count() == 1
    assert table_schema_inspect("products") == before


def test_tables_create_refuses_a_name_already_taken_by_a_physical_table(admin_api):
    with connection.schema_editor() as editor:
        editor.execute(f"CREATE TABLE {editor.quote_name('products')} (legacy int)")
    _refused(
        admin_api.post("/api/tables", POSTMAN_TABLE, format="json"),
        400,
        "A table named 'products' already exists in the database.",
    )
    assert set(table_schema_inspect("products")) == {"legacy"}
    assert not ImportTable.objects.exists()


@pytest.mark.parametrize(
    ("payload", "message"),
    [('{"table_name": "products", ', "JSON parse error"), ("[1, 2]", "Invalid data. Expected a dictionary")],
    ids=["not-json", "not-an-object"],
)
def test_tables_create_refuses_a_body_that_is_not_a_json_object(admin_api, payload, message):
    response = admin_api.post("/api/tables", payload, content_type="application/json")
    _refused(response, 400, message)
    assert not ImportTable.objects.exists()


def test_table_filename_postman_request_changes_allowed_filename(admin_api, stocks):
    response = admin_api.put(f"/api/tables/{stocks.pk}/filename", POSTMAN_FILENAME, format="json")
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert (data["id"], data["table_name"], data["allowed_filename"]) == (stocks.pk, "stocks", "pv_inventory")
    assert data["column_count"] == 3
    assert ImportTable.objects.get().allowed_filename == "pv_inventory"


def test_table_filename_refuses_a_body_without_the_field(admin_api, stocks):
    response = admin_api.put(f"/api/tables/{stocks.pk}/filename", {"filename": "x"}, format="json")
    _refused(response, 400, "allowed_filename: This field is required.")
    assert ImportTable.objects.get().allowed_filename == "stock_*"


def test_table_filename_of_an_unknown_table_is_404(admin_api):
    _refused(
        admin_api.put("/api/tables/999/filename", POSTMAN_FILENAME, format="json"),
        404,
        "Table 999 not found.",
    )


def test_tables_create_stores_the_table_settings_and_column_rounding(admin_api):
    settings = {
        "on_duplicate": "skip",
        "decimal_separator": ",",
        "thousands_separator": ".",
        "distributor_match": "exact",
        "distributor_prefix_length": 4,
    }
    body = {
        "table_name": "ledger",
        **settings,
        "columns": [{"name": "amount", "type": "decimal", "decimal_places": 2, "round_decimals": True}],
    }
    response = admin_api.post("/api/tables", body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()["data"]
    assert {k: data[k] for k in settings} == settings
    assert data["columns"][0]["round_decimals"] is True
    listed = admin_api.get("/api/tables").json()["data"][0]
    assert {k: listed[k] for k in settings} == settings
    stored = ImportTable.objects.get()
    assert {k: getattr(stored, k) for k in settings} == settings


def test_tables_create_postman_request_gets_the_default_settings(admin_api):
    data = admin_api.post("/api/tables", POSTMAN_TABLE, format="json").json()["data"]
    assert {k: data[k] for k in TABLE_SETTINGS_DEFAULTS} == TABLE_SETTINGS_DEFAULTS
    assert {c["round_decimals"] for c in data["columns"]} == {False}


TABLE_SETTING_CHANGES = [
    {"display_name": "Warehouse stock"},
    {"allowed_filename": "stock_*, gudang_*"},
    {"description": "Daily stock per warehouse."},
    {"is_active": False},
    {"reject_file_on_error": True},
    {"on_duplicate": "reject"},
    {"on_duplicate": "skip"},
    {"decimal_separator": ",", "thousands_separator": "."},
    {"thousands_separator": " "},
    {"thousands_separator": "'"},
    {"distributor_match": "exact"},
    {"distributor_prefix_length": 50},
]


@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize(
    "changes",
    TABLE_SETTING_CHANGES,
    ids=[
        "display-name",
        "allowed-filename",
        "description",
        "inactive",
        "reject-file",
        "reject-duplicates",
        "skip-duplicates",
        "comma-decimals",
        "space-thousands",
        "apostrophe-thousands",
        "exact-distributor",
        "prefix-50",
    ],
)
def test_table_update_changes_any_setting(admin_api, stocks, method, changes):
    response = _send(admin_api, method, f"/api/tables/{stocks.pk}", changes)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert {k: data[k] for k in changes} == changes
    assert (data["id"], data["table_name"], data["column_count"], data["schema_changes"]) == (
        stocks.pk,
        "stocks",
        3,
        [],
    )
    stored = ImportTable.objects.get(pk=stocks.pk)
    assert {k: getattr(stored, k) for k in changes} == changes
    untouched = {k: v for k, v in TABLE_SETTINGS_DEFAULTS.items() if k not in changes}
    assert {k: getattr(stored, k) for k in untouched} == untouched


def test_table_update_renames_the_physical_table_with_its_rows(admin_api, stocks):
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {connection.ops.quote_name('stocks')} (kode_barang) VALUES (%s)", ["A1"])
    response = admin_api.put(f"/api/tables/{stocks.pk}", {"table_name": "warehouse"}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert (data["table_name"], data["schema_changes"]) == (
        "warehouse",
        ["renamed table stocks to warehouse"],
    )
    assert table_schema_inspect("stocks") is None
    with connection.cursor() as cursor:
        cursor.execute("SELECT kode_barang FROM warehouse")
        assert [tuple(r) for r in cursor.fetchall()] == [("A1",)]
    assert admin_api.get("/api/tables/warehouse/columns").status_code == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Send at least one of: table_name, display_name, allowed_filename, description, is_active"),
        (
            {"on_duplicate": "merge"},
            'on_duplicate: "merge" is not a valid choice; use one of "update", "skip", "reject".',
        ),
        ({"decimal_separator": ";"}, 'decimal_separator: ";" is not a valid choice; use one of ".", ",".'),
        (
            {"thousands_separator": "_"},
            'thousands_separator: "_" is not a valid choice; use one of "", ",", ".", " ", "\'".',
        ),
        (
            {"distributor_match": "fuzzy"},
            'distributor_match: "fuzzy" is not a valid choice; use one of "prefix", "exact".',
        ),
        (
            {"thousands_separator": "."},
            "thousands_separator: The thousands separator cannot be the decimal separator ('.'): "
            "a number such as 1.234 would read two ways.",
        ),
        (
            {"decimal_separator": ",", "thousands_separator": ","},
            "thousands_separator: The thousands separator cannot be the decimal separator (',')",
        ),
        (
            {"distributor_prefix_length": 0},
            "distributor_prefix_length: Ensure this value is greater than or equal to 1.",
        ),
        (
            {"distributor_prefix_length": 51},
            "distributor_prefix_length: Ensure this value is less than or equal to 50.",
        ),
        ({"is_active": "maybe"}, "is_active: Must be a valid boolean."),
        ({"table_name": "select"}, "table_name: 'select' is a reserved SQL word"),
        ({"table_name": "Stocks"}, "table_name: 'Stocks' is not a valid table name"),
    ],
    ids=[
        "empty",
        "unknown-policy",
        "unknown-decimal-separator",
        "unknown-thousands-separator",
        "unknown-distributor-match",
        "thousands-equals-default-decimal",
        "both-commas",
        "prefix-zero",
        "prefix-51",
        "not-a-boolean",
        "reserved-word",
        "uppercase-name",
    ],
)
def test_table_update_refuses_a_bad_body_and_changes_nothing(admin_api, stocks, body, message):
    before = ImportTable.objects.values().get(pk=stocks.pk)
    response = admin_api.put(f"/api/tables/{stocks.pk}", body, format="json")
    _refused(response, 400, message)
    assert ImportTable.objects.values().get(pk=stocks.pk) == before
    assert table_schema_inspect("stocks") is not None


def test_table_update_refusal_from_the_rules_carries_its_code_and_field(admin_api, stocks):
    response = admin_api.patch(f"/api/tables/{stocks.pk}", {"thousands_separator": "."}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert (body["success"], body["code"], body["field"]) == (False, "separator_clash", "thousands_separator")


def test_table_update_of_an_unknown_table_is_404(admin_api):
    _refused(
        admin_api.put("/api/tables/999", {"on_duplicate": "skip"}, format="json"), 404, "Table 999 not found."
    )


def test_table_update_is_in_the_openapi_document(admin_api):
    document = admin_api.get("/api/schema/", {"format": "json"}).json()
    operations = document["paths"]["/api/tables/{id}"]
    assert set(operations) >= {"put", "patch"}
    schemas = document["components"]["schemas"]
    for method in ("put", "patch"):
        request = operations[method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        fields = schemas[request.rsplit("/", 1)[1]]["properties"]
        assert set(TABLE_SETTINGS_DEFAULTS) <= set(fields)
        answer = operations[method]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert answer.endswith("/TableChangedResponse")
        assert {"400", "401", "403", "404"} <= set(operations[method]["responses"])
    changed = schemas["TableChanged"]["properties"]
    assert {"schema_changes", "on_duplicate", "distributor_prefix_length"} <= set(changed)
    assert "round_decimals" in schemas["Column"]["properties"]


def test_column_update_sets_round_decimals_on_a_decimal_only(admin_api, stocks):
    price = admin_api.post(
        "/api/tables/stocks/columns", {"column_name": "price", "data_type": "decimal"}, format="json"
    ).json()["data"]
    response = admin_api.patch(f"/api/columns/{price['id']}", {"round_decimals": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["data"]["round_decimals"] is True
    qty = stocks.columns.get(column_name="qty")
    refused = admin_api.patch(f"/api/columns/{qty.pk}", {"round_decimals": True}, format="json")
    _refused(
        refused,
        400,
        "round_decimals: Rounding applies to columns of type decimal only; 'qty' is of type int.",
    )
    assert refused.json()["code"] == "option_type_mismatch"
    qty.refresh_from_db()
    assert qty.round_decimals is False


def test_column_update_refuses_a_type_its_role_does_not_fit(admin_api, stocks):
    do_date = stocks.columns.get(column_name="do_date")
    assert admin_api.put(f"/api/columns/{do_date.pk}", {"role": "period"}, format="json").status_code == 200
    response = admin_api.put(f"/api/columns/{do_date.pk}", {"data_type": "str"}, format="json")
    _refused(
        response,
        400,
        "role: The role 'period' needs a column of type date or datetime; 'do_date' is of type str.",
    )
    assert response.json()["code"] == "role_type_mismatch"
    assert table_schema_inspect("stocks")["do_date"].data_type == "date"
    do_date.refresh_from_db()
    assert (do_date.data_type, do_date.role) == ("date", "period")


def test_column_update_narrowing_below_stored_values_is_refused_and_nothing_changes(admin_api, stocks):
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {connection.ops.quote_name('stocks')} (kode_barang) VALUES (%s)", ["ABCDEFGH"]
        )
    kode = stocks.columns.get(column_name="kode_barang")
    response = admin_api.patch(f"/api/columns/{kode.pk}", {"max_length": 4}, format="json")
    _refused(response, 400, "Cannot shorten column 'kode_barang' of stocks to 4 characters")
    assert table_schema_inspect("stocks")["kode_barang"].max_length == 255
    kode.refresh_from_db()
    assert kode.max_length == 255


def test_alias_add_refuses_a_repeat_on_its_own_column(admin_api, stocks):
    kode = stocks.columns.get(column_name="kode_barang")
    for alias_name, message in [
        ("KODE", "The alias 'KODE' (read as 'kode') repeats the alias 'Kode' of 'kode_barang'."),
        (
            "Kode Barang",
            "The alias 'Kode Barang' (read as 'kode_barang') is the name of its own column 'kode_barang'.",
        ),
    ]:
        response = admin_api.post(
            f"/api/columns/{kode.pk}/aliases", {"alias_name": alias_name}, format="json"
        )
        _refused(response, 400, message)
        assert response.json()["code"] == "header_clash"
    assert list(kode.aliases.values_list("alias_name", flat=True)) == ["Kode"]


# --- Columns ------------------------------------------------------------------------------------


def test_table_columns_postman_request_lists_columns_with_aliases(admin_api, stocks):
    response = admin_api.get("/api/tables/stocks/columns")
    assert response.status_code == 200
    data = response.json()["data"]
    kode = ColumnConfig.objects.get(column_name="kode_barang")
    assert data[0] == {
        "id": kode.pk,
        "column_name": "kode_barang",
        "data_type": "str",
        "is_mandatory": True,
        "is_unique": False,
        "max_length": 255,
        "decimal_digits": 18,
        "decimal_places": 4,
        "round_decimals": False,
        "date_format": "",
        "role": "",
        "position": 1,
        "aliases": [{"id": kode.aliases.get().pk, "alias_name": "Kode"}],
    }
    assert [(c["column_name"], c["data_type"], [a["alias_name"] for a in c["aliases"]]) for c in data] == [
        ("kode_barang", "str", ["Kode"]),
        ("do_date", "date", []),
        ("qty", "int", ["Quantity"]),
    ]


def test_table_columns_of_an_unknown_table_is_404(admin_api):
    _refused(admin_api.get("/api/tables/nope/columns"), 404, "Table 'nope' not found.")
    _refused(
        admin_api.post("/api/tables/nope/columns", POSTMAN_COLUMN, format="json"),
        404,
        "Table 'nope' not found.",
    )


def test_column_add_postman_request_alters_the_physical_table(admin_api, stocks):
    response = admin_api.post("/api/tables/stocks/columns", POSTMAN_COLUMN, format="json")
    assert response.status_code == 201, response.content
    data = response.json()["data"]
    assert (data["column_name"], data["data_type"], data["position"], data["aliases"]) == (
        "notes",
        "str",
        4,
        [],
    )
    assert table_schema_inspect("stocks")["notes"].data_type == "str"
    listed = admin_api.get("/api/tables/stocks/columns").json()["data"]
    assert [c["column_name"] for c in listed] == ["kode_barang", "do_date", "qty", "notes"]


def test_column_add_with_options_makes_the_typed_column(admin_api, stocks):
    body = {"column_name": "price", "data_type": "decimal", "is_mandatory": True, "role": "amount"}
    response = admin_api.post("/api/tables/stocks/columns", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["data"]["is_mandatory"] is True
    assert table_schema_inspect("stocks")["price"].data_type == "decimal"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"data_type": "str"}, "column_name: This field is required."),
        ({"column_name": "notes"}, "data_type: This field is required."),
        ({"column_name": "notes", "data_type": "text"}, 'data_type: "text" is not a valid type'),
        ({"column_name": "notes`", "data_type": "str"}, "column_name: 'notes`' is not a valid column name"),
        ({"column_name": "order", "data_type": "str"}, "column_name: 'order' is a reserved SQL word"),
        ({"column_name": "imported_at", "data_type": "str"}, "is a column the import engine adds itself"),
        ({"column_name": "qty", "data_type": "str"}, "already exists"),
        ({"column_name": "quantity", "data_type": "int"}, "The header 'quantity' (read as 'quantity')"),
        (
            {"column_name": "notes", "data_type": "str", "max_length": 0},
            "max_length: Ensure this value is greater",
        ),
    ],
    ids=[
        "no-name",
        "no-type",
        "unknown-type",
        "backtick",
        "reserved-word",
        "engine-column",
        "existing-column",
        "name-of-an-alias",
        "max-length-zero",
    ],
)
def test_column_add_refuses_a_bad_body_before_any_ddl(admin_api, stocks, body, message):
    before = table_schema_inspect("stocks")
    _refused(admin_api.post("/api/tables/stocks/columns", body, format="json"), 400, message)
    assert table_schema_inspect("stocks") == before
    assert stocks.columns.count() == 3


def test_column_update_postman_request_changes_the_rules(admin_api, stocks):
    qty = stocks.columns.get(column_name="qty")
    response = admin_api.put(f"/api/columns/{qty.pk}", POSTMAN_COLUMN_UPDATE, format="json")
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert (data["id"], data["is_mandatory"], data["data_type"]) == (qty.pk, True, "str")
    assert data["schema_changes"] == ["changed column qty from int to str(255)"]
    assert table_schema_inspect("stocks")["qty"].data_type == "str"
    qty.refresh_from_db()
    assert (qty.is_mandatory, qty.data_type) == (True, "str")


@pytest.mark.parametrize("method", ["put", "patch"])
def test_column_update_with_put_or_patch_alters_the_physical_column(admin_api, stocks, method):
    kode = stocks.columns.get(column_name="kode_barang")
    response = _send(admin_api, method, f"/api/columns/{kode.pk}", {"max_length": 50, "is_unique": True})
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data["schema_changes"] == ["changed column kode_barang from str(255) to str(50) unique"]
    assert (data["max_length"], data["is_unique"], data["is_mandatory"]) == (50, True, True)
    assert [a["alias_name"] for a in data["aliases"]] == ["Kode"]
    actual = table_schema_inspect("stocks")["kode_barang"]
    assert (actual.max_length, actual.is_unique) == (50, True)


def test_column_update_without_physical_change_reports_none(admin_api, stocks):
    do_date = stocks.columns.get(column_name="do_date")
    response = admin_api.put(
        f"/api/columns/{do_date.pk}", {"date_format": "%Y-%m-%d|%d/%m/%Y"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["data"]["schema_changes"] == []
    assert response.json()["data"]["date_format"] == "%Y-%m-%d|%d/%m/%Y"


def test_column_update_that_would_lose_values_is_refused_and_nothing_changes(admin_api, stocks):
    table = connection.ops.quote_name("stocks")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({connection.ops.quote_name('kode_barang')}) VALUES (%s)", ["A1"]
        )
    kode = stocks.columns.get(column_name="kode_barang")
    response = admin_api.put(f"/api/columns/{kode.pk}", {"data_type": "int"}, format="json")
    _refused(response, 400, "Cannot change column 'kode_barang' of stocks from str to int")
    assert table_schema_inspect("stocks")["kode_barang"].data_type == "str"
    kode.refresh_from_db()
    assert kode.data_type == "str"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Send at least one of: data_type, is_mandatory"),
        ({"data_type": "varchar"}, 'data_type: "varchar" is not a valid type'),
        ({"is_mandatory": "perhaps"}, "is_mandatory: Must be a valid boolean."),
        ({"max_length": "long"}, "max_length: A valid integer is required."),
        (
            {"role": "boss"},
            'role: "boss" is not a valid choice; use one of "distributor", "period", "amount", "export_date".',
        ),
        ({"date_format": "yyyy"}, "date_format: 'yyyy' is not a strftime format"),
    ],
    ids=["empty", "unknown-type", "not-a-boolean", "not-an-integer", "unknown-role", "bad-date-format"],
)
def test_column_update_refuses_a_bad_body(admin_api, stocks, body, message):
    do_date = stocks.columns.get(column_name="do_date")
    _refused(admin_api.put(f"/api/columns/{do_date.pk}", body, format="json"), 400, message)
    do_date.refresh_from_db()
    assert (do_date.data_type, do_date.date_format, do_date.is_mandatory) == ("date", "%d/%m/%Y", False)


def test_column_update_refuses_a_role_another_column_has(admin_api, stocks):
    kode = stocks.columns.get(column_name="kode_barang")
    assert admin_api.put(f"/api/columns/{kode.pk}", {"role": "distributor"}, format="json").status_code == 200
    qty = stocks.columns.get(column_name="qty")
    response = admin_api.put(f"/api/columns/{qty.pk}", {"role": "distributor"}, format="json")
    _refused(response, 400, "role: Column 'kode_barang' already has the role 'distributor'.")
    qty.refresh_from_db()
    assert qty.role == ""


def test_column_update_of_an_unknown_column_is_404(admin_api):
    _refused(
        admin_api.put("/api/columns/999", POSTMAN_COLUMN_UPDATE, format="json"), 404, "Column 999 not found."
    )


# --- Aliases ------------------------------------------------------------------------------------


def test_alias_add_postman_request_adds_the_alias(admin_api, stocks):
    kode = stocks.columns.get(column_name="kode_barang")
    response = admin_api.post(f"/api/columns/{kode.pk}/aliases", POSTMAN_ALIAS, format="json")
    assert response.status_code == 201, response.content
    data = response.json()["data"]
    assert (data["alias_name"], data["column"]) == ("item_code", kode.pk)
    assert Alias.objects.get(pk=data["id"]).column == kode
    listed = admin_api.get("/api/tables/stocks/columns").json()["data"][0]["aliases"]
    assert {a["alias_name"] for a in listed} == {"Kode", "item_code"}


@pytest.mark.parametrize(
    ("alias_name", "message"),
    [
        (
            "DO Date",
            "The header 'do_date' (read as 'do_date') would belong to both 'kode_barang' and 'do_date'.",
        ),
        ("do-date", "(read as 'do_date')"),
        (
            "QUANTITY",
            "The header 'Quantity' (read as 'quantity') would belong to both 'kode_barang' and 'qty'.",
        ),
        ("", "alias_name: This field may not be blank."),
        ("__", "alias_name: An alias needs at least one letter or digit."),
    ],
    ids=["other-columns-name", "other-columns-name-dashed", "other-columns-alias", "blank", "no-letters"],
)
def test_alias_add_refuses_a_header_clash_or_blank(admin_api, stocks, alias_name, message):
    kode = stocks.columns.get(column_name="kode_barang")
    response = admin_api.post(f"/api/columns/{kode.pk}/aliases", {"alias_name": alias_name}, format="json")
    _refused(response, 400, message)
    assert list(kode.aliases.values_list("alias_name", flat=True)) == ["Kode"]


def test_alias_add_refuses_a_body_without_the_field(admin_api, stocks):
    kode = stocks.columns.get(column_name="kode_barang")
    _refused(
        admin_api.post(f"/api/columns/{kode.pk}/aliases", {"alias": "x"}, format="json"),
        400,
        "alias_name: This field is required.",
    )


def test_alias_add_to_an_unknown_column_is_404(admin_api):
    _refused(
        admin_api.post("/api/columns/999/aliases", POSTMAN_ALIAS, format="json"), 404, "Column 999 not found."
    )


def test_alias_delete_postman_request_deletes_the_alias(admin_api, ids):
    response = admin_api.delete(f"/api/aliases/{ids['alias']}")
    assert response.status_code == 200
    assert response.json() == {"success": True, "message": "Alias deleted."}
    assert not Alias.objects.filter(pk=ids["alias"]).exists()
    _refused(admin_api.delete(f"/api/aliases/{ids['alias']}"), 404, f"Alias {ids['alias']} not found.")


# --- Who may do what ----------------------------------------------------------------------------

READS = [("GET", "/api/tables"), ("GET", "/api/tables/stocks/columns")]
# (method, path, body, the one permission it needs, its success status)
WRITES = [
    ("POST", "/api/tables", POSTMAN_TABLE, "tableconfig.add_importtable", 201),
    ("PUT", "/api/tables/{table}/filename", POSTMAN_FILENAME, "tableconfig.change_importtable", 200),
    ("PUT", "/api/tables/{table}", {"on_duplicate": "skip"}, "tableconfig.change_importtable", 200),
    ("PATCH", "/api/tables/{table}", {"on_duplicate": "skip"}, "tableconfig.change_importtable", 200),
    ("POST", "/api/tables/stocks/columns", POSTMAN_COLUMN, "tableconfig.add_columnconfig", 201),
    ("PUT", "/api/columns/{column}", POSTMAN_COLUMN_UPDATE, "tableconfig.change_columnconfig", 200),
    ("PATCH", "/api/columns/{column}", POSTMAN_COLUMN_UPDATE, "tableconfig.change_columnconfig", 200),
    ("POST", "/api/columns/{column}/aliases", POSTMAN_ALIAS, "tableconfig.add_alias", 201),
    ("DELETE", "/api/aliases/{alias}", None, "tableconfig.delete_alias", 200),
]
WRITE_IDS = [
    "create-table",
    "change-filename",
    "update-table",
    "patch-table",
    "add-column",
    "update-column",
    "patch-column",
    "add-alias",
    "delete-alias",
]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [(m, p, None) for m, p in READS] + [(m, p, b) for m, p, b, _, _ in WRITES],
    ids=["list-tables", "list-columns", *WRITE_IDS],
)
def test_api_refuses_anonymous_requests(api, ids, method, path, body):
    response = _send(api, method, path.format(**ids), body)
    assert response.status_code in (401, 403)
    assert response.json() == {
        "success": False,
        "error": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }


@pytest.mark.parametrize(("method", "path"), READS, ids=["list-tables", "list-columns"])
def test_api_lets_a_user_without_permissions_read(make_user, ids, method, path):
    response = _send(_login(make_user, "reader"), method, path)
    assert response.status_code == 200
    assert response.json()["success"] is True


@pytest.mark.parametrize(("method", "path", "body", "perm", "status"), WRITES, ids=WRITE_IDS)
def test_api_refuses_writes_to_a_user_without_the_permission(
    make_user, ids, method, path, body, perm, status
):
    others = [p for p in ALL_WRITE_PERMS if p != perm]
    for client in (_login(make_user, "reader"), _login(make_user, "almost", perms=others)):
        response = _send(client, method, path.format(**ids), body)
        _refused(response, 403, "You do not have permission to perform this action.")
    assert not ImportTable.objects.filter(table_name="products").exists()
    assert set(table_schema_inspect("stocks")) == {
        "id",
        "import_job_id",
        "imported_at",
        "kode_barang",
        "do_date",
        "qty",
    }
    assert Alias.objects.count() == 2
    assert ImportTable.objects.get(table_name="stocks").allowed_filename == "stock_*"
    assert ImportTable.objects.get(table_name="stocks").on_duplicate == "update"
    assert (
        not ColumnConfig.objects.get(column_name="kode_barang")
        .aliases.filter(alias_name="item_code")
        .exists()
    )


@pytest.mark.parametrize(("method", "path", "body", "perm", "status"), WRITES, ids=WRITE_IDS)
def test_api_lets_a_user_with_exactly_the_permission_write(make_user, ids, method, path, body, perm, status):
    response = _send(_login(make_user, "editor", perms=[perm]), method, path.format(**ids), body)
    assert response.status_code == status, response.content
    assert response.json()["success"] is True


def test_api_accepts_token_authentication(make_user, stocks):
    user = make_user("robot", perms=["tableconfig.add_columnconfig"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    assert client.get("/api/tables").json()["data"][0]["table_name"] == "stocks"
    assert client.post("/api/tables/stocks/columns", POSTMAN_COLUMN, format="json").status_code == 201
    assert "notes" in table_schema_inspect("stocks")
    refused = client.post("/api/tables", POSTMAN_TABLE, format="json")
    _refused(refused, 403, "You do not have permission to perform this action.")


def test_api_refuses_an_unknown_token(api, stocks):
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")
    _refused(api.get("/api/tables"), 403, "Invalid token.")


def test_api_refuses_a_method_an_endpoint_does_not_have(admin_api, ids):
    _refused(admin_api.delete("/api/tables"), 405, 'Method "DELETE" not allowed.')
    _refused(admin_api.get(f"/api/aliases/{ids['alias']}"), 405, 'Method "GET" not allowed.')


@pytest.mark.parametrize(
    ("path", "status", "form"),
    [
        ("/api/tables", 200, "table_name"),
        ("/api/tables/stocks/columns", 200, "column_name"),
        ("/api/tables/{table}", 405, "on_duplicate"),
        ("/api/columns/{column}", 405, "data_type"),
        ("/api/columns/{column}/aliases", 405, "alias_name"),
    ],
    ids=["tables", "columns", "table", "column", "aliases"],
)
def test_api_is_browsable(admin_api, ids, path, status, form):
    response = admin_api.get(path.format(**ids), HTTP_ACCEPT="text/html")
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    assert f'name="{form}"' in response.content.decode()
