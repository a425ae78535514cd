"""GET /api/jobs, /api/jobs/<batch_id>, /details: the older shapes, filters, visibility and errors."""

import uuid

import pytest

from imports.models import JobStatus

from .conftest import upload

pytestmark = pytest.mark.django_db(transaction=True)


def submit(client, *names, **fields):
    response = client.post("/api/import", {"files": [upload(n) for n in names], **fields}, format="multipart")
    assert response.status_code in (200, 202), response.content
    body = response.json()
    return body.get("batch_id") or body["data"]["batch_id"]


def test_jobs_list_newest_first_with_batch_shape(admin_api, demo_tables):
    first = submit(admin_api, "sales_small.csv", dist_id="31001")
    second = submit(admin_api, "products.csv", "product_list_bad_price.csv", table_name="products")
    body = admin_api.get("/api/jobs?limit=50").json()
    assert body["success"] is True
    assert [b["batch_id"] for b in body["data"]] == [second, first]
    batch = body["data"][0]
    assert batch["status"] == "completed_with_errors"
    assert batch["table_name"] == "products"
    assert (batch["total_rows"], batch["success_count"], batch["error_count"]) == (14, 13, 1)
    assert batch["error_details"] == [
        {
            "filename": "product_list_bad_price.csv",
            "errors": [
                "Row 4: price: 'abc' is not a number (digits with an optional '.', no thousands separators)"
            ],
        }
    ]
    assert [(f["filename"], f["status"], f["status_label"]) for f in batch["files"]] == [
        ("products.csv", 9, "Processing complete"),
        ("product_list_bad_price.csv", 9, "Processing complete"),
    ]
    assert set(batch) >= {"dist_id", "processed_rows", "created_at", "completed_at"}
    assert body["data"][1]["status"] == "completed" and body["data"][1]["dist_id"] == "31001"


def test_jobs_list_filters(admin_api, demo_tables):
    sales = submit(admin_api, "sales_small.csv", dist_id="31001")
    products = submit(admin_api, "products.csv")
    ids = lambda query: [b["batch_id"] for b in admin_api.get("/api/jobs" + query).json()["data"]]  # noqa: E731
    assert ids("?dist_id=31001") == [sales]
    assert ids("?table_name=products") == [products]
    assert ids("?status=completed") == [products, sales]
    assert ids("?status=failed") == []
    assert ids("?created_after=2000-01-01&limit=1") == [products]
    assert ids("?created_before=2000-01-01") == []
    assert admin_api.get("/api/jobs?status=bogus").status_code == 400


def test_job_status_and_details(admin_api, demo_tables):
    batch_id = submit(admin_api, "sales_small.csv", mode="full")
    body = admin_api.get(f"/api/jobs/{batch_id}").json()
    assert body["success"] is True and body["data"]["batch_id"] == batch_id
    statuses = {f["table_name"]: f["status"] for f in body["data"]["files"]}
    assert statuses == {"sales": 9, "stocks": 0, "products": 0}

    details = admin_api.get(f"/api/jobs/{batch_id}/details").json()["data"]
    sales = next(d for d in details if d["table_name"] == "sales")
    assert sales["status_label"] == "Processing complete"
    assert sales["success_count"] == 10 and sales["uploaded_by"] == "admin"
    assert sales["summary"]["amount_total"] is not None
    assert sales["notes"].startswith("Processed 10 rows")
    assert {"warnings", "errors", "archive_status", "archive_url", "started_at", "completed_at"} <= set(sales)
    missing = next(d for d in details if d["table_name"] == "stocks")
    assert missing["status"] == JobStatus.SKIPPED and missing["status_label"] == "Skipped (file not uploaded)"


@pytest.mark.parametrize("path", ["/api/jobs/{id}", "/api/jobs/{id}/details"], ids=["status", "details"])
def test_job_unknown_batch_is_404(admin_api, path):
    for batch_id in (uuid.uuid4(), "not-a-uuid"):
        response = admin_api.get(path.format(id=batch_id))
        assert response.status_code == 404
        assert response.json() == {"success": False, "error": "Job not found.", "code": "not_found"}


def test_jobs_users_see_their_own_batches_staff_see_all(api, make_user, demo_tables):
    alice = make_user("alice", perms=["imports.add_importjob"])
    bob = make_user("bob", perms=["imports.add_importjob"])
    staff = make_user("staff", is_staff=True)
    api.force_authenticate(alice)
    alices = submit(api, "sales_small.csv")
    api.force_authenticate(bob)
    assert api.get("/api/jobs").json()["data"] == []
    assert api.get(f"/api/jobs/{alices}").status_code == 404
    api.force_authenticate(staff)
    assert [b["batch_id"] for b in api.get("/api/jobs").json()["data"]] == [alices]


def test_jobs_api_needs_login(api):
    for path in ("/api/jobs", f"/api/jobs/{uuid.uuid4()}", f"/api/jobs/{uuid.uuid4()}/details"):
        assert api.get(path).status_code in (401, 403)
