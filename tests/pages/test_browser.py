"""The staff pages in a real headless Chromium (Debian's) against the live server, tasks running inline:
upload a ZIP and watch it import, open the batch, download its errors; configure a table and import into it.
Each page is saved as a screenshot under TEST_VAR/screenshots/."""

import csv
import io
import re
import zipfile

import pytest
from django.db import connection

from imports.models import ImportJob, JobStatus
from tableconfig.models import ImportTable

from .conftest import DATA, login

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def expect():
    from playwright.sync_api import expect

    return expect


@pytest.fixture
def distributor_zip(tmp_path):
    """Two good files (one with 37 bad rows) and one whose name belongs to no table."""
    path = tmp_path / "distributor_upload.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name in ("sales_10k_37bad.csv", "products.csv", "unknown_name.csv"):
            archive.write(DATA / name, arcname=name)
    return path


def test_upload_zip_follow_batch_and_download_errors(
    page, expect, staff, demo_tables, distributor_zip, screenshot, tmp_path
):
    login(page, staff)
    expect(page.get_by_role("heading", name="Upload files")).to_be_visible()
    page.get_by_label("Choose files or drop them here").set_input_files(distributor_zip)
    expect(page.locator("#chosen-files li")).to_have_text(
        [f"distributor_upload.zip · {_kb(distributor_zip)} KB"]
    )
    page.get_by_label("Target table").select_option("auto")
    page.get_by_label("Mode").select_option("both")
    screenshot(page, "upload")

    page.get_by_role("button", name="Upload and validate").click()

    # The validation results, at once: two valid files, one refused with the engine's reason.
    results = page.locator("#results-table tbody tr")
    expect(results).to_have_count(3)
    expect(page.locator('#results-table tr[data-valid="true"] td:first-child')).to_have_text(
        ["sales_10k_37bad.csv", "products.csv"]
    )
    invalid = page.locator('#results-table tr[data-valid="false"]')
    expect(invalid.locator("td").first).to_have_text("unknown_name.csv")
    expect(invalid.locator(".badge")).to_have_text("Invalid")

    # The live view: one bar per file until each import completes.
    jobs = page.locator("#live-jobs")
    for name in ("sales_10k_37bad.csv", "products.csv"):
        expect(jobs.locator(f'[data-file="{name}"] .job-status')).to_have_text("Processing complete")
        expect(jobs.locator(f'[data-file="{name}"] .bar > span')).to_have_attribute("style", "width: 100%;")
    expect(jobs.locator('[data-file="unknown_name.csv"] .job-status')).to_have_text("Validation failed")
    expect(jobs.locator('[data-file="sales_10k_37bad.csv"] .job-counts')).to_contain_text("37 rejected")
    expect(jobs.locator('[data-file=""] .job-status')).to_have_text("Skipped (file not uploaded)")
    expect(page.locator("#live-status")).to_have_text("Completed with errors")
    screenshot(page, "upload-progress")

    # The batch page: statuses, counts, summary, row errors, the missing file.
    page.get_by_role("link", name="Open batch").click()
    expect(page.get_by_role("heading", name="Progress")).to_be_visible()
    batch_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    sales = page.locator("section.file", has=page.get_by_role("heading", name="sales_10k_37bad.csv"))
    expect(sales).to_contain_text("Total sales")
    expect(sales).to_contain_text("9,963 imported")
    expect(sales.locator("table.row-errors tbody tr")).to_have_count(20)
    expect(page.locator("#missing")).to_contain_text("stocks")
    screenshot(page, "batch-detail")

    with page.expect_download() as download_info:
        sales.get_by_role("link", name="Download as CSV (safe to open)").click()
    download = download_info.value
    assert download.suggested_filename == "sales_10k_37bad-errors.csv"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    assert rows[0][:2] == ["row", "errors"] and len(rows) == 1 + 37

    page.get_by_role("link", name="Batches", exact=True).first.click()
    expect(page.locator(f'#batches tr[data-batch-id="{batch_id}"] .badge')).to_have_text(
        "Completed with errors"
    )
    screenshot(page, "batches")

    jobs = {j.original_filename: j for j in ImportJob.objects.filter(batch_id=batch_id)}
    assert jobs["sales_10k_37bad.csv"].status == JobStatus.COMPLETE
    assert jobs["unknown_name.csv"].status == JobStatus.VALIDATION_FAILED


