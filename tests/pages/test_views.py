"""The staff pages through Django's test client: login, permissions, the upload form without JavaScript,
the batch pages and their filters, the data preview and its exports, and the configuration pages."""

import csv
import datetime as dt
import html
import io
import uuid

import pytest
from django.db import connection
from openpyxl import load_workbook

from imports import views
from imports.models import ImportJob, JobStatus
from tableconfig.models import Alias, ColumnConfig, ImportTable

from .conftest import sample, submit

pytestmark = pytest.mark.django_db(transaction=True)


def page_text(response) -> str:
    return html.unescape(response.content.decode())


def rows_count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
        return cursor.fetchone()[0]


def csv_rows(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


# --- Login and permissions -------------------------------------------------------------------------

PAGES = [
    "/",
    "/batches/",
    f"/batches/{uuid.uuid4()}/",
    "/data/",
    "/data/products/",
    "/data/products/export.csv",
    "/data/products/export.xlsx",
    "/config/",
    "/config/tables/new/",
    "/config/tables/1/",
    "/config/tables/1/columns/new/",
    "/config/columns/1/",
    "/config/columns/1/aliases/",
    "/config/aliases/1/delete/",
]


@pytest.mark.parametrize("url", PAGES)
def test_pages_send_anonymous_users_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_login_page_logs_in_and_lands_on_upload(client, make_user):
    make_user("clerk", perms=["imports.add_importjob"])
    page = client.get("/accounts/login/?next=/")
    assert page.status_code == 200
    assert 'for="id_username"' in page.content.decode()
    response = client.post("/accounts/login/", {"username": "clerk", "password": "pw-clerk", "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert "Upload files" in page_text(home)
    logout = client.post("/accounts/logout/")
    assert logout.status_code == 302
    assert client.get("/").status_code == 302


def test_user_without_upload_permission_cannot_upload(client, make_user, demo_tables):
    client.force_login(make_user("viewer"))
    page = client.get("/")
    assert page.status_code == 403
    assert "You do not have permission to upload files (imports.add_importjob)." in page_text(page)
    response = client.post("/", {"files": [sample("sales_small.csv")], "mode": "both", "table_name": "auto"})
    assert response.status_code == 403
    assert not ImportJob.objects.exists()
    assert rows_count("sales") == 0
    # Batches are for every logged-in user; the nav offers only what the user may do.
    batches = client.get("/batches/")
    assert batches.status_code == 200
    assert 'href="/config/"' not in batches.content.decode()
    assert 'href="/data/"' not in batches.content.decode()


@pytest.mark.parametrize(
    ("perms", "url", "missing"),
    [
        ([], "/config/", "tableconfig.change_importtable"),
        (["tableconfig.change_importtable"], "/config/tables/new/", "tableconfig.add_importtable"),
        (["tableconfig.change_importtable"], "/config/columns/1/", "tableconfig.change_columnconfig"),
        (["tableconfig.add_alias"], "/config/tables/1/", "tableconfig.change_importtable"),
    ],
    ids=["config-list", "create-table", "edit-column", "table-page"],
)
def test_configuration_pages_need_their_permissions(client, make_user, perms, url, missing):
    client.force_login(make_user("clerk", perms=perms))
    response = client.get(url)
    assert response.status_code == 403
    assert missing in page_text(response)


def test_configuration_post_without_permission_changes_nothing(client, make_user, demo_tables):
    client.force_login(make_user("clerk", perms=["tableconfig.change_importtable"]))
    column = ColumnConfig.objects.get(table__table_name="products", column_name="sku")
    response = client.post(f"/config/columns/{column.pk}/aliases/", {"alias_name": "item_code"})
    assert response.status_code == 403
    assert not column.aliases.exists()
    alias = Alias.objects.filter(column__table__table_name="sales").first()
    assert client.post(f"/config/aliases/{alias.pk}/delete/").status_code == 403
    assert Alias.objects.filter(pk=alias.pk).exists()


@pytest.mark.parametrize("url", ["/data/", "/data/products/", "/data/products/export.csv"])
def test_data_pages_need_view_permission_or_staff(client, make_user, demo_tables, url):
    client.force_login(make_user("clerk", perms=["imports.add_importjob"]))
    response = client.get(url)
    assert response.status_code == 403
    assert "tableconfig.view_importtable" in page_text(response)
    client.force_login(make_user("boss", is_staff=True))
    assert client.get(url).status_code == 200


# --- Upload without JavaScript -------------------------------------------------------------------


def test_upload_form_lists_active_tables(staff_client, demo_tables):
    ImportTable.objects.filter(table_name="stocks").update(is_active=False)
    text = page_text(staff_client.get("/"))
    assert '<option value="auto" selected>Auto (from the file name)</option>' in text
    assert '<option value="sales">Sales Lines (sales)</option>' in text
    assert 'value="stocks"' not in text
    assert 'accept=".csv,.txt,.xlsx,.xlsm,.xls,.ods,.zip"' in text and "multiple" in text


def test_upload_without_javascript_shows_results_and_imports(staff_client, staff, demo_tables):
    response = staff_client.post(
        "/",
        {
            "files": [sample("sales_small.csv"), sample("products.csv"), sample("unknown_name.csv")],
            "mode": "both",
            "table_name": "auto",
            "dist_id": "",
        },
    )
    assert response.status_code == 200
    text = page_text(response)
    assert "2 of 3 files passed validation." in text
    job = ImportJob.objects.get(original_filename="sales_small.csv")
    assert job.uploaded_by == staff
    assert job.status == JobStatus.COMPLETE
    assert rows_count("sales") == 10 and rows_count("products") == 10
    results = response.context["batch"].results
    assert [(r.filename, r.valid) for r in results] == [
        ("sales_small.csv", True),
        ("products.csv", True),
        ("unknown_name.csv", False),
    ]
    assert results[2].error in text
    assert f'href="/batches/{job.batch_id}/"' in text


def test_upload_without_files_shows_the_engine_message(staff_client, demo_tables):
    response = staff_client.post("/", {"mode": "both", "table_name": "auto"})
    assert response.status_code == 400
    assert "No files provided." in page_text(response)
    assert not ImportJob.objects.exists()


def test_upload_of_only_unsupported_files_lists_the_warnings(staff_client, demo_tables):
    response = staff_client.post("/", {"files": [sample("report.pdf")], "mode": "both", "table_name": "auto"})
    text = page_text(response)
    assert "No valid data files to process." in text
    assert "report.pdf: Unsupported file type '.pdf'. Skipped." in text


def test_upload_quick_mode_validates_only(staff_client, demo_tables):
    response = staff_client.post(
        "/", {"files": [sample("sales_small.csv")], "mode": "quick", "table_name": "sales"}
    )
    text = page_text(response)
    assert "1 of 1 files passed validation." in text
    assert "Follow the import on the batch page" not in text
    assert not ImportJob.objects.exists()
    assert rows_count("sales") == 0


# --- Batches ---------------------------------------------------------------------------------------


@pytest.fixture
def three_batches(staff, demo_tables):
    first = submit("sales_small.csv", user=staff, dist_id="31001")
    second = submit("products.csv", user=staff)
    third = submit("unknown_name.csv", user=staff, dist_id="31001")
    return first.batch_id, second.batch_id, third.batch_id


def listed(response) -> list[str]:
    return [b["batch_id"] for b in response.context["batches"]]


def test_batch_list_newest_first(staff_client, three_batches):
    first, second, third = three_batches
    response = staff_client.get("/batches/")
    assert listed(response) == [str(third), str(second), str(first)]
    text = page_text(response)
    assert "Completed" in text and "Failed" in text
    assert f'href="/batches/{first}/"' in text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("dist_id=31001", [2, 0]),
        ("table_name=products", [1]),
        ("status=failed", [2]),
        ("status=completed", [1, 0]),
        ("status=completed&table_name=sales", [0]),
        ("created_after={today}&created_before={today}", [2, 1, 0]),
        ("created_after={tomorrow}", []),
        ("created_before={yesterday}", []),
    ],
    ids=["dist", "table", "failed", "completed", "combined", "today", "after", "before"],
)
def test_batch_list_filters(staff_client, three_batches, query, expected):
    from django.utils import timezone

    today = timezone.localdate()
    query = query.format(
        today=today, tomorrow=today + dt.timedelta(days=1), yesterday=today - dt.timedelta(days=1)
    )
    response = staff_client.get(f"/batches/?{query}")
    assert response.status_code == 200
    assert listed(response) == [str(three_batches[i]) for i in expected]


def test_batch_list_rejects_a_reversed_date_range(staff_client, three_batches):
    response = staff_client.get("/batches/?created_after=2026-02-01&created_before=2026-01-01")
    assert "The 'From' date is after the 'To' date." in page_text(response)
    assert listed(response) == []


def test_batch_list_pages_keep_the_filters(staff_client, three_batches, monkeypatch):
    monkeypatch.setattr(views, "BATCHES_PER_PAGE", 2)
    first, second, third = three_batches
    page1 = staff_client.get("/batches/?dist_id=")
    assert listed(page1) == [str(third), str(second)]
    assert 'href="?dist_id=&amp;page=2"' in page1.content.decode()
    page2 = staff_client.get("/batches/?dist_id=&page=2")
    assert listed(page2) == [str(first)]
    assert page2.context["has_next"] is False
    assert 'href="?dist_id=&amp;page=1"' in page2.content.decode()


def test_batch_list_shows_only_the_users_own_batches(client, make_user, three_batches):
    client.force_login(make_user("other", perms=["imports.add_importjob"]))
    assert listed(client.get("/batches/")) == []
    assert client.get(f"/batches/{three_batches[0]}/").status_code == 404


def test_batch_detail_shows_summary_row_errors_and_missing_files(staff_client, staff, demo_tables):
    batch = submit("sales_10k_37bad.csv", user=staff)
    job = ImportJob.objects.get(batch_id=batch.batch_id, original_filename="sales_10k_37bad.csv")
    assert job.status == JobStatus.COMPLETE and job.error_count == 37
    response = staff_client.get(f"/batches/{batch.batch_id}/")
    assert response.status_code == 200
    text = page_text(response)
    assert "Completed with errors" in text
    assert "Processing complete" in text
    assert "Total sales" in text and "Period" in text and "Export date" in text
    assert job.summary["period_start"] in text
    assert job.notes in text
    assert "Rejected rows" in text and "The first 20 rejected rows one by one" in text
    assert len(response.context["files"][0]["row_errors"]) == 20
    errors_url = f"/api/jobs/{batch.batch_id}/files/{job.id}/errors.csv"
    assert f'href="{errors_url}"' in text
    download = staff_client.get(errors_url)
    assert download.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode("utf-8-sig"))))
    assert len(rows) == 1 + 37
    # The demo tables that expect files nobody uploaded: status 0, with what was expected.
    assert "Expected files not uploaded" in text
    assert "File not uploaded: expected stock, stocks, stock_*" in text
    assert [j.table_name for j in response.context["missing"]] == ["products", "stocks"]
    # Finished: no polling, no refresh.
    assert "data-poll" not in text and 'http-equiv="refresh"' not in text


