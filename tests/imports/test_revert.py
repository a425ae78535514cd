"""Reverting an import: POST /api/jobs/<batch_id>/files/<job_id>/revert and the service behind it."""

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from imports.models import ImportJob, JobStatus
from imports.services.revert import RevertRefused, import_job_revert, import_jobs_revert
from tableconfig.models import ImportTable

from .conftest import table_count, table_rows, upload

pytestmark = pytest.mark.django_db(transaction=True)


def imported(client, name: str, **fields) -> ImportJob:
    response = client.post(
        "/api/import", {"files": [upload(name)], "mode": "full", **fields}, format="multipart"
    )
    assert response.status_code == 202, response.content
    job = ImportJob.objects.get(batch_id=response.json()["data"]["batch_id"], original_filename=name)
    assert job.status == JobStatus.COMPLETE, job.error_message
    return job


def revert_url(job: ImportJob) -> str:
    return f"/api/jobs/{job.batch_id}/files/{job.id}/revert"


def test_revert_deletes_exactly_the_rows_of_that_job(admin_api, admin_user, demo_tables):
    first = imported(admin_api, "sales_small.csv")
    second = imported(admin_api, "sales_dist42.csv")
    kept = table_rows("sales", "dono, distid, import_job_id")

    response = admin_api.post(revert_url(first))

    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert response.json()["success"] is True
    assert (data["deleted_rows"], data["replaced_by_later_jobs"], data["overwritten_before"]) == (10, 0, 0)
    assert data["later_job_ids"] == [] and data["reverted_by"] == "admin"
    assert data["message"] == "Deleted 10 rows this import wrote from sales."
    assert table_rows("sales", "dono, distid, import_job_id") == [r for r in kept if r[2] == second.id]
    assert table_count("sales") == second.success_count == 6
    first.refresh_from_db()
    assert first.status == JobStatus.COMPLETE and first.reverted_at is not None
    assert first.reverted_by == admin_user and first.revert_notes == data["message"]
    assert first.notes.startswith("Processed 10 rows")
    assert "\nReverted by admin on " in first.notes and first.notes.endswith(data["message"])


def test_revert_is_blocked_by_a_later_import_that_changed_its_rows(admin_api, demo_tables):
    products = imported(admin_api, "products.csv", table_name="products")
    update = imported(admin_api, "products_update.csv", table_name="products")
    after_update = table_rows("products", "id, sku, product_name, price, import_job_id", order="sku")

    response = admin_api.post(revert_url(products))

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "revert_blocked" and body["later_job_ids"] == [update.id]
    assert f"revert job {update.id} first" in body["error"]
    assert table_rows("products", "id, sku, product_name, price, import_job_id", order="sku") == after_update
    products.refresh_from_db()
    assert products.reverted_at is None


def test_revert_after_an_update_restores_the_old_values_with_their_ids(admin_api, demo_tables):
    imported(admin_api, "products.csv", table_name="products")
    before = table_rows("products", "id, sku, product_name, price, import_job_id", order="sku")
    update = imported(admin_api, "products_update.csv", table_name="products")

    data = admin_api.post(revert_url(update)).json()["data"]

    assert (data["deleted_rows"], data["restored_rows"], data["overwritten_before"]) == (1, 6, 0)  # P011 new
    assert data["message"] == (
        "Deleted 1 rows this import wrote from products. Restored 6 rows it had updated to their previous values."
    )
    assert table_rows("products", "id, sku, product_name, price, import_job_id", order="sku") == before


def test_revert_with_cascade_reverts_later_imports_first(admin_api, demo_tables):
    products = imported(admin_api, "products.csv", table_name="products")
    update = imported(admin_api, "products_update.csv", table_name="products")

    response = admin_api.post(revert_url(products), {"cascade": True}, format="json")

    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data["later_job_ids"] == [update.id]
    assert data["message"].startswith(f"First reverted the later imports job {update.id}.")
    assert table_count("products") == 0
    update.refresh_from_db()
    assert update.reverted_at is not None


def test_revert_twice_is_400_already_reverted(admin_api, demo_tables):
    job = imported(admin_api, "sales_small.csv")
    assert admin_api.post(revert_url(job)).status_code == 200
    imported(admin_api, "sales_small.csv")

    response = admin_api.post(revert_url(job))

    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False and body["code"] == "already_reverted"
    assert "already reverted" in body["error"]
    assert table_count("sales") == 10


def test_revert_of_a_job_that_is_not_complete_is_400(admin_api, demo_tables):
    response = admin_api.post("/api/import", {"files": [upload("sales_missing_cols.csv")], "mode": "full"})
    failed = ImportJob.objects.get(original_filename="sales_missing_cols.csv")
    skipped = ImportJob.objects.get(batch_id=failed.batch_id, table_name="products")
    assert response.status_code == 422 and failed.status == JobStatus.VALIDATION_FAILED
    for job in (failed, skipped):
        body = admin_api.post(revert_url(job)).json()
        assert body["success"] is False and body["code"] == "not_complete"
        assert "Only a completed import can be reverted" in body["error"]
        job.refresh_from_db()
        assert job.reverted_at is None


@pytest.mark.parametrize(
    "path",
    [
        "/api/jobs/{batch}/files/999999/revert",
        "/api/jobs/{other}/files/{job}/revert",
        "/api/jobs/not-a-uuid/files/{job}/revert",
    ],
    ids=["unknown-job", "other-batch", "bad-batch-id"],
)
def test_revert_unknown_job_is_404_in_the_envelope(admin_api, demo_tables, path):
    job = imported(admin_api, "sales_small.csv")
    response = admin_api.post(path.format(batch=job.batch_id, other=uuid.uuid4(), job=job.id))
    assert response.status_code == 404
    assert response.json() == {"success": False, "error": "Job not found.", "code": "not_found"}
    assert table_count("sales") == 10


