"""GET/POST /api/distributors and GET/PUT/PATCH /api/distributors/<code> with and without permission; uploads
refused for an unknown, inactive or missing distributor through the API, the upload form and `import_files`
with nothing stored; accepted uploads carrying the distributor, and the filters by it."""

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from imports.models import Distributor, ImportBatch, ImportJob
from imports.services.distributors import distributor_create

from .conftest import DATA, table_count, upload

pytestmark = pytest.mark.django_db(transaction=True)

BODY = {
    "code": "31001",
    "name": "PT Sumber Makmur",
    "is_active": True,
    "contact_emails": ["data@sumber.example"],
    "tables": ["stocks", "sales"],
    "cadence": "monthly",
    "due_day": 12,
}


def client_with(make_user, name: str, perms: list[str]) -> APIClient:
    client = APIClient()
    client.force_authenticate(make_user(name, perms=perms))
    return client


def _public(data: dict) -> dict:
    return {k: v for k, v in data.items() if k not in ("created_at", "updated_at", "last_upload_at")}


def test_distributors_api_create_list_get_put_patch(admin_api, demo_tables):
    created = admin_api.post("/api/distributors", BODY, format="json")
    assert created.status_code == 201, created.json()
    expected = {**BODY, "tables": ["sales", "stocks"], "obligations_from": None}
    assert created.json()["success"] is True
    assert _public(created.json()["data"]) == expected
    assert created.json()["data"]["last_upload_at"] is None

    listed = admin_api.get("/api/distributors").json()["data"]
    assert [_public(d) for d in listed] == [expected]
    assert _public(admin_api.get("/api/distributors/31001").json()["data"]) == expected

    replaced = {
        **BODY,
        "code": "31001-b",
        "is_active": False,
        "tables": ["sales"],
        "cadence": "weekly",
        "due_day": 5,
    }
    answer = admin_api.put("/api/distributors/31001", replaced, format="json")
    assert answer.status_code == 200, answer.json()
    assert _public(answer.json()["data"]) == {**replaced, "obligations_from": None}
    assert admin_api.get("/api/distributors/31001").status_code == 404

    patched = admin_api.patch("/api/distributors/31001-b", {"is_active": True}, format="json")
    assert patched.status_code == 200
    assert _public(patched.json()["data"]) == {**replaced, "is_active": True, "obligations_from": None}


def test_distributors_api_put_needs_every_field(admin_api, demo_tables):
    distributor_create(code="31001", name="Sumber", tables=["sales"])
    answer = admin_api.put("/api/distributors/31001", {"code": "31001", "name": "Sumber"}, format="json")
    assert answer.status_code == 400
    body = answer.json()
    assert body["success"] is False
    assert set(body["errors"]) == {"is_active", "contact_emails", "tables", "cadence", "due_day"}
    assert [t.table_name for t in Distributor.objects.get().tables.all()] == ["sales"]


@pytest.mark.parametrize(
    ("changes", "field", "code", "error"),
    [
        (
            {"code": "31 001"},
            "code",
            "invalid_code",
            "code: '31 001' is not a code: 1 to 50 letters, digits, '-', '_' or '.'.",
        ),
        ({"code": "31002"}, "code", "duplicate_code", "code: '31002' is already the code of Other."),
        (
            {"tables": ["sales", "invoices"]},
            "tables",
            "unknown_table",
            "tables: no import table named 'invoices'; the configured tables are listed at /api/tables.",
        ),
        (
            {"contact_emails": ["nope"]},
            "contact_emails",
            "invalid_email",
            "contact_emails: 'nope' is not a valid e-mail address.",
        ),
        ({"due_day": 31}, "due_day", "invalid_due_day", None),
        ({"cadence": "weekly", "due_day": 9}, "due_day", "invalid_due_day", None),
    ],
    ids=["code", "duplicate", "table", "email", "monthly-31", "weekly-9"],
)
def test_distributors_api_refusals_name_field_and_code(admin_api, demo_tables, changes, field, code, error):
    distributor_create(code="31002", name="Other")
    answer = admin_api.post("/api/distributors", {**BODY, **changes}, format="json")
    assert answer.status_code == 400
    body = answer.json()
    assert (body["success"], body["field"], body["code"]) == (False, field, code)
    if error:
        assert body["error"] == error
    assert list(Distributor.objects.values_list("code", flat=True)) == ["31002"]


@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize("body", ["null", "7", "[1]", '"x"'], ids=["null", "number", "list", "string"])
def test_distributors_api_body_that_is_no_object_is_400_and_changes_nothing(
    admin_api, demo_tables, method, body
):
    admin_api.post("/api/distributors", {"code": "31001", "name": "North"}, format="json")
    answer = getattr(admin_api, method)("/api/distributors/31001", body, content_type="application/json")
    assert answer.status_code == 400, answer.content
    assert answer.json()["success"] is False and answer.json()["error"]
    assert Distributor.objects.get().name == "North"


