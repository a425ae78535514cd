"""The API on one router: GET /api/ lists the resources (login required); the older app's Postman collection
answers on the same paths with the same envelope; every mode of POST /api/import answers with the same keys,
keeping each where old clients read it; the browsable upload has a file field; real answers match the
OpenAPI document; a value outside a fixed set is a 400 listing the valid ones."""

import json
import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from imports.models import ImportJob, JobStatus
from tableconfig.management.commands.load_demo_config import DEMO_TABLES, demo_table_load
from tableconfig.models import Alias, ColumnConfig, ImportTable
from tests.imports.conftest import DATA, upload
from tests.test_openapi import schema_errors

pytestmark = pytest.mark.django_db(transaction=True)

TOP_KEYS = {"success", "mode", "batch_id", "message", "files", "warnings", "data"}
DATA_KEYS = {"batch_id", "status", "total_rows", "files", "validation", "warnings", "message"}


@pytest.fixture
def demo_tables(db):
    call_command("load_demo_config", verbosity=0)


@pytest.fixture
def reader(api, make_user):
    api.force_authenticate(make_user("reader"))
    return api


@pytest.fixture
def document(admin_api) -> dict:
    return admin_api.get("/api/schema/", {"format": "json"}).json()


def answer_errors(document: dict, path: str, method: str, response) -> list[str]:
    """The answer's body checked against the schema the document gives for its path, method and status."""
    documented = document["paths"][path][method]["responses"][str(response.status_code)]
    return schema_errors(document, documented["content"]["application/json"]["schema"], response.json())


# --- GET /api/ ------------------------------------------------------------------------------------


def test_api_root_lists_the_resources_with_their_addresses(reader):
    response = reader.get("/api/")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["data"] == {
        "tables": "http://testserver/api/tables",
        "jobs": "http://testserver/api/jobs",
        "distributors": "http://testserver/api/distributors",
        "import": "http://testserver/api/import",
        "compliance": "http://testserver/api/compliance",
        "inbox": "http://testserver/api/inbox",
        "schema": "http://testserver/api/schema/",
        "docs": "http://testserver/api/docs/",
        "columns": "http://testserver/api/columns/{id}",
        "aliases": "http://testserver/api/aliases/{id}",
    }
    for name in ("tables", "jobs"):
        listed = reader.get(body["data"][name])
        assert listed.status_code == 200 and listed.json()["success"] is True
    assert reverse("api-root") == "/api/"


def test_api_root_needs_login(api):
    response = api.get("/api/")
    assert response.status_code in (401, 403)
    assert response.json()["success"] is False and response.json()["error"]


def test_api_paths_keep_no_trailing_slash_and_no_format_suffix(admin_api, demo_tables):
    assert admin_api.get("/api/tables").status_code == 200
    assert admin_api.get("/api/tables/").status_code == 404
    assert admin_api.get("/api/tables.json").status_code == 404
    assert admin_api.get("/api/jobs/").status_code == 404


# --- The Postman collection -----------------------------------------------------------------------

POSTMAN = json.loads((DATA / "postman_collection.json").read_text())


def postman_requests() -> list[dict]:
    return [request for folder in POSTMAN["item"] for request in folder["item"]]


@pytest.fixture
def demo_without_products(db):
    """The demo's sales and stocks tables: the collection creates `products` itself."""
    for definition in DEMO_TABLES:
        if definition["table_name"] != "products":
            list(demo_table_load(definition))


def test_postman_collection_answers_on_the_same_paths_with_the_envelope(admin_api, demo_without_products):
    """Every request of the older app's collection, in its order, with its body; the ids it hard-codes
    (table 1, column 7, alias 1, {{batch_id}}) are the objects the earlier requests made."""
    ids: dict[str, str] = {}
    answered = []
    for item in postman_requests():
        request = item["request"]
        path = request["url"]["raw"].replace("{{base_url}}", "").replace("{{batch_id}}", ids.get("batch", ""))
        path = re.sub(r"^/api/tables/1/", f"/api/tables/{ids.get('table')}/", path)
        path = re.sub(r"^/api/columns/7", f"/api/columns/{ids.get('column')}", path)
        path = re.sub(r"^/api/aliases/1$", f"/api/aliases/{ids.get('alias')}", path)
        method = request["method"].lower()
        body = request.get("body") or {}
        if body.get("mode") == "formdata":
            fields = {f["key"]: f["value"] for f in body["formdata"] if f["type"] == "text"}
            # A new stocks file each time: identical content already imported is refused (re-sent files).
            sent = "stock_box_header.csv" if "batch" in ids else "stock_jan.csv"
            response = admin_api.post(path, {**fields, "files": [upload(sent)]}, format="multipart")
        elif body.get("mode") == "raw":
            response = getattr(admin_api, method)(path, json.loads(body["raw"]), format="json")
        else:
            response = getattr(admin_api, method)(path)
        answered.append((item["name"], method, path, response.status_code))
        assert response.status_code in (200, 201, 202), (item["name"], path, response.content)
        answer = response.json()
        assert answer["success"] is True, (item["name"], answer)
        if item["name"] == "Import Files (Auto-detect)":
            ids["batch"] = answer["batch_id"]
            assert answer["data"]["batch_id"] == ids["batch"]
        elif item["name"] == "Create New Table":
            ids["table"] = str(answer["data"]["id"])
            ids["column"] = str(next(c["id"] for c in answer["data"]["columns"] if c["column_name"] == "sku"))
        elif item["name"] == "Add Alias":
            ids["alias"] = str(answer["data"]["id"])
    assert [name for name, *_ in answered] == [item["name"] for item in postman_requests()]
    assert len(answered) == 12
    # What the requests did, as a user would check it.
    products = ImportTable.objects.get(table_name="products")
    assert products.allowed_filename == "pv_inventory"
    assert ColumnConfig.objects.filter(table__table_name="stocks", column_name="notes").exists()
    assert ColumnConfig.objects.get(pk=ids["column"]).is_mandatory
    assert not Alias.objects.filter(pk=ids["alias"]).exists()
    jobs = ImportJob.objects.filter(batch_id=ids["batch"]).exclude(status=JobStatus.SKIPPED)
    assert [job.status for job in jobs] == [JobStatus.COMPLETE]


