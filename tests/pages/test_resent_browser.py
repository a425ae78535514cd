"""Re-sent files on the upload page in the real Chromium (the page posts to the API with JavaScript): an
identical file is refused with the pointer to the earlier batch; the checkbox imports it anyway."""

import pytest

from imports.models import ImportBatch, ImportJob, JobStatus

from .conftest import DATA, login

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RESENT = DATA / "resent"


@pytest.fixture
def expect():
    from playwright.sync_api import expect

    return expect


def _upload(page, expect, name: str) -> None:
    page.get_by_label("Choose files or drop them here").set_input_files(RESENT / name)
    page.get_by_label("Mode").select_option("both")
    page.get_by_role("button", name="Upload and validate").click()
    expect(page.locator("#results-table tbody tr")).to_have_count(1)


def test_upload_page_refuses_a_resent_file_and_the_checkbox_forces_it(
    page, expect, staff, demo_tables, screenshot
):
    login(page, staff)
    _upload(page, expect, "sales_oct.csv")
    expect(page.locator('#live-jobs [data-file="sales_oct.csv"] .job-status')).to_have_text(
        "Processing complete"
    )
    first = ImportJob.objects.get(original_filename="sales_oct.csv")

    page.goto("/")
    _upload(page, expect, "sales_oct_resent.csv")
    refused = page.locator('#results-table tr[data-valid="false"]')
    expect(refused.locator("td").first).to_have_text("sales_oct_resent.csv")
    expect(refused).to_contain_text(f"in batch {first.batch_id}: not imported again")
    screenshot(page, "upload-resent-refused")

    page.goto("/")
    page.get_by_label("Import even if already imported").check()
    _upload(page, expect, "sales_oct_resent.csv")
    expect(page.locator('#live-jobs [data-file="sales_oct_resent.csv"] .job-status')).to_have_text(
        "Processing complete"
    )
    expect(page.locator('#results-table tr[data-valid="true"]')).to_contain_text(
        "imported again because the upload was forced"
    )
    forced = ImportJob.objects.filter(original_filename="sales_oct_resent.csv").latest("id")
    assert forced.status == JobStatus.COMPLETE and forced.success_count == 6
    assert ImportBatch.objects.get(batch_id=forced.batch_id).forced is True

    page.goto(f"/batches/{first.batch_id}/")
    expect(page.locator("dd.sha256")).to_have_text(first.content_sha256)