def test_upload_works_with_javascript_off(browser, live_server, expect, staff, demo_tables, screenshot):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    try:
        login(page, staff)
        page.get_by_label("Choose files or drop them here").set_input_files(
            [DATA / "sales_small.csv", DATA / "unknown_name.csv"]
        )
        page.get_by_role("button", name="Upload and validate").click()
        expect(page.locator(".messages")).to_have_text("1 of 2 files passed validation.")
        expect(page.locator('#results-table tr[data-valid="false"]')).to_contain_text(
            "Filename not recognized"
        )
        screenshot(page, "upload-no-js")
        page.get_by_role("link", name="Follow the import on the batch page").click()
        sales = page.locator("section.file", has=page.get_by_role("heading", name="sales_small.csv"))
        expect(sales.locator(".badge")).to_have_text("Processing complete")
        expect(page.locator("#batch-status")).to_have_text("Completed with errors")
    finally:
        context.close()


def _kb(path) -> str:
    return f"{-(-path.stat().st_size // 1024):,}"


def test_configure_table_with_alias_then_import_a_file_using_it(page, expect, staff, db, screenshot):
    login(page, staff)
    page.get_by_role("link", name="Configuration").click()
    page.get_by_role("link", name="New table").click()
    page.get_by_label("Table name").fill("customers")
    page.get_by_label("Display name").fill("Customers")
    page.get_by_label("Allowed file names").fill("customers_*")
    names = ["distid", "custid", "customer_name", "city"]
    page.get_by_role("button", name="Add another column").click()
    rows = page.locator('[data-formset="columns"] tbody tr')
    expect(rows).to_have_count(4)
    for index, name in enumerate(names):
        rows.nth(index).get_by_label("Column name").fill(name)
    rows.nth(3).get_by_label("Mandatory").uncheck()
    # Only the rules of the chosen type show: a date column has formats, no length.
    rows.nth(3).get_by_label("Type").select_option("date")
    expect(rows.nth(3).get_by_label("Max length")).to_be_hidden()
    rows.nth(3).get_by_label("Type").select_option("str")
    screenshot(page, "config-create")
    page.get_by_role("button", name="Create table").click()

    expect(page.locator(".messages")).to_have_text("Table customers created with 4 columns.")
    row = page.locator('#columns tr[data-column="customer_name"]')
    row.get_by_label("New alias for customer_name").fill("custname")
    row.get_by_role("button", name="Add").click()
    expect(page.locator(".messages")).to_have_text("Alias 'custname' added to customer_name.")
    expect(page.locator('#columns tr[data-column="customer_name"] .chip')).to_contain_text("custname")
    screenshot(page, "config-table")

    # The file's header says custname: the alias maps it to customer_name.
    page.get_by_role("link", name="Upload", exact=True).click()
    page.get_by_label("Choose files or drop them here").set_input_files(DATA / "customers_cp1252.csv")
    page.get_by_role("button", name="Upload and validate").click()
    expect(page.locator("#results-table tbody tr td").nth(1)).to_have_text("customers")
    expect(page.locator('#live-jobs [data-file="customers_cp1252.csv"] .job-status')).to_have_text(
        "Processing complete"
    )
    table = ImportTable.objects.get(table_name="customers")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT custid, customer_name, city FROM {connection.ops.quote_name(table.table_name)} ORDER BY id"
        )
        assert cursor.fetchall()[0] == ("C000123", "José Muñoz", "Jakarta")

    page.goto(f"/data/{table.table_name}/")
    expect(page.locator("#preview tbody tr")).to_have_count(3)
    expect(page.locator("#preview")).to_contain_text("José Muñoz")
    screenshot(page, "data-preview")
    page.goto("/config/")
    screenshot(page, "config-list")


def test_login_page_and_logout(page, expect, staff, screenshot):
    page.goto("/batches/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/batches/$"))
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    screenshot(page, "login")
    page.get_by_label("Username").fill(staff.username)
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".form-errors")).to_contain_text("Please enter a correct username and password")
    page.get_by_label("Password").fill(f"pw-{staff.username}")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Batches")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