def test_batch_detail_polls_while_the_batch_runs(staff_client, staff, demo_tables):
    batch = submit("sales_small.csv", user=staff)
    ImportJob.objects.filter(batch_id=batch.batch_id, original_filename="sales_small.csv").update(
        status=JobStatus.PROCESSING
    )
    text = page_text(staff_client.get(f"/batches/{batch.batch_id}/"))
    assert f'data-poll="/api/jobs/{batch.batch_id}"' in text
    assert '<meta http-equiv="refresh" content="3">' in text


def test_old_paths_redirect(staff_client, three_batches):
    assert staff_client.get("/batch")["Location"] == "/batches/"
    assert staff_client.get(f"/batch/{three_batches[0]}")["Location"] == f"/batches/{three_batches[0]}/"
    assert staff_client.get("/master-config")["Location"] == "/config/"


# --- Data preview and export ---------------------------------------------------------------------


@pytest.fixture
def formula_batch(staff, demo_tables):
    """Products whose names a spreadsheet would run as formulas, and a negative price."""
    batch = submit("products_formula.csv", user=staff, table_name="products")
    assert ImportJob.objects.get(batch_id=batch.batch_id).status == JobStatus.COMPLETE
    return batch


NEUTRALISED = [
    ["F001", '\'=HYPERLINK("http://x")', "10.0000"],
    ["F002", "'+1+2", "-5.5000"],
    ["F003", "'-3 apples", "0.0000"],
    ["F004", "'@SUM(A1)", "1.2500"],
    ["F005", "Plain product", "2.0000"],
]


