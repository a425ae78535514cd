"""Grouped row errors and a revert you can see, in a real headless Chromium at 1,366 px: the batch page groups
9,677 identical errors into one line, offers both downloads, and reverts a file only after its confirm page;
the reverted file is badged on the batch page, the batches list and admin. Screenshots: TEST_VAR/screenshots/
errors-*.png."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from imports.models import ImportJob, JobStatus
from imports.services.batches import Upload, import_batch_submit

from .conftest import DATA, STAFF_PERMS, login

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HEADER = "DistID,DO No,DO Date,Cust ID,SKU,Quantity,Amount,Export Date"


def _line(dono: str, qty: str) -> str:
    return f"31001,{dono},2026-10-01,C000123,00123,{qty},1250.50,2026-10-31 23:00:00"


@pytest.fixture
def wide_page(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url, accept_downloads=True, viewport={"width": 1366, "height": 900}
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def expect():
    from playwright.sync_api import expect

    return expect


@pytest.fixture
def batch(make_user, demo_tables):
    """A batch of two files by a staff user who may revert: sales with 9,677 identical bad quantities (the
    distributor's own headers), and products, all valid."""
    user = make_user("reverter", perms=[*STAFF_PERMS, "imports.change_importjob"], is_staff=True)
    lines = [HEADER, _line("DO1", "1"), _line("DO2", "2"), *(_line(f"B{n}", "ten") for n in range(9_677))]
    files = [
        SimpleUploadedFile("sales_many_errors.csv", ("\n".join(lines) + "\n").encode()),
        SimpleUploadedFile("products.csv", (DATA / "products.csv").read_bytes()),
    ]
    result = import_batch_submit(
        uploads=[Upload(name=f.name, chunks=f.chunks(), size=f.size) for f in files],
        mode="both",
        table_name="auto",
        dist_id="",
        user=user,
    )
    jobs = {j.original_filename: j for j in ImportJob.objects.filter(batch_id=result.batch_id)}
    assert jobs["sales_many_errors.csv"].status == JobStatus.COMPLETE
    assert jobs["products.csv"].status == JobStatus.COMPLETE
    return user, result.batch_id, jobs


def test_grouped_errors_and_a_confirmed_revert_in_the_browser(wide_page, expect, batch, screenshot, tmp_path):
    user, batch_id, jobs = batch
    page = wide_page
    login(page, user)
    page.goto(f"/batches/{batch_id}/")
    sales = page.locator(f"#file-{jobs['sales_many_errors.csv'].id}")
    groups = sales.locator(".error-group")
    expect(groups).to_have_count(1)
    expect(groups.first).to_have_text(
        'Quantity (qty): not a whole number (or out of range), 9,677 rows, e.g. row 4 "ten", row 5 "ten", '
        'row 6 "ten"'
    )
    expect(sales.locator("table.row-errors")).to_be_hidden()  # one by one only on request
    sales.get_by_text("The first 20 rejected rows one by one").click()
    expect(sales.locator("table.row-errors tbody tr").first).to_contain_text("Quantity (qty): 'ten'")
    with page.expect_download() as download_info:
        sales.get_by_role("link", name="Download rejected rows to fix (XLSX)").click()
    assert download_info.value.suggested_filename == "sales_many_errors-errors.xlsx"

    products = page.locator(f"#file-{jobs['products.csv'].id}")
    expect(page.locator(".stat", has_text="Imported").locator(".value")).to_have_text("12")
    products.get_by_role("link", name="Revert").click()
    expect(page.get_by_role("heading", name="Revert products.csv?")).to_be_visible()
    expect(page.locator("#revert-effects")).to_contain_text(
        "Deletes the 10 rows this file added to products."
    )
    screenshot(page, "errors-revert-confirm")
    assert ImportJob.objects.get(pk=jobs["products.csv"].id).reverted_at is None

    page.get_by_role("button", name="Revert this import").click()
    page.wait_for_url(f"**/batches/{batch_id}/**")
    products = page.locator(f"#file-{jobs['products.csv'].id}")
    expect(products.locator(".badge.reverted")).to_have_text("Reverted")
    expect(products).to_contain_text("10 imported, then reverted")
    expect(products.get_by_role("link", name="Revert")).to_have_count(0)
    expect(page.locator(".stat", has_text="Imported").locator(".value")).to_have_text("2")
    expect(page.locator("#batch-reverted")).to_have_text("1 file")
    expect(page.locator(f'#batch-jobs [data-job-id="{jobs["products.csv"].id}"] .job-success')).to_have_text(
        "10 reverted"
    )
    screenshot(page, "errors-batch-detail")

    page.goto("/batches/")
    row = page.locator(f'#batches tr[data-batch-id="{batch_id}"]')
    expect(row.locator(".badge.reverted")).to_have_text("1 reverted")
    screenshot(page, "errors-batches")

    page.goto("/admin/imports/importjob/")
    expect(page.locator("#result_list span.reverted")).to_have_text("Reverted")
    screenshot(page, "errors-admin-jobs")
    # The admin action asks first, listing what it would remove.
    sales_id = jobs["sales_many_errors.csv"].id
    page.locator(f'#result_list input[name="_selected_action"][value="{sales_id}"]').check()
    page.locator('select[name="action"]').select_option("revert_action")
    page.get_by_role("button", name="Go").click()
    expect(page.locator(f'#revert-jobs tr[data-job-id="{sales_id}"]')).to_contain_text(
        "sales_many_errors.csv"
    )
    screenshot(page, "errors-admin-revert-confirmation")
    assert ImportJob.objects.get(pk=sales_id).reverted_at is None
