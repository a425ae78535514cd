"""The distributors page (/distributors/): login and imports.view_distributor, each distributor's obligations
in words, contacts, last upload and links to its batches and its compliance; in the real Chromium too. And the
admin: its form refuses what the service refuses, and the jobs and batches lists filter by distributor."""

import html
import re

import pytest
from django.utils import timezone

from imports.models import Distributor, ImportBatch, ImportJob
from imports.services.distributors import distributor_create

from .conftest import login, submit

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def distributors(demo_tables):
    sumber = distributor_create(
        code="31001",
        name="PT Sumber Makmur",
        contact_emails=["data@sumber.example", "boss@sumber.example"],
        tables=["stocks", "sales"],
        due_day=10,
    )
    distributor_create(code="42001", name="CV Empat Dua", is_active=False, cadence="weekly", due_day=5)
    return sumber


@pytest.fixture
def viewer(make_user):
    return make_user("viewer", perms=["imports.view_distributor"])


def test_distributors_page_needs_login_and_permission(client, make_user, distributors):
    assert client.get("/distributors/").url == "/accounts/login/?next=/distributors/"
    client.force_login(make_user("nobody"))
    refused = client.get("/distributors/")
    assert refused.status_code == 403
    assert "You do not have permission to see the distributors (imports.view_distributor)." in html.unescape(
        refused.content.decode()
    )
    assert 'href="/distributors/"' not in client.get("/batches/").content.decode()


def test_distributors_page_lists_obligations_contacts_and_links(client, viewer, distributors):
    batch = submit("sales_small.csv", user=viewer, dist_id="31001", mode="quick")
    uploaded = ImportBatch.objects.get(batch_id=batch.batch_id).created_at
    client.force_login(viewer)
    page = client.get("/distributors/")
    assert page.status_code == 200
    text = html.unescape(page.content.decode())
    assert 'href="/distributors/" aria-current="page">Distributors</a>' in text
    rows = re.findall(r'<tr data-code="([^"]+)">(.*?)</tr>', text, re.S)
    assert [code for code, _ in rows] == ["31001", "42001"]
    sumber, empat = (re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for _, row in rows)
    assert sumber == (
        "31001 PT Sumber Makmur Active sales, stocks - monthly, due day 10 of the following month "
        f"data@sumber.example , boss@sumber.example {timezone.localtime(uploaded):%Y-%m-%d %H:%M} Batches Compliance"
    )
    assert (
        empat
        == "42001 CV Empat Dua Inactive nothing (weekly, due Friday of the following week) — Never Batches Compliance"
    )
    assert 'href="/batches/?distributor=31001"' in text
    assert 'href="/compliance/?distributor=31001"' in text


# --- In the real Chromium ------------------------------------------------------------------------------


@pytest.fixture
def expect():
    from playwright.sync_api import expect

    return expect


@pytest.mark.slow
def test_distributors_page_in_chromium_links_to_the_batches(page, expect, staff, distributors, screenshot):
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(Permission.objects.get(codename="view_distributor"))
    submit("sales_small.csv", "stock_jan.csv", user=staff, dist_id="31001")
    login(page, staff)
    page.get_by_role("link", name="Distributors").click()
    expect(page.get_by_role("heading", name="Distributors")).to_be_visible()
    row = page.locator('tr[data-code="31001"]')
    expect(row).to_contain_text("sales, stocks - monthly, due day 10 of the following month")
    expect(row.get_by_role("link", name="data@sumber.example")).to_have_attribute(
        "href", "mailto:data@sumber.example"
    )
    expect(page.locator('tr[data-code="42001"]')).to_contain_text("Never")
    screenshot(page, "distributors")
    row.get_by_role("link", name="Batches").click()
    expect(page).to_have_url(re.compile(r"/batches/\?distributor=31001$"))
    expect(page.get_by_label("Distributor", exact=True)).to_have_value("31001")
    expect(page.locator("#batches tbody tr")).to_have_count(1)
    expect(page.locator("#batches tbody tr")).to_contain_text("31001")