def test_csv_export_holds_the_rows_with_formulas_neutralised(staff_client, formula_batch):
    response = staff_client.get("/data/products/export.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="products-')
    rows = csv_rows(response)
    assert rows[0] == ["sku", "product_name", "price", "import_job_id", "imported_at"]
    job = ImportJob.objects.get(batch_id=formula_batch.batch_id)
    assert [r[:3] for r in rows[1:]] == NEUTRALISED
    assert {r[3] for r in rows[1:]} == {str(job.id)}
    assert all(dt.datetime.fromisoformat(r[4]) for r in rows[1:])


def test_xlsx_export_holds_the_rows_with_formulas_neutralised(staff_client, formula_batch):
    response = staff_client.get("/data/products/export.xlsx")
    assert response.status_code == 200
    assert response["Content-Type"] == views.XLSX_CONTENT_TYPE
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = book["products"]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == ["sku", "product_name", "price", "import_job_id", "imported_at"]
    assert [r[:2] for r in rows[1:]] == [r[:2] for r in NEUTRALISED]
    # Text that looks like a formula is stored as text; numbers stay numbers, negative ones too.
    assert [sheet.cell(row=i, column=2).data_type for i in range(2, 7)] == ["s"] * 5
    assert [float(r[2]) for r in rows[1:]] == [10.0, -5.5, 0.0, 1.25, 2.0]
    assert sheet.cell(row=3, column=3).data_type == "n"
    assert isinstance(rows[1][4], dt.datetime)


def test_exports_follow_the_filters(staff_client, staff, formula_batch):
    other = submit("sales_small.csv", user=staff, dist_id="31001")
    job = ImportJob.objects.get(batch_id=other.batch_id, original_filename="sales_small.csv")
    assert len(csv_rows(staff_client.get("/data/sales/export.csv"))) == 1 + 10
    assert len(csv_rows(staff_client.get(f"/data/sales/export.csv?batch={other.batch_id}"))) == 1 + 10
    assert len(csv_rows(staff_client.get(f"/data/sales/export.csv?batch={formula_batch.batch_id}"))) == 1
    assert len(csv_rows(staff_client.get(f"/data/sales/export.csv?job={job.id}"))) == 1 + 10
    # sales has a distributor column: the filter reads it.
    assert len(csv_rows(staff_client.get("/data/sales/export.csv?dist_id=31001"))) == 1 + 10
    assert len(csv_rows(staff_client.get("/data/sales/export.csv?dist_id=99999"))) == 1
    # products has none: the filter goes by the distributor the upload declared.
    assert len(csv_rows(staff_client.get("/data/products/export.csv?dist_id=31001"))) == 1
    xlsx = staff_client.get(f"/data/sales/export.xlsx?job={job.id}")
    book = load_workbook(io.BytesIO(b"".join(xlsx.streaming_content)), read_only=True)
    assert len(list(book["sales"].iter_rows(values_only=True))) == 1 + 10
    assert staff_client.get("/data/sales/export.csv?batch=not-a-uuid").status_code == 400


def test_csv_export_abandoned_midway_leaves_the_connection_usable(staff_client, staff, demo_tables):
    """A client that stops reading closes the stream; the server-side cursor must not block the connection."""
    submit("sales_10k_37bad.csv", user=staff)
    response = staff_client.get("/data/sales/export.csv")
    chunks = iter(response.streaming_content)
    assert next(chunks).startswith("\ufeffdistid,".encode())
    assert next(chunks).count(b"\n") == 2_000
    response.close()
    assert ImportJob.objects.filter(status=JobStatus.COMPLETE).count() == 1
    assert rows_count("sales") == 9_963


def test_preview_shows_the_latest_rows_newest_first(staff_client, formula_batch):
    response = staff_client.get("/data/products/")
    assert response.status_code == 200
    rows = response.context["preview"].rows
    assert [r[0] for r in rows] == ["F005", "F004", "F003", "F002", "F001"]
    text = page_text(response)
    assert '=HYPERLINK("http://x")' in text
    assert 'href="/data/products/export.csv"' in text
    filtered = staff_client.get(f"/data/products/?batch={formula_batch.batch_id}&dist_id=")
    assert f'href="/data/products/export.xlsx?batch={formula_batch.batch_id}&amp;dist_id="' in (
        filtered.content.decode()
    )
    assert staff_client.get("/data/nope/").status_code == 404


def test_preview_keeps_at_most_100_rows(staff_client, staff, demo_tables):
    submit("sales_10k_37bad.csv", user=staff)
    preview = staff_client.get("/data/sales/").context["preview"]
    assert len(preview.rows) == 100 and preview.truncated


# --- Configuration -------------------------------------------------------------------------------


def column_row(index: int, name: str, data_type: str = "str", **extra) -> dict:
    row = {
        "column_name": name,
        "data_type": data_type,
        "is_mandatory": "on",
        "max_length": "255",
        "decimal_digits": "18",
        "decimal_places": "4",
        "date_format": "",
        "role": "",
        "aliases": "",
        **extra,
    }
    return {f"columns-{index}-{key}": value for key, value in row.items() if value is not None}


# The settings of the new table form as the page first shows them.
TABLE_SETTINGS_DEFAULTS = {
    "on_duplicate": "update",
    "decimal_separator": ".",
    "thousands_separator": "",
    "distributor_match": "prefix",
    "distributor_prefix_length": "2",
}


def table_post(table_name: str, *rows: dict, extra_forms: int = 1) -> dict:
    data = {
        "table_name": table_name,
        "display_name": "",
        "allowed_filename": "customers_*",
        "description": "",
        "is_active": "on",
        **TABLE_SETTINGS_DEFAULTS,
        "columns-TOTAL_FORMS": str(len(rows) + extra_forms),
        "columns-INITIAL_FORMS": "0",
        "columns-MIN_NUM_FORMS": "0",
        "columns-MAX_NUM_FORMS": "1000",
    }
    for index in range(len(rows), len(rows) + extra_forms):
        data.update(column_row(index, "", is_mandatory=None))
    for row in rows:
        data.update(row)
    return data


def test_config_create_table_with_columns_and_aliases(staff_client, db):
    data = table_post(
        "customers",
        column_row(0, "distid", role="distributor"),
        column_row(1, "custid", aliases="customer_id, cust_id"),
        column_row(2, "since", "date", date_format="%d/%m/%Y", is_mandatory=None),
        extra_forms=2,
    )
    response = staff_client.post("/config/tables/new/", data)
    table = ImportTable.objects.get(table_name="customers")
    assert response.status_code == 302 and response["Location"] == f"/config/tables/{table.pk}/"
    columns = list(table.columns.order_by("position").values_list("column_name", "data_type", "is_mandatory"))
    assert columns == [("distid", "str", True), ("custid", "str", True), ("since", "date", False)]
    assert sorted(Alias.objects.filter(column__table=table).values_list("alias_name", flat=True)) == [
        "cust_id",
        "customer_id",
    ]
    assert rows_count("customers") == 0
    page = page_text(staff_client.get(response["Location"]))
    assert "Table customers created with 3 columns." in page
    assert "customer_id" in page and "%d/%m/%Y" in page


@pytest.mark.parametrize(
    ("table_name", "rows", "message"),
    [
        (
            "customers",
            [column_row(0, "custid"), column_row(1, "customer_id", aliases="")],
            None,
        ),
        (
            "customers",
            [column_row(0, "custid", aliases="cust_no"), column_row(1, "cust_no")],
            "The header 'cust_no' (read as 'cust_no') would belong to both 'custid' and 'cust_no'.",
        ),
        (
            "select",
            [column_row(0, "custid")],
            "table_name: 'select' is a reserved SQL word and cannot be a table name.",
        ),
        (
            "customers",
            [column_row(0, "a", "int", role="amount"), column_row(1, "b", "int", role="amount")],
            "role: Column 'a' already has the role 'amount'.",
        ),
        ("customers", [], "Add at least one column."),
        (
            "customers",
            [column_row(0, "custid", role="period")],
            "role: The role 'period' needs a column of type date or datetime; 'custid' is of type str.",
        ),
        (
            "customers",
            [column_row(0, "since", "date", date_format="%d/%m/%Y|%d.%m.%Q")],
            "date_format: '%d.%m.%Q' is not a date format the import can read",
        ),
        (
            "customers",
            [column_row(0, "since", "datetime", date_format="%Y-%m-%d %H:%M %Z")],
            "time zones are not stored",
        ),
        (
            "customers",
            [column_row(0, "custid", aliases="Customer, CUSTOMER")],
            "The alias 'CUSTOMER' (read as 'customer') repeats the alias 'Customer' of 'custid'.",
        ),
    ],
    ids=[
        "ok",
        "header-clash",
        "reserved-word",
        "role-twice",
        "no-columns",
        "role-on-text",
        "unknown-directive",
        "time-zone",
        "alias-repeated",
    ],
)
def test_config_create_table_refusals_show_the_service_message(staff_client, db, table_name, rows, message):
    response = staff_client.post("/config/tables/new/", table_post(table_name, *rows))
    if message is None:
        assert response.status_code == 302
        return
    assert response.status_code == 200
    assert message in page_text(response)
    assert not ImportTable.objects.filter(table_name=table_name).exists()


def test_config_create_table_with_its_settings_and_a_rounding_column(staff_client, db):
    data = table_post("ledger", column_row(0, "total", "decimal", decimal_places="2", round_decimals="on"))
    data.update(
        on_duplicate="reject",
        decimal_separator=",",
        thousands_separator=" ",
        distributor_match="exact",
        distributor_prefix_length="5",
    )
    response = staff_client.post("/config/tables/new/", data)
    assert response.status_code == 302, page_text(response)
    table = ImportTable.objects.get(table_name="ledger")
    settings = ("on_duplicate", "decimal_separator", "thousands_separator", "distributor_match")
    assert [getattr(table, name) for name in settings] == ["reject", ",", " ", "exact"]
    assert table.distributor_prefix_length == 5
    assert table.columns.get().round_decimals is True
    page = page_text(staff_client.get(response["Location"]))
    assert "Rounds decimals" in page
    assert '<option value="reject" selected>' in page and '<option value=" " selected>' in page


def test_config_create_table_refuses_clashing_separators(staff_client, db):
    data = table_post("ledger", column_row(0, "total", "decimal"))
    data.update(decimal_separator=",", thousands_separator=",")
    response = staff_client.post("/config/tables/new/", data)
    assert response.status_code == 200
    assert (
        "thousands_separator: The thousands separator cannot be the decimal separator (','): "
        "a number such as 1.234 would read two ways."
    ) in page_text(response)
    assert not ImportTable.objects.exists()


def test_config_new_table_form_offers_every_setting(staff_client, db):
    text = page_text(staff_client.get("/config/tables/new/"))
    for name in ("on_duplicate", "decimal_separator", "thousands_separator", "distributor_match"):
        assert f'name="{name}"' in text
    assert 'name="distributor_prefix_length" value="2"' in text
    assert '<option value="update" selected>Update the existing row in place</option>' in text
    assert 'name="columns-0-round_decimals"' in text


@pytest.mark.parametrize(
    "changes",
    [
        {"on_duplicate": "skip"},
        {"decimal_separator": ",", "thousands_separator": "."},
        {"thousands_separator": "'"},
        {"distributor_match": "exact", "distributor_prefix_length": "6"},
    ],
    ids=["skip-duplicates", "comma-decimals", "apostrophe-thousands", "exact-distributor"],
)
def test_config_edit_table_settings(staff_client, demo_tables, changes):
    table = ImportTable.objects.get(table_name="sales")
    url = f"/config/tables/{table.pk}/"
    initial = staff_client.get(url).context["form"].initial
    data = {k: v for k, v in {**initial, **changes}.items() if v is not False}
    data = {k: "on" if v is True else str(v) for k, v in data.items()}
    response = staff_client.post(url, data)
    assert response.status_code == 302, page_text(response)
    table.refresh_from_db()
    assert {name: str(getattr(table, name)) for name in changes} == changes
    assert "Table sales saved." in page_text(staff_client.get(url))


def test_config_column_edit_sets_round_decimals(staff_client, demo_tables):
    column = ColumnConfig.objects.get(table__table_name="sales", column_name="amount_jual")
    edit = staff_client.get(f"/config/columns/{column.pk}/")
    assert 'name="round_decimals"' in edit.content.decode()
    data = {k: v for k, v in edit.context["form"].initial.items() if v not in (False, None)}
    response = staff_client.post(f"/config/columns/{column.pk}/", {**data, "round_decimals": "on"})
    assert response.status_code == 302
    column.refresh_from_db()
    assert column.round_decimals is True


def test_config_edit_allowed_file_names(staff_client, demo_tables):
    table = ImportTable.objects.get(table_name="stocks")
    url = f"/config/tables/{table.pk}/"
    data = {
        "display_name": table.display_name,
        "allowed_filename": "stock, stocks, stock_*, gudang_*",
        "description": "",
        "is_active": "on",
        **TABLE_SETTINGS_DEFAULTS,
    }
    response = staff_client.post(url, data)
    assert response.status_code == 302
    table.refresh_from_db()
    assert table.filename_entries == ["stock", "stocks", "stock_*", "gudang_*"]
    assert "Table stocks saved." in page_text(staff_client.get(url))


def test_config_add_column_then_edit_it(staff_client, demo_tables):
    table = ImportTable.objects.get(table_name="products")
    response = staff_client.post(
        f"/config/tables/{table.pk}/columns/new/",
        {
            "column_name": "barcode",
            "data_type": "str",
            "max_length": "64",
            "decimal_digits": "18",
            "decimal_places": "4",
            "date_format": "",
            "role": "",
        },
    )
    assert response.status_code == 302
    column = table.columns.get(column_name="barcode")
    assert (column.max_length, column.is_mandatory, column.position) == (64, False, 4)
    edit = staff_client.get(f"/config/columns/{column.pk}/")
    assert edit.status_code == 200
    data = {**edit.context["form"].initial, "max_length": "128", "is_mandatory": "on"}
    data = {k: v for k, v in data.items() if v not in (False, None)}
    response = staff_client.post(f"/config/columns/{column.pk}/", data)
    assert response.status_code == 302
    column.refresh_from_db()
    assert (column.max_length, column.is_mandatory) == (128, True)
    text = page_text(staff_client.get(response["Location"]))
    assert "Column barcode saved. Database: changed column barcode from str(64) to str(128)." in text


def test_config_refused_column_change_shows_the_service_message(staff_client, staff, demo_tables):
    submit("products.csv", user=staff)
    column = ColumnConfig.objects.get(table__table_name="products", column_name="product_name")
    edit = staff_client.get(f"/config/columns/{column.pk}/")
    data = {k: v for k, v in edit.context["form"].initial.items() if v not in (False, None)}
    response = staff_client.post(f"/config/columns/{column.pk}/", {**data, "data_type": "int"})
    assert response.status_code == 400
    assert (
        "Cannot change column 'product_name' of products from str to int: it holds 10 values that may not "
        "convert. Empty the column first, or add a new column."
    ) in page_text(response)
    column.refresh_from_db()
    assert column.data_type == "str"


def test_config_add_and_delete_alias(staff_client, demo_tables):
    table = ImportTable.objects.get(table_name="products")
    column = table.columns.get(column_name="product_name")
    response = staff_client.post(f"/config/columns/{column.pk}/aliases/", {"alias_name": "Nama Barang"})
    assert response.status_code == 302 and response["Location"] == f"/config/tables/{table.pk}/"
    alias = column.aliases.get()
    assert alias.alias_name == "Nama Barang"
    assert "Alias 'Nama Barang' added to product_name." in page_text(staff_client.get(response["Location"]))
    refused = staff_client.post(f"/config/columns/{column.pk}/aliases/", {"alias_name": "SKU"}, follow=True)
    assert "The header 'SKU' (read as 'sku') would belong to both 'sku' and 'product_name'." in page_text(
        refused
    )
    staff_client.post(f"/config/aliases/{alias.pk}/delete/")
    assert not column.aliases.exists()
    assert staff_client.get(f"/config/aliases/{alias.pk}/delete/").status_code == 405


def test_config_list_links_each_table(staff_client, demo_tables):
    text = page_text(staff_client.get("/config/"))
    for table in ImportTable.objects.all():
        assert f'href="/config/tables/{table.pk}/"' in text
    assert 'href="/config/tables/new/"' in text
