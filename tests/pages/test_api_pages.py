"""The API's own pages in a real headless Chromium: Swagger UI's "Try it out" on the upload pre-fills a check
that loads nothing (mode quick, table auto, no distributor), and the browsable API's upload form sends files
that are imported. Screenshots under TEST_VAR/screenshots/ (api-*.png)."""

import pytest

from imports.models import ImportJob, JobStatus

from .conftest import DATA, login

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def wide(page):
    page.set_viewport_size({"width": 1366, "height": 900})
    return page


def test_swagger_try_it_out_prefills_a_quick_check_of_the_upload(wide, staff, demo_tables, screenshot):
    page = wide
    login(page, staff)
    page.goto("/api/docs/")
    operation = page.locator("#operations-import-import_create")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    mode = operation.locator('tr[data-property-name="mode"]')
    assert mode.locator("select").input_value() == "quick"
    assert operation.locator('tr[data-property-name="table_name"] input[type="text"]').input_value() == "auto"
    assert operation.locator('tr[data-property-name="dist_id"] input[type="text"]').input_value() == ""
    assert operation.locator('tr[data-property-name="files"] input[type="file"]').count() >= 1
    path = screenshot(page, "api-swagger-import-try-it-out")
    operation.locator(
        ".parameters-container, .opblock-section-request-body"
    ).first.scroll_into_view_if_needed()
    page.screenshot(path=str(path))  # the operation's form, not the whole document


def test_browsable_upload_form_imports_the_chosen_file(wide, staff, demo_tables, screenshot):
    page = wide
    login(page, staff)
    page.goto("/api/import")
    form = page.locator('form[enctype="multipart/form-data"]')
    form.locator('input[type="file"][name="files"]').set_input_files(str(DATA / "sales_small.csv"))
    form.locator('select[name="mode"]').select_option("full")
    form.locator('input[name="dist_id"]').fill("31001")
    screenshot(page, "api-browsable-import-form")
    form.get_by_role("button", name="POST").click()
    page.wait_for_selector("text=Import job started")
    screenshot(page, "api-browsable-import-answer")
    (job,) = ImportJob.objects.exclude(status=JobStatus.SKIPPED)
    assert (job.original_filename, job.status, job.success_count) == (
        "sales_small.csv",
        JobStatus.COMPLETE,
        10,
    )
