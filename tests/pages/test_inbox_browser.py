"""The inbox page in the real Chromium, after real scans of a real inbox folder: the folder's scan, the file
still settling, the file taken with a link to its batch, and that batch among the inbox batches."""

from __future__ import annotations

import os
import time

import pytest
from django.core.management import call_command
from django.utils import timezone

from imports.models import Distributor, ImportBatch
from imports.services.inbox_folders import inbox_folders_scan

from .conftest import DATA, login

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def expect():
    from playwright.sync_api import expect

    return expect


def _written(path, content: bytes, *, age: float) -> None:
    path.write_bytes(content)
    then = time.time() - age
    os.utime(path, (then, then))


def test_inbox_page_in_chromium_shows_a_real_scan(page, expect, make_user, settings, tmp_path, screenshot):
    call_command("load_demo_config", verbosity=0)
    settings.INBOX_DIR = str(tmp_path / "inbox")
    settings.INBOX_SETTLE_SECONDS = 30
    Distributor.objects.create(code="31001", name="Sumber Makmur")
    folder = tmp_path / "inbox" / "31001"
    folder.mkdir(parents=True)
    _written(folder / "sales_small.csv", (DATA / "sales_small.csv").read_bytes(), age=120)
    for _ in range(3):  # seen twice unchanged: taken (imported inline in the tests); the third scan moves it
        inbox_folders_scan(now=timezone.now())
    _written(folder / "stock_dec.csv", b"distid,sku\n31001,A1\n", age=1)  # just written: settling
    inbox_folders_scan(now=timezone.now())
    assert list((folder / "processed").glob("*/sales_small.csv"))
    batch = ImportBatch.objects.get(source="inbox")

    viewer = make_user("inbox-staff", perms=["imports.view_inboxclaim"], is_staff=True)
    login(page, viewer)
    page.get_by_role("link", name="Inbox", exact=True).click()
    expect(page.get_by_role("heading", name="Inbox", exact=True)).to_be_visible()
    row = page.locator('#inbox-folders tr[data-source="31001"]')
    expect(row).to_contain_text("stock_dec.csv")
    expect(page.locator("#inbox-recent")).to_contain_text("sales_small.csv")
    expect(page.locator("#inbox-recent")).to_contain_text("Done")
    screenshot(page, "inbox")
    page.locator("#inbox-recent").get_by_role("link", name=str(batch.batch_id)[:8]).click()
    expect(page.locator("body")).to_contain_text("sales_small.csv")

    page.goto("/inbox/")
    page.get_by_role("link", name="Inbox batches").click()
    expect(page.locator("#batches tbody tr")).to_have_count(1)
    expect(page.locator("#batches tbody tr")).to_contain_text("Inbox folder")
