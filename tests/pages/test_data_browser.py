"""The data page in a real Chromium at 1,366 px: the count, page links, search and job select; a background
export followed on the page until its download link appears, holding the direct export's rows."""

import shutil
from pathlib import Path

import pytest
from django.test import Client

from imports.models import DataExport, ExportStatus, ImportJob
from imports.services.exports_bg import data_export_run

from .conftest import login, submit

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WIDTH = 1366
SHOTS = Path("/tmp/shots")


@pytest.fixture
def expect():
    from playwright.sync_api import expect

    return expect


@pytest.fixture
def wide_page(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url, accept_downloads=True, viewport={"width": WIDTH, "height": 900}
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def imported(staff, demo_tables):
    sales = submit("sales_10k_37bad.csv", user=staff, dist_id="31001")
    products = submit("products_search.csv", user=staff, table_name="products")
    return (
        ImportJob.objects.get(batch_id=sales.batch_id, table_name="sales"),
        ImportJob.objects.get(batch_id=products.batch_id),
    )


def test_data_page_count_pages_search_and_job_filter(wide_page, expect, staff, imported):
    sales, products = imported
    page = wide_page
    login(page, staff)
    page.goto("/data/sales/")
    expect(page.locator("#row-count")).to_contain_text("9,963 rows")
    expect(page.locator("#row-count")).to_contain_text("(showing 1–100, newest first)")
    page.get_by_label("Per page").select_option("200")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#preview tbody tr")).to_have_count(200)
    page.locator(".page-links").get_by_role("link", name="50", exact=True).click()
    expect(page.locator("#row-count")).to_contain_text("(showing 9,801–9,963, newest first)")
    expect(page.locator("#preview tbody tr")).to_have_count(163)
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH

    page.goto("/data/products/")
    page.get_by_label("Search").fill("50%_")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#row-count")).to_have_text("1 row")
    expect(page.locator("#preview tbody tr td").first).to_have_text("S001")
    page.get_by_label("Search").fill("CAFÉ")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#row-count")).to_have_text("2 rows")

    page.get_by_label("Search").fill("")
    page.get_by_label("Job").select_option(str(products.pk))
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#row-count")).to_have_text("8 rows")
    expect(page.locator("#export-csv")).to_have_attribute(
        "href", f"/data/products/export.csv?q=&job={products.pk}&batch=&dist_id="
    )


def test_background_export_shows_progress_then_a_download_with_the_direct_exports_rows(
    wide_page, expect, staff, imported, settings, screenshot, tmp_path
):
    client = Client()
    client.force_login(staff)
    direct = b"".join(client.get("/data/sales/export.csv?q=C000").streaming_content)
    total = client.get("/data/sales/?q=C000").context["preview"].total
    assert 1_000 < total < 9_963
    settings.EXPORT_SYNC_MAX_ROWS = 1_000
    page = wide_page
    login(page, staff)

    # One export still running: the page follows it until its file is ready.
    running = DataExport.objects.create(
        table_name="sales", fmt="xlsx", status=ExportStatus.RUNNING, rows_total=9_963, rows_done=4_000,
        file="exports/0-sales-running.xlsx", created_by=staff,
    )  # fmt: skip
    page.goto("/data/sales/?q=C000")
    expect(page.locator("#row-count")).to_contain_text(f"{total:,} rows")
    item = page.locator(f'.export[data-export-id="{running.pk}"]')
    expect(item.locator(".export-rows")).to_have_text("4,000 / 9,963 rows")
    expect(item.locator(".bar")).to_have_attribute("aria-valuenow", "4000")
    DataExport.objects.filter(pk=running.pk).update(status=ExportStatus.QUEUED)
    data_export_run(export_id=running.pk)
    expect(item.locator(".export-status")).to_have_text("Done")
    expect(item.locator(".export-rows")).to_have_text("9,963 / 9,963 rows")
    expect(item.get_by_role("link", name="Download XLSX")).to_be_visible()

    # Over the limit, the CSV button starts a background export (run inline in the tests).
    page.locator("#export-csv").click()
    expect(page.locator(".messages")).to_contain_text(f"The CSV export of {total:,} rows is ready.")
    created = DataExport.objects.exclude(pk=running.pk).get()
    ready = page.locator(f'.export[data-export-id="{created.pk}"]')
    expect(ready.locator(".export-status")).to_have_text("Done")
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    shot = screenshot(page, "admin-data")
    SHOTS.mkdir(exist_ok=True)
    shutil.copy(shot, SHOTS / "admin-data.png")

    with page.expect_download() as info:
        ready.get_by_role("link", name="Download CSV").click()
    target = tmp_path / "export.csv"
    info.value.save_as(target)
    assert info.value.suggested_filename.startswith("sales-")
    assert target.read_bytes() == direct