def test_revert_of_another_users_job_is_404_without_staff(api, make_user, demo_tables):
    owner = make_user("owner", perms=["imports.add_importjob", "imports.change_importjob"])
    other = make_user("other", perms=["imports.change_importjob"])
    api.force_authenticate(owner)
    job = imported(api, "sales_small.csv")

    api.force_authenticate(other)
    assert api.post(revert_url(job)).status_code == 404
    assert table_count("sales") == 10

    api.force_authenticate(owner)
    assert api.post(revert_url(job)).json()["data"]["reverted_by"] == "owner"
    assert table_count("sales") == 0


def test_revert_needs_the_change_permission(api, make_user, demo_tables):
    uploader = make_user("uploader", perms=["imports.add_importjob"])
    api.force_authenticate(uploader)
    job = imported(api, "sales_small.csv")

    response = api.post(revert_url(job))

    assert response.status_code == 403
    assert "imports.change_importjob" in response.json()["error"]
    assert table_count("sales") == 10


def test_revert_is_one_transaction(admin_user, demo_tables, admin_api):
    job = imported(admin_api, "sales_small.csv")
    never_saved = get_user_model()(username="ghost")

    # Recording the revert fails after the DELETE ran: the rows must come back with the rollback.
    with pytest.raises(ValueError):
        import_job_revert(job=job, user=never_saved)

    assert table_count("sales") == 10
    job.refresh_from_db()
    assert job.reverted_at is None and job.revert_notes == ""


def test_revert_after_the_table_configuration_was_deleted(admin_api, demo_tables):
    job = imported(admin_api, "sales_small.csv")
    ImportTable.objects.filter(table_name="sales").delete()
    job.refresh_from_db()
    assert job.table is None

    result = import_job_revert(job=job, user=None)

    assert result.deleted_rows == 10 and table_count("sales") == 0
    job.refresh_from_db()
    assert job.reverted_by is None and "Reverted by system" in job.notes


def test_revert_when_the_physical_table_is_gone_is_refused(admin_api, demo_tables):
    job = imported(admin_api, "sales_small.csv")
    with connection.schema_editor() as editor:
        editor.execute(f"DROP TABLE {editor.quote_name('sales')}")

    with pytest.raises(RevertRefused) as refused:
        import_job_revert(job=job, user=None)

    assert refused.value.code == "table_missing"
    job.refresh_from_db()
    assert job.reverted_at is None


def test_jobs_revert_newest_first_and_reports_refusals(admin_api, admin_user, demo_tables):
    products = imported(admin_api, "products.csv", table_name="products")
    update = imported(admin_api, "products_update.csv", table_name="products")
    import_job_revert(job=update, user=admin_user)

    attempts = import_jobs_revert(
        jobs=ImportJob.objects.filter(pk__in=[products.pk, update.pk]), user=admin_user
    )

    assert [(a.job.pk, a.ok) for a in attempts] == [(update.pk, False), (products.pk, True)]
    assert (
        attempts[0].message.startswith("products_update.csv: Job ")
        and "already reverted" in attempts[0].message
    )
    assert attempts[1].message == "products.csv: " + attempts[1].result.message
    assert table_count("products") == 0


def test_revert_admin_action_deletes_the_rows_and_reports(admin_api, admin_user, client, demo_tables):
    job = imported(admin_api, "sales_small.csv")
    client.force_login(admin_user)
    response = client.post(
        "/admin/imports/importjob/",
        {"action": "revert_action", "_selected_action": [job.pk], "post": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    assert shown == ["sales_small.csv: Deleted 10 rows this import wrote from sales."], shown
    assert table_count("sales") == 0
    job.refresh_from_db()
    assert job.reverted_by == admin_user


def test_revert_admin_action_needs_the_change_permission(admin_api, client, make_user, demo_tables):
    job = imported(admin_api, "sales_small.csv")
    viewer = make_user("viewer", perms=["imports.view_importjob"], is_staff=True)
    client.force_login(viewer)
    page = client.get("/admin/imports/importjob/").content.decode()
    assert "revert_action" not in page
    client.post(
        "/admin/imports/importjob/", {"action": "revert_action", "_selected_action": [job.pk], "post": "yes"}
    )
    assert table_count("sales") == 10


def test_revert_admin_actions_refuse_a_blocked_revert_then_cascade(
    admin_api, admin_user, client, demo_tables
):
    products = imported(admin_api, "products.csv", table_name="products")
    update = imported(admin_api, "products_update.csv", table_name="products")
    client.force_login(admin_user)

    refused = client.post(
        "/admin/imports/importjob/",
        {"action": "revert_action", "_selected_action": [products.pk], "post": "yes"},
        follow=True,
    )
    shown = [str(m) for m in refused.context["messages"]]
    assert shown == [
        f"products.csv: Later imports changed rows of job {products.pk}: revert job {update.pk} first "
        "(newest first), or revert with cascade to revert them first."
    ]
    assert table_count("products") == 11

    done = client.post(
        "/admin/imports/importjob/",
        {"action": "revert_cascade_action", "_selected_action": [products.pk], "post": "yes"},
        follow=True,
    )
    shown = [str(m) for m in done.context["messages"]]
    assert len(shown) == 1 and shown[0].startswith(
        f"products.csv: First reverted the later imports job {update.pk}."
    )
    assert table_count("products") == 0
