"""Map headers once, in a real headless Chromium at 1,366 px: a refused file's unmatched headers with their
selects on the batch page; saving creates the alias and re-runs the file (tasks run inline)."""

import shutil
from pathlib import Path

import pytest

from imports.models import ImportJob, JobStatus
from tableconfig.models import Alias
from tableconfig.services import alias_delete
from tests.imports.conftest import table_count

from .conftest import login, submit

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/tmp/shots")


@pytest.fixture
def wide_page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()


def _shot(screenshot, page, name: str) -> None:
    path = screenshot(page, name)
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SHOTS / f"{name}.png")


def test_batch_page_maps_do_date_and_reruns_the_file(wide_page, staff, demo_tables, screenshot):
    from playwright.sync_api import expect

    page = wide_page
    alias_delete(alias=Alias.objects.get(column__table__table_name="sales", alias_name="do_date"))
    batch = submit("sales_aliases.csv", "products.csv", user=staff)
    job = ImportJob.objects.get(batch_id=batch.batch_id, original_filename="sales_aliases.csv")
    assert job.status == JobStatus.VALIDATION_FAILED

    login(page, staff)
    page.goto(f"/batches/{batch.batch_id}/")
    mapping = page.locator(f"#file-{job.id}-mapping")
    expect(mapping.get_by_role("heading", name="Headers no column reads")).to_be_visible()
    do_date = mapping.get_by_label("DO Date")
    expect(do_date.locator("option")).to_have_text(["(leave ignored)", "dotanggal — mandatory, missing"])
    expect(mapping.get_by_label("Remark")).to_be_visible()
    # Nothing to map for the file that matched.
    expect(page.locator("[data-mapping]")).to_have_count(1)
    do_date.select_option("dotanggal")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    _shot(screenshot, page, "mapping-batch")

    mapping.get_by_role("button", name="Save aliases and re-run this file").click()

    expect(page.locator(".messages")).to_contain_text(
        "Saved DO Date -> dotanggal; sales_aliases.csv is checked again and queued."
    )
    section = page.locator(f"#file-{job.id}")
    expect(section.locator(".card-head .badge")).to_have_text("Processing complete")
    expect(section).to_contain_text("5 imported")
    expect(page.locator("[data-mapping]")).to_have_count(0)
    _shot(screenshot, page, "mapping-saved")
    assert Alias.objects.filter(column__column_name="dotanggal", alias_name="DO Date").exists()
    assert table_count("sales") == 5
