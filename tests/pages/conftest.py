"""Fixtures for the staff pages: users by permission, the demo tables, batches made through the engine, and a
headless Debian Chromium driven by Playwright against the live server."""

import os
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from imports.services.batches import Upload, import_batch_submit
from tests.compliance_scenario import three_distributors_make

DATA = Path(__file__).resolve().parent.parent / "data"
PAGES_DATA = Path(__file__).resolve().parent / "data"
CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps trying to reach Google's services.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
STAFF_PERMS = [
    "imports.add_importjob",
    "tableconfig.view_importtable",
    "tableconfig.add_importtable",
    "tableconfig.change_importtable",
    "tableconfig.add_columnconfig",
    "tableconfig.change_columnconfig",
    "tableconfig.add_alias",
    "tableconfig.delete_alias",
]


@pytest.fixture
def demo_tables(db):
    call_command("load_demo_config", verbosity=0)


@pytest.fixture
def three_distributors(demo_tables):
    """Three distributors, three months of real imports: see tests/compliance_scenario.py."""
    return three_distributors_make()


def sample(name: str, *, as_name: str | None = None) -> SimpleUploadedFile:
    path = PAGES_DATA / name if (PAGES_DATA / name).exists() else DATA / name
    return SimpleUploadedFile(as_name or name, path.read_bytes())


def submit(*names: str, user, table_name: str = "auto", dist_id: str = "", mode: str = "both"):
    """A batch through the engine, as the pages and the API make it (tasks run inline in the tests)."""
    files = [sample(n) for n in names]
    uploads = [Upload(name=f.name, chunks=f.chunks(), size=f.size) for f in files]
    return import_batch_submit(uploads=uploads, mode=mode, table_name=table_name, dist_id=dist_id, user=user)


@pytest.fixture
def staff(make_user):
    return make_user("staff", perms=STAFF_PERMS, is_staff=True)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


# --- The browser -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module; Playwright is stopped afterwards so no event loop outlives these tests."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: `make test` installs Debian's chromium (scripts/setup.sh test)."
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread, which Django's ORM takes for async code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url, accept_downloads=True, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot():
    """Save a full-page PNG under TEST_VAR/screenshots/ and return its path."""
    folder = Path(settings.TEST_VAR) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def login(page, user, password: str | None = None) -> None:
    page.goto("/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(password or f"pw-{user.username}")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"^https?://[^/]+/$"))