# --- One answer shape for every mode --------------------------------------------------------------


def _import(client, mode: str, name: str = "sales_small.csv", **fields):
    return client.post(
        "/api/import",
        {"files": [upload(name)], "mode": mode, "dist_id": "31001", **fields},
        format="multipart",
    )


def test_import_every_mode_answers_with_the_same_keys(admin_api, demo_tables, admin_user, document):
    # The same file in every mode: forced, or "both" would refuse what "full" imported (re-sent files).
    answers = {mode: _import(admin_api, mode, force="true") for mode in ("quick", "full", "both", "dry_run")}
    assert {mode: r.status_code for mode, r in answers.items()} == {
        "quick": 200,
        "full": 202,
        "both": 200,
        "dry_run": 202,
    }
    bodies = {mode: r.json() for mode, r in answers.items()}
    for mode, body in bodies.items():
        assert set(body) == TOP_KEYS, mode
        assert set(body["data"]) == DATA_KEYS, mode
        assert body["mode"] == mode and body["success"] is True
        # The older app's clients read batch_id at the top (quick, both) and in data (full): both, always.
        assert body["batch_id"] == body["data"]["batch_id"], mode
        assert body["files"] == body["data"]["validation"], mode
        assert body["data"]["files"] == ["sales_small.csv"], mode
        assert body["files"][0]["valid"] is True and body["files"][0]["rows"] == 10
        assert body["data"]["total_rows"] == 10
    assert {mode: body["data"]["status"] for mode, body in bodies.items()} == {
        "quick": "checked",
        "full": "pending",
        "both": "pending",
        "dry_run": "pending",
    }
    for mode, response in answers.items():
        assert not answer_errors(document, "/api/import", "post", response), mode


def test_import_every_mode_answers_422_with_the_same_keys_when_every_file_fails(admin_api, demo_tables):
    for mode in ("quick", "full", "both", "dry_run"):
        response = _import(admin_api, mode, "sales_missing_cols.csv")
        assert response.status_code == 422, (mode, response.content)
        body = response.json()
        assert set(body) == TOP_KEYS | {"error"} and set(body["data"]) == DATA_KEYS
        assert body["success"] is False and body["error"] == "All files failed validation."
        assert body["data"]["status"] == "failed" and body["files"][0]["valid"] is False
        assert body["files"][0]["error"]


def test_import_unknown_mode_is_a_400_naming_the_valid_ones(admin_api, demo_tables):
    response = _import(admin_api, "qiuck")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_mode" and body["field"] == "mode"
    assert all(mode in body["error"] for mode in ("quick", "full", "both", "dry_run"))
    assert not ImportJob.objects.exists()


def test_import_get_says_what_an_upload_accepts(reader, settings):
    settings.UPLOAD_MAX_FILES = 7
    response = reader.get("/api/import")
    assert response.status_code == 200
    data = response.json()["data"]
    assert set(data["modes"]) == {"quick", "full", "both", "dry_run"} and data["default_mode"] == "both"
    assert "load nothing" in data["modes"]["quick"]
    assert (data["max_files"], data["max_file_bytes"], data["max_request_bytes"]) == (
        7,
        settings.UPLOAD_MAX_FILE_BYTES,
        settings.UPLOAD_MAX_REQUEST_BYTES,
    )
    # Reading is for anyone logged in; uploading still needs imports.add_importjob.
    refused = reader.post("/api/import", {"files": [upload("sales_small.csv")]}, format="multipart")
    assert refused.status_code == 403 and "imports.add_importjob" in refused.json()["error"]