def test_distributors_api_cadence_outside_the_choices_is_400(admin_api, demo_tables):
    answer = admin_api.post("/api/distributors", {**BODY, "cadence": "yearly"}, format="json")
    assert answer.status_code == 400
    assert (
        answer.json()["error"]
        == 'cadence: "yearly" is not a valid choice; use one of "daily", "weekly", "monthly".'
    )


def test_distributors_api_needs_login_and_permissions(api, make_user, demo_tables):
    distributor_create(code="31001", name="Sumber")
    for anonymous in (api.get("/api/distributors"), api.post("/api/distributors", BODY, format="json")):
        assert anonymous.status_code in (401, 403)  # as the rest of the API (session first)
        assert anonymous.json() == {
            "success": False,
            "error": "Authentication credentials were not provided.",
            "code": "not_authenticated",
        }

    nobody = client_with(make_user, "nobody", [])
    refused = nobody.get("/api/distributors")
    assert refused.status_code == 403
    assert (
        refused.json()["error"]
        == "You do not have permission to see distributors (imports.view_distributor)."
    )
    assert nobody.get("/api/distributors/31001").status_code == 403

    viewer = client_with(make_user, "viewer", ["imports.view_distributor"])
    assert viewer.get("/api/distributors/31001").json()["data"]["name"] == "Sumber"
    refused = viewer.post("/api/distributors", {**BODY, "code": "9"}, format="json")
    assert refused.status_code == 403
    assert (
        refused.json()["error"] == "You do not have permission to add distributors (imports.add_distributor)."
    )
    assert viewer.patch("/api/distributors/31001", {"name": "X"}, format="json").status_code == 403

    adder = client_with(make_user, "adder", ["imports.add_distributor"])
    assert adder.post("/api/distributors", {**BODY, "code": "9"}, format="json").status_code == 201
    assert adder.put("/api/distributors/9", {**BODY, "code": "9"}, format="json").status_code == 403

    changer = client_with(make_user, "changer", ["imports.change_distributor"])
    assert changer.patch("/api/distributors/31001", {"name": "Renamed"}, format="json").status_code == 200
    assert Distributor.objects.get(code="31001").name == "Renamed"
    assert changer.delete("/api/distributors/31001").status_code == 405


# --- Uploads refused: nothing stored ------------------------------------------------------------------


@pytest.fixture
def upload_dir(settings, tmp_path) -> Path:
    settings.UPLOAD_DIR = tmp_path / "uploads"
    return settings.UPLOAD_DIR


@pytest.fixture
def distributors(demo_tables):
    distributor_create(code="31001", name="Sumber", tables=["sales"])
    distributor_create(code="42001", name="Dormant", is_active=False)


def nothing_stored(upload_dir: Path) -> bool:
    files = [p for p in upload_dir.rglob("*")] if upload_dir.exists() else []
    return not files and not ImportJob.objects.exists() and not ImportBatch.objects.exists()


REFUSALS = [
    pytest.param("auto", "31009", "unknown_distributor", id="auto-unknown"),
    pytest.param("auto", "42001", "inactive_distributor", id="auto-inactive"),
    pytest.param("auto", "", "dist_id_required", id="auto-missing"),
    pytest.param("on", "31009", "unknown_distributor", id="on-unknown"),
    pytest.param("on", "42001", "inactive_distributor", id="on-inactive"),
    pytest.param("on", "", "dist_id_required", id="on-missing"),
]
MESSAGES = {
    "unknown_distributor": "dist_id '31009' matches no distributor; ask an administrator to add it, or check the code.",
    "inactive_distributor": "dist_id '42001' is the distributor Dormant, which is inactive: its uploads are refused "
    "until an administrator makes it active again.",
    "dist_id_required": "dist_id is required: every upload must name its distributor by its code. Enter the code "
    "an administrator gave the distributor.",
}


@pytest.mark.parametrize("mode", ["quick", "both"])
@pytest.mark.parametrize(("rule", "dist_id", "code"), REFUSALS)
def test_api_upload_refused_stores_nothing(
    admin_api, settings, distributors, upload_dir, rule, dist_id, code, mode
):
    settings.DISTRIBUTORS_REQUIRED = rule
    answer = admin_api.post(
        "/api/import",
        {"files": [upload("sales_small.csv")], "dist_id": dist_id, "mode": mode},
        format="multipart",
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "success": False,
        "error": MESSAGES[code],
        "code": code,
        "mode": mode,
        "field": "dist_id",
    }
    assert nothing_stored(upload_dir)
    assert table_count("sales") == 0


