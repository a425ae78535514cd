"""A revert you can see: every revert is confirmed first (admin's intermediate page, the batch page's confirm
form), and a reverted file shows as reverted everywhere: batch page, batches list, admin and the API, with the
batch's totals no longer counting it."""

import pytest

from imports.models import ImportJob

from .conftest import table_count, upload
from .test_revert import imported

pytestmark = pytest.mark.django_db(transaction=True)

REVERT_PERM = ["imports.change_importjob"]


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


@pytest.fixture
def two_files(admin_api, demo_tables) -> tuple[ImportJob, ImportJob]:
    """One batch of two imported files: sales (10 rows) and products (10 rows)."""
    response = admin_api.post(
        "/api/import",
        {"files": [upload("sales_small.csv"), upload("products.csv")], "mode": "full"},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    batch_id = response.json()["data"]["batch_id"]
    sales = ImportJob.objects.get(batch_id=batch_id, original_filename="sales_small.csv")
    products = ImportJob.objects.get(batch_id=batch_id, original_filename="products.csv")
    assert sales.success_count == 10 and products.success_count == 10
    return sales, products


def test_admin_revert_action_asks_first_and_changes_nothing_until_confirmed(
    admin_user, client, admin_api, demo_tables
):
    job = imported(admin_api, "sales_small.csv")
    client.force_login(admin_user)
    asked = client.post(
        "/admin/imports/importjob/", {"action": "revert_action", "_selected_action": [job.pk]}
    )
    assert asked.status_code == 200
    assert [t.name for t in asked.templates][0] == "admin/imports/importjob/revert_confirmation.html"
    text = asked.content.decode()
    assert "Revert the selected imports?" in text
    assert f'<tr data-job-id="{job.pk}">' in text and "sales_small.csv" in text
    assert "<td>10</td><td>0</td>" in text  # 10 rows deleted, none restored
    assert 'name="post" value="yes"' in text and f'name="_selected_action" value="{job.pk}"' in text
    assert table_count("sales") == 10
    job.refresh_from_db()
    assert job.reverted_at is None

    done = client.post(
        "/admin/imports/importjob/",
        {"action": "revert_action", "_selected_action": [job.pk], "post": "yes"},
        follow=True,
    )
    assert [str(m) for m in done.context["messages"]] == [
        "sales_small.csv: Deleted 10 rows this import wrote from sales."
    ]
    assert table_count("sales") == 0
    listing = _page(client, "/admin/imports/importjob/")
    assert '<span class="reverted"' in listing and ">Reverted</span>" in listing


def test_admin_confirmation_says_which_jobs_cannot_be_reverted(admin_user, client, admin_api, demo_tables):
    products = imported(admin_api, "products.csv", table_name="products")
    update = imported(admin_api, "products_update.csv", table_name="products")
    client.force_login(admin_user)
    text = client.post(
        "/admin/imports/importjob/", {"action": "revert_action", "_selected_action": [products.pk]}
    ).content.decode()
    assert f"Later imports changed its rows: job {update.pk} (the revert will be refused)" in text
    text = client.post(
        "/admin/imports/importjob/", {"action": "revert_cascade_action", "_selected_action": [products.pk]}
    ).content.decode()
    assert f"job {update.pk} (reverted first)" in text
    assert table_count("products") == 11


def test_page_revert_get_shows_the_confirm_form_and_changes_nothing(admin_user, client, two_files):
    sales, _ = two_files
    client.force_login(admin_user)
    batch_page = _page(client, f"/batches/{sales.batch_id}/")
    confirm_url = f"/batches/{sales.batch_id}/files/{sales.id}/revert/"
    assert f'href="{confirm_url}"' in batch_page
    text = _page(client, confirm_url)
    assert 'Revert <span class="mono">sales_small.csv</span>?' in text
    assert "Deletes the <strong>10</strong> rows this file added to sales." in text
    assert f'<form method="post" action="{confirm_url}">' in text
    assert table_count("sales") == 10
    sales.refresh_from_db()
    assert sales.reverted_at is None


def test_page_revert_post_reverts_and_the_file_shows_as_reverted_everywhere(
    admin_user, admin_api, client, two_files
):
    sales, products = two_files
    client.force_login(admin_user)
    before = admin_api.get(f"/api/jobs/{sales.batch_id}").json()["data"]
    assert (before["success_count"], before["total_rows"], before["reverted_files"]) == (20, 20, 0)

    response = client.post(f"/batches/{sales.batch_id}/files/{sales.id}/revert/")
    assert response.status_code == 302
    assert response["Location"] == f"/batches/{sales.batch_id}/#file-{sales.id}"
    assert table_count("sales") == 0 and table_count("products") == 10
    sales.refresh_from_db()
    assert sales.reverted_by == admin_user

    # The batch page: a badge, the counts as reverted, no second Revert button, totals without it.
    page = client.get(f"/batches/{sales.batch_id}/", follow=True)
    text = page.content.decode()
    assert "Reverted sales_small.csv: Deleted 10 rows this import wrote from sales." in text
    section = text[text.index(f'id="file-{sales.id}"') :]
    section = section[: section.index("</section>")]
    assert '<span class="badge reverted">Reverted</span>' in section
    assert "10 imported, then reverted" in section and "Reverted by admin on" in section
    assert f"/files/{sales.id}/revert/" not in text
    assert f"/files/{products.id}/revert/" in text
    live = text[text.index(f'data-job-id="{sales.id}"') :]
    assert "10 reverted" in live[: live.index("</li>")]
    stats = page.context["batch"]
    assert (stats["success_count"], stats["total_rows"], stats["reverted_files"]) == (10, 10, 1)

    # The batches list: a badge, and the totals without the reverted file.
    listing = _page(client, "/batches/")
    row = listing[listing.index(f'data-batch-id="{sales.batch_id}"') :]
    row = row[: row.index("</tr>")]
    assert '<span class="badge reverted">1 reverted</span>' in row
    assert '<td class="num">10</td>' in row and '<td class="num">20</td>' not in row

    # The API: reverted_at / reverted_by on the file, the totals without it.
    batch = admin_api.get(f"/api/jobs/{sales.batch_id}").json()["data"]
    assert (batch["success_count"], batch["total_rows"], batch["reverted_files"]) == (10, 10, 1)
    files = {f["filename"]: f for f in batch["files"]}
    assert files["sales_small.csv"]["reverted"] is True
    assert files["sales_small.csv"]["reverted_at"] == sales.reverted_at.isoformat()
    assert files["sales_small.csv"]["reverted_by"] == "admin"
    assert files["products.csv"]["reverted_at"] is None and files["products.csv"]["reverted_by"] is None
    listed = admin_api.get("/api/jobs").json()["data"]
    assert next(b for b in listed if b["batch_id"] == str(sales.batch_id))["success_count"] == 10
    details = {d["filename"]: d for d in admin_api.get(f"/api/jobs/{sales.batch_id}/details").json()["data"]}
    assert details["sales_small.csv"]["reverted_by"] == "admin"


def test_page_revert_twice_says_it_was_reverted(admin_user, client, two_files):
    sales, _ = two_files
    client.force_login(admin_user)
    client.post(f"/batches/{sales.batch_id}/files/{sales.id}/revert/")
    again = client.post(f"/batches/{sales.batch_id}/files/{sales.id}/revert/")
    assert again.status_code == 400
    assert f"Job {sales.id} was already reverted on" in again.content.decode()


def test_page_revert_needs_the_revert_permission(client, make_user, two_files):
    sales, _ = two_files
    viewer = make_user("viewer", is_staff=True)
    client.force_login(viewer)
    batch_page = _page(client, f"/batches/{sales.batch_id}/")
    assert "/revert/" not in batch_page
    url = f"/batches/{sales.batch_id}/files/{sales.id}/revert/"
    assert client.get(url).status_code == 403
    refused = client.post(url)
    assert refused.status_code == 403
    assert (
        "You do not have permission to revert imports (imports.change_importjob)." in refused.content.decode()
    )
    assert table_count("sales") == 10

    reverter = make_user("reverter", perms=REVERT_PERM, is_staff=True)
    client.force_login(reverter)
    assert f'href="{url}"' in _page(client, f"/batches/{sales.batch_id}/")
    assert client.post(url).status_code == 302
    assert table_count("sales") == 0


def test_page_revert_of_another_users_job_is_404(client, make_user, two_files):
    sales, _ = two_files
    outsider = make_user("outsider", perms=REVERT_PERM)
    client.force_login(outsider)
    assert client.post(f"/batches/{sales.batch_id}/files/{sales.id}/revert/").status_code == 404
    assert table_count("sales") == 10