# --- The admin -------------------------------------------------------------------------------------------


def _admin_form(**changes) -> dict:
    return {
        "code": "31001",
        "name": "PT Sumber Makmur",
        "is_active": "on",
        "contact_emails": "data@sumber.example\nboss@sumber.example, data@sumber.example",
        "cadence": "monthly",
        "due_day": "10",
        "obligations_from": "",
        **changes,
    }


def test_distributor_admin_saves_through_the_service_rules(admin_client, demo_tables):
    from tableconfig.models import ImportTable

    sales = ImportTable.objects.get(table_name="sales")
    answer = admin_client.post(
        "/admin/imports/distributor/add/", _admin_form(tables=[sales.pk], cadence="daily", due_day="20")
    )
    assert answer.status_code == 302, answer.context["adminform"].form.errors
    stored = Distributor.objects.get()
    assert (stored.contact_emails, stored.due_day, [t.table_name for t in stored.tables.all()]) == (
        ["data@sumber.example", "boss@sumber.example"],
        1,
        ["sales"],
    )
    listing = html.unescape(admin_client.get("/admin/imports/distributor/").content.decode())
    assert "due the next day" in listing and ">sales<" in listing


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"contact_emails": "ok@example.com nope"},
            "contact_emails",
            "'nope' is not a valid e-mail address.",
        ),
        ({"code": "31 001"}, "code", "'31 001' is not a code: 1 to 50 letters, digits, '-', '_' or '.'."),
        (
            {"cadence": "weekly", "due_day": "9"},
            "due_day",
            "9 is not a due day for a weekly cadence: from 1 to 7 (1 = Monday ... 7 = Sunday).",
        ),
    ],
    ids=["email", "code", "weekly-day"],
)
def test_distributor_admin_refuses_what_the_service_refuses(
    admin_client, demo_tables, changes, field, message
):
    answer = admin_client.post("/admin/imports/distributor/add/", _admin_form(**changes))
    assert answer.status_code == 200
    assert answer.context["adminform"].form.errors == {field: [message]}
    assert not Distributor.objects.exists()


def test_jobs_and_batches_admin_filter_by_distributor(admin_client, admin_user, distributors):
    submit("sales_small.csv", user=admin_user, dist_id="31001", mode="quick")
    submit("sales_small.csv", user=admin_user, dist_id="31001")
    other = distributor_create(code="77", name="Seven")
    batches = admin_client.get("/admin/imports/importbatch/", {"distributor__id__exact": distributors.pk})
    assert batches.status_code == 200 and batches.context["cl"].result_count == 2
    assert (
        admin_client.get("/admin/imports/importbatch/", {"distributor__id__exact": other.pk})
        .context["cl"]
        .result_count
        == 0
    )
    jobs = admin_client.get("/admin/imports/importjob/", {"distributor__id__exact": distributors.pk})
    assert jobs.status_code == 200 and jobs.context["cl"].result_count == 2  # sales imported, stocks missing
    job = ImportJob.objects.filter(distributor=distributors).first()
    shown = html.unescape(admin_client.get(f"/admin/imports/importjob/{job.pk}/change/").content.decode())
    label = re.search(r"Distributor:</label>\s*<div class=\"readonly\">(.*?)</div>", shown, re.S)
    assert label and re.sub(r"<[^>]+>", "", label.group(1)).strip() == "31001 (PT Sumber Makmur)"


def test_upload_form_says_when_the_distributor_is_required(staff_client, settings, demo_tables):
    optional = html.unescape(staff_client.get("/").content.decode())
    assert "Optional: every file's distributor column must start with it." in optional
    distributor_create(code="31001", name="Sumber")
    required = html.unescape(staff_client.get("/").content.decode())
    assert "Required: the code of a distributor (see Distributors)" in required
    settings.DISTRIBUTORS_REQUIRED = "off"
    assert "Optional: every file's" in html.unescape(staff_client.get("/").content.decode())