# --- Other choices --------------------------------------------------------------------------------


def test_jobs_status_outside_the_choices_is_a_400_listing_them(reader):
    response = reader.get("/api/jobs", {"status": "done"})
    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "error": "status: 'done' is not one of pending, processing, completed, completed_with_errors, failed, checked.",
        "code": "invalid_parameter",
        "field": "status",
    }


@pytest.mark.parametrize(
    ("path", "method", "body", "message"),
    [
        (
            "/api/tables/{table}",
            "patch",
            {"on_duplicate": "merge"},
            'on_duplicate: "merge" is not a valid choice; use one of "update", "skip", "reject".',
        ),
        (
            "/api/tables/{table}",
            "put",
            {"distributor_match": "fuzzy"},
            'distributor_match: "fuzzy" is not a valid choice; use one of "prefix", "exact".',
        ),
        (
            "/api/columns/{column}",
            "patch",
            {"role": "boss"},
            'role: "boss" is not a valid choice; use one of "distributor", "period", "amount", "export_date".',
        ),
        (
            "/api/tables/sales/columns",
            "post",
            {"column_name": "note", "data_type": "text"},
            'data_type: "text" is not a valid type; use one of',
        ),
    ],
    ids=["on_duplicate", "distributor_match", "role", "data_type"],
)
def test_config_choice_outside_the_set_is_a_400_listing_the_valid_ones(
    admin_api, demo_tables, path, method, body, message
):
    table = ImportTable.objects.get(table_name="sales")
    column = table.columns.first()
    response = getattr(admin_api, method)(path.format(table=table.pk, column=column.pk), body, format="json")
    assert response.status_code == 400
    assert response.json()["error"].startswith(message), response.json()


# --- The browsable API ----------------------------------------------------------------------------


def test_browsable_import_shows_a_multipart_form_with_a_file_field(client, admin_user):
    client.force_login(admin_user)
    response = client.get("/api/import", HTTP_ACCEPT="text/html")
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    form = re.search(
        r'<form action="/api/import" method="POST" enctype="multipart/form-data".*?</form>', page, re.S
    )
    assert form, page[:2000]
    assert '<input type="file" name="files" multiple' in form[0]
    assert re.search(r'<option value="quick" selected\s*>', form[0])
    assert re.search(r'name="table_name"[^>]*value="auto"', form[0])
    assert response.status_code == 200 and "Check the headers and a sample" in page


def test_browsable_import_form_uploads_the_files(client, admin_user, demo_tables):
    """What the form sends (multipart, `files`, the mode chosen) imports, as the API does."""
    client.force_login(admin_user)
    with (DATA / "sales_small.csv").open("rb") as sample:
        response = client.post(
            "/api/import",
            {"files": sample, "mode": "full", "table_name": "auto", "dist_id": "31001"},
            HTTP_ACCEPT="text/html",
        )
    assert response.status_code == 202
    (job,) = ImportJob.objects.exclude(status=JobStatus.SKIPPED)
    assert (job.original_filename, job.status, job.success_count) == (
        "sales_small.csv",
        JobStatus.COMPLETE,
        10,
    )


# --- Real answers match the document --------------------------------------------------------------


def test_api_answers_match_their_openapi_schemas(admin_api, demo_tables, document):
    response = _import(admin_api, "full", "sales_10k_37bad.csv")
    assert response.status_code == 202
    batch = response.json()["batch_id"]
    job = ImportJob.objects.get(batch_id=batch, original_filename="sales_10k_37bad.csv")
    table = ImportTable.objects.get(table_name="sales")
    calls = [
        ("/api/", "get", "/api/"),
        ("/api/import", "get", "/api/import"),
        ("/api/tables", "get", "/api/tables"),
        ("/api/tables/{table_name}/columns", "get", "/api/tables/sales/columns"),
        ("/api/jobs", "get", "/api/jobs"),
        ("/api/jobs/{batch_id}", "get", f"/api/jobs/{batch}"),
        ("/api/jobs/{batch_id}/details", "get", f"/api/jobs/{batch}/details"),
        ("/api/jobs/{batch_id}", "get", "/api/jobs/not-a-batch"),
        ("/api/jobs", "get", "/api/jobs?limit=0"),
        ("/api/tables/{id}", "patch", f"/api/tables/{table.pk}"),
        ("/api/jobs/{batch_id}/files/{job_id}/revert", "post", f"/api/jobs/{batch}/files/{job.pk}/revert"),
    ]
    problems = []
    for documented, method, path in calls:
        body = {"description": "Sales lines"} if method == "patch" else None
        response = getattr(admin_api, method)(path, body, format="json")
        assert response.status_code in (200, 400, 404), (path, response.content)
        if errors := answer_errors(document, documented, method, response):
            problems.append(f"{method.upper()} {path} {response.status_code}: {errors[:3]}")
    assert not problems, "\n".join(problems)
