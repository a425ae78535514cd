"""The staff workflow in a real headless Chromium at 1366 px: the upload page's modes and expected names, a
dry run's result on the batch page and its "Import the checked files" button, and a Retry after a fix.
Screenshots go to TEST_VAR/screenshots/workflow-*.png."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from imports.models import ImportJob, JobStatus
from tableconfig.models import ColumnConfig
from tableconfig.services import alias_create

from .conftest import DATA, login

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WORKFLOW = DATA / "workflow"


@pytest.fixture
def expect():
    from playwright.sync_api import expect

    return expect


@pytest.fixture
def wide_page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()


def table_count(name: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(name)}")
        return cursor.fetchone()[0]


def test_dry_run_from_the_upload_page_then_import_the_checked_files(
    wide_page, expect, staff, demo_tables, screenshot
):
    page = wide_page
    login(page, staff)
    help_card = page.locator("#upload-help")
    expect(help_card.locator("#mode-descriptions dt")).to_have_text(
        [
            "Validate, then import (default)",
            "Dry run: check every row, load nothing",
            "Validate and import",
            "Quick check only",
        ]
    )
    expect(help_card.locator('#expected-names tr[data-table="sales"] td').nth(1)).to_have_text(
        "sales, sales_*"
    )
    page.get_by_label("Choose files or drop them here").set_input_files(WORKFLOW / "sales_bad_rows_2_26.csv")
    page.get_by_label("Mode").select_option("dry_run")
    screenshot(page, "workflow-upload")

    page.get_by_role("button", name="Upload and validate").click()
    expect(page.locator("#live-status")).to_have_text("Checked")
    page.get_by_role("link", name="Open batch").click()
    expect(page.get_by_role("heading", name="Dry run checked")).to_be_visible()
    section = page.locator("section.file", has=page.get_by_role("heading", name="sales_bad_rows_2_26.csv"))
    expect(section.locator("table.row-errors tbody tr td:first-child")).to_have_text(["2", "26"])
    expect(section).to_contain_text("Dry run: 28 of 30 rows are valid")
    assert table_count("sales") == 0
    screenshot(page, "workflow-dry-run")

    page.get_by_role("button", name="Import the checked files").click()
    expect(page.locator(".messages")).to_contain_text("Importing 1 checked file in the background.")
    expect(section.locator(".badge")).to_have_text("Processing complete")
    expect(section).to_contain_text("28 imported · 2 rejected")
    expect(page.get_by_role("button", name="Import the checked files")).to_have_count(0)
    screenshot(page, "workflow-imported")
    assert table_count("sales") == 28


def test_retry_button_after_an_alias_fix_completes_the_file(
    wide_page, expect, staff, demo_tables, screenshot
):
    from imports.services.batches import Upload, import_batch_submit

    name = "sales_unknown_date_header.csv"
    upload = SimpleUploadedFile(name, (WORKFLOW / name).read_bytes())
    batch = import_batch_submit(
        uploads=[Upload(name=name, chunks=upload.chunks(), size=upload.size)], mode="both", user=staff
    )
    job = ImportJob.objects.get(batch_id=batch.batch_id, original_filename=name)
    assert job.status == JobStatus.VALIDATION_FAILED
    page = wide_page
    login(page, staff)
    page.goto(f"/batches/{batch.batch_id}/")
    section = page.locator(f"#file-{job.id}")
    expect(section.get_by_role("button", name="Retry")).to_be_visible()
    screenshot(page, "workflow-retry-before")

    alias_create(
        column=ColumnConfig.objects.get(table__table_name="sales", column_name="dotanggal"),
        alias_name="tgl_kirim",
    )
    section.get_by_role("button", name="Retry").click()
    expect(page.locator(".messages")).to_contain_text(re.compile(r"passed validation and is queued"))
    expect(section.locator(".badge")).to_have_text("Processing complete")
    expect(section.get_by_role("button", name="Retry")).to_have_count(0)
    screenshot(page, "workflow-retry-after")
    assert table_count("sales") == 5