@pytest.mark.parametrize(("rule", "dist_id", "code"), REFUSALS)
def test_upload_form_refused_stores_nothing(
    client, make_user, settings, distributors, upload_dir, rule, dist_id, code
):
    settings.DISTRIBUTORS_REQUIRED = rule
    client.force_login(make_user("uploader", perms=["imports.add_importjob"]))
    page = client.post(
        "/", {"files": [upload("sales_small.csv")], "mode": "both", "table_name": "auto", "dist_id": dist_id}
    )
    assert page.status_code == 400
    assert page.context["form"].errors == {"dist_id": [MESSAGES[code]]}
    assert MESSAGES[code].replace("'", "&#x27;") in page.content.decode()
    assert nothing_stored(upload_dir)


@pytest.mark.parametrize(("rule", "dist_id", "code"), REFUSALS)
def test_cli_refused_stores_nothing(settings, distributors, upload_dir, rule, dist_id, code):
    settings.DISTRIBUTORS_REQUIRED = rule
    with pytest.raises(CommandError) as refused:
        call_command(
            "import_files",
            str(DATA / "sales_small.csv"),
            "--dist-id",
            dist_id,
            "--wait",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    assert str(refused.value) == MESSAGES[code]
    assert nothing_stored(upload_dir)


@pytest.mark.parametrize(
    ("rule", "dist_id", "linked"),
    [
        pytest.param("off", "31009", None, id="off-unknown"),
        pytest.param("off", "42001", "42001", id="off-inactive-linked"),
        pytest.param("off", "", None, id="off-missing"),
        pytest.param("off", "31001", "31001", id="off-known-linked"),
        pytest.param("auto", "31001", "31001", id="auto-known"),
    ],
)
def test_api_upload_accepted_carries_the_distributor(
    admin_api, settings, distributors, rule, dist_id, linked
):
    settings.DISTRIBUTORS_REQUIRED = rule
    name = "sales_dist42.csv" if dist_id == "42001" else "sales_small.csv"  # its distributor column
    answer = admin_api.post("/api/import", {"files": [upload(name)], "dist_id": dist_id}, format="multipart")
    assert answer.status_code == 200, answer.json()
    batch_id = answer.json()["batch_id"]
    assert table_count("sales") == (6 if dist_id == "42001" else 10)
    batch = admin_api.get(f"/api/jobs/{batch_id}").json()["data"]
    assert batch["distributor"] == linked and batch["dist_id"] == dist_id
    details = admin_api.get(f"/api/jobs/{batch_id}/details").json()["data"]
    assert {d["distributor"] for d in details} == {linked}
    record = ImportBatch.objects.get(batch_id=batch_id)
    assert (record.distributor.code if record.distributor else None) == linked


def test_existing_uploads_with_a_dist_id_are_unaffected_while_no_distributor_exists(admin_api, demo_tables):
    answer = admin_api.post(
        "/api/import", {"files": [upload("sales_small.csv")], "dist_id": "31001"}, format="multipart"
    )
    assert answer.status_code == 200
    batch = admin_api.get(f"/api/jobs/{answer.json()['batch_id']}").json()["data"]
    assert (batch["dist_id"], batch["distributor"], batch["status"]) == ("31001", None, "completed")


def test_jobs_api_and_batch_page_filter_by_distributor(admin_api, client, admin_user, demo_tables):
    distributor_create(code="31001", name="Sumber")
    distributor_create(code="42001", name="Empat Dua")
    ids = {}
    for dist_id, name in (("31001", "sales_small.csv"), ("42001", "sales_dist42.csv")):
        answer = admin_api.post(
            "/api/import", {"files": [upload(name)], "dist_id": dist_id}, format="multipart"
        )
        assert answer.status_code == 200, answer.json()
        ids[dist_id] = answer.json()["batch_id"]

    listed = admin_api.get("/api/jobs", {"distributor": "42001"}).json()["data"]
    assert [(b["batch_id"], b["distributor"]) for b in listed] == [(ids["42001"], "42001")]
    assert admin_api.get("/api/jobs", {"distributor": "nobody"}).json()["data"] == []
    assert len(admin_api.get("/api/jobs").json()["data"]) == 2
    # The older dist_id filter stays.
    assert [b["batch_id"] for b in admin_api.get("/api/jobs", {"dist_id": "31001"}).json()["data"]] == [
        ids["31001"]
    ]

    client.force_login(admin_user)
    page = client.get("/batches/", {"distributor": "31001"})
    assert page.status_code == 200
    assert [b["batch_id"] for b in page.context["batches"]] == [ids["31001"]]
    assert '<option value="42001">42001 (Empat Dua)</option>' in page.content.decode()
