"""Map headers once: POST /api/jobs/<batch_id>/files/<job_id>/mapping saves a file's unmatched headers as aliases
(the configuration's clash rules, all or nothing) and re-runs a refused file from its stored upload."""

import datetime as dt

import pytest
from django.utils import timezone

from imports.models import ImportJob, JobStatus
from imports.services.header_mapping import job_headers_unmatched
from imports.services.jobs import job_status_compare_and_set
from imports.services.retention import uploads_expired_purge
from tableconfig.models import Alias, ColumnConfig
from tableconfig.services import alias_delete

from .conftest import table_count, table_rows, upload

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def no_do_date_alias(demo_tables):
    """The sales table as a distributor's new export finds it: `DO Date` is not one of its headers yet."""
    alias_delete(alias=Alias.objects.get(column__table__table_name="sales", alias_name="do_date"))


def post_import(client, name: str, **fields) -> ImportJob:
    response = client.post("/api/import", {"files": [upload(name)], **fields}, format="multipart")
    assert response.status_code in (200, 202, 422), response.content
    body = response.json()
    batch_id = body.get("batch_id") or body["data"]["batch_id"]
    return ImportJob.objects.select_related("table").get(batch_id=batch_id, original_filename=name)


def post_mapping(client, job: ImportJob, headers):
    return client.post(
        f"/api/jobs/{job.batch_id}/files/{job.id}/mapping", {"headers": headers}, format="json"
    )


def aliases() -> set[tuple[str, str]]:
    return set(Alias.objects.values_list("column__column_name", "alias_name"))


def test_mapping_do_date_reruns_the_refused_file_and_the_next_upload_passes(admin_api, no_do_date_alias):
    refused = post_import(admin_api, "sales_aliases.csv")
    assert (refused.status, refused.error_code) == (JobStatus.VALIDATION_FAILED, "missing_columns")
    assert "dotanggal" in refused.error_message
    assert table_count("sales") == 0

    response = post_mapping(admin_api, refused, {"DO Date": "dotanggal"})

    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data["aliases"] == [
        {
            "id": Alias.objects.get(alias_name="DO Date").id,
            "header": "DO Date",
            "column_name": "dotanggal",
            "alias_name": "DO Date",
        }
    ]
    assert data["rerun"] is True
    assert "checked again and queued" in data["message"]
    job = ImportJob.objects.get(pk=refused.id)
    # The re-run imported the file (the task runs inline in the tests).
    assert job.status == JobStatus.COMPLETE and data["status"] in (JobStatus.WAITING, JobStatus.COMPLETE)
    assert job.success_count == 5
    assert sorted(r[0] for r in table_rows("sales", "dono")) == [f"DO{n:07d}" for n in range(2, 7)]
    assert {r[0] for r in table_rows("sales", "import_job_id")} == {job.id}

    # Next month's file with the same headers goes straight through, no mapping (here the same bytes,
    # forced past the re-sent file check).
    again = post_import(admin_api, "sales_aliases.csv", force="true")
    assert again.status == JobStatus.COMPLETE and again.success_count == 5
    assert not again.error_code


def test_mapping_offer_lists_the_unmatched_headers_and_the_free_columns_mandatory_first(
    admin_api, no_do_date_alias
):
    refused = post_import(admin_api, "sales_aliases.csv")

    offer = job_headers_unmatched(job=refused)

    assert [h.header for h in offer.headers] == ["DO Date", "Remark"]
    assert [(c.column_name, c.is_mandatory) for c in offer.columns] == [("dotanggal", True)]
    assert offer.will_rerun


def test_mapping_offer_of_a_complete_file_puts_mandatory_columns_first(admin_api, demo_tables):
    ColumnConfig.objects.filter(table__table_name="sales", column_name="custid").update(is_mandatory=False)
    job = post_import(admin_api, "sales_export_time.csv")
    assert job.status == JobStatus.COMPLETE

    offer = job_headers_unmatched(job=job)

    assert [h.header for h in offer.headers] == ["Export Time"]
    assert [c.column_name for c in offer.columns] == ["exportdate"]
    assert not offer.will_rerun


def test_mapping_a_complete_file_saves_the_aliases_for_next_time_without_a_rerun(admin_api, demo_tables):
    job = post_import(admin_api, "sales_export_time.csv")
    assert job.status == JobStatus.COMPLETE and job.success_count == 3
    assert any("export_time" in w for w in job.warnings)
    assert {r[0] for r in table_rows("sales", "exportdate")} == {None}

    response = post_mapping(admin_api, job, {"Export Time": "exportdate"})

    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data["rerun"] is False and data["status"] == JobStatus.COMPLETE
    assert data["message"] == (
        "Saved Export Time -> exportdate for the next files; sales_export_time.csv was already imported, "
        "so it is not re-run."
    )
    assert ("exportdate", "Export Time") in aliases()
    after = ImportJob.objects.get(pk=job.id)
    assert (after.status, after.attempts, after.success_count) == (JobStatus.COMPLETE, 1, 3)
    assert table_count("sales") == 3

    # The next file with that header fills the column (the same bytes: forced past the re-sent file check).
    again = post_import(admin_api, "sales_export_time.csv", force="true")
    assert again.status == JobStatus.COMPLETE
    assert not any(w.startswith("Columns not in the configuration are ignored") for w in again.warnings)
    exported = [r for r in table_rows("sales", "exportdate, import_job_id") if r[1] == again.id]
    assert len(exported) == 3 and all(r[0] is not None for r in exported)


BAD_MAPPINGS = [
    pytest.param(
        "sales_aliases.csv",
        {"Delivery Date": "dotanggal"},
        "header_not_in_file",
        "The header 'Delivery Date' is not in sales_aliases.csv; its unmatched headers are: DO Date, Remark.",
        id="header-not-in-file",
    ),
    pytest.param(
        "sales_aliases.csv",
        {"DO No": "dotanggal"},
        "header_already_matched",
        "The header 'DO No' of sales_aliases.csv is already read as the column 'dono'.",
        id="header-already-matched",
    ),
    pytest.param(
        "sales_aliases.csv",
        {"DO Date": "do_tanggal"},
        "column_not_in_table",
        "'do_tanggal' (chosen for the header 'DO Date') is not a column of sales.",
        id="column-not-in-table",
    ),
    pytest.param(
        "sales_aliases.csv",
        {"DO Date": "qty"},
        "column_already_matched",
        "The column 'qty' (chosen for the header 'DO Date') is already read from the header 'Quantity' of "
        "sales_aliases.csv.",
        id="column-already-matched",
    ),
    pytest.param(
        "sales_aliases.csv",
        {"DO Date": "dotanggal", "Remark": "dotanggal"},
        "column_chosen_twice",
        "The column 'dotanggal' is chosen for two headers: 'DO Date' and 'Remark'.",
        id="column-chosen-twice",
    ),
    pytest.param(
        "sales_quantity_twice.csv",
        {"Quantity": "exportdate"},
        "header_clash",
        "The header 'Quantity' (read as 'quantity') would belong to both 'qty' and 'exportdate'.",
        id="clash-with-another-columns-alias",
    ),
]


@pytest.mark.parametrize("sample, headers, code, message", BAD_MAPPINGS)
def test_mapping_refuses_bad_input_with_its_code_and_saves_nothing(
    admin_api, no_do_date_alias, sample, headers, code, message
):
    job = post_import(admin_api, sample)
    before = (aliases(), ImportJob.objects.get(pk=job.id).status, table_count("sales"))

    response = post_mapping(admin_api, job, headers)

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["success"] is False
    assert (body["code"], body["error"]) == (code, message)
    assert (aliases(), ImportJob.objects.get(pk=job.id).status, table_count("sales")) == before


def test_mapping_a_clash_in_the_second_header_saves_neither(admin_api, demo_tables):
    job = post_import(admin_api, "sales_quantity_twice.csv")
    assert (job.status, job.error_code) == (JobStatus.VALIDATION_FAILED, "missing_columns")
    before = aliases()

    # "Sales Total" alone would do; "Quantity" is read for qty already, so it cannot feed exportdate too.
    response = post_mapping(admin_api, job, {"Sales Total": "amount_jual", "Quantity": "exportdate"})

    assert response.status_code == 400
    assert response.json()["code"] == "header_clash"
    assert aliases() == before
    assert ImportJob.objects.get(pk=job.id).status == JobStatus.VALIDATION_FAILED


def test_mapping_an_unknown_job_is_404(admin_api, no_do_date_alias):
    job = post_import(admin_api, "sales_aliases.csv")
    before = aliases()
    for path in (
        f"/api/jobs/{job.batch_id}/files/{job.id + 1000}/mapping",
        f"/api/jobs/not-a-batch/files/{job.id}/mapping",
        f"/api/jobs/7b0c5cf4-4c7e-4d2a-9a57-5d2f0f6a1c3e/files/{job.id}/mapping",
    ):
        response = admin_api.post(path, {"headers": {"DO Date": "dotanggal"}}, format="json")
        assert response.status_code == 404, path
        assert response.json() == {"success": False, "error": "Job not found.", "code": "not_found"}
    assert aliases() == before


def test_mapping_a_job_that_is_still_running_is_409(admin_api, no_do_date_alias):
    job = post_import(admin_api, "sales_aliases.csv")
    job_status_compare_and_set(
        job_id=job.id, from_statuses=[JobStatus.VALIDATION_FAILED], to_status=JobStatus.PROCESSING
    )
    before = aliases()

    response = post_mapping(admin_api, job, {"DO Date": "dotanggal"})

    assert response.status_code == 409
    assert response.json() == {
        "success": False,
        "error": "sales_aliases.csv is processing: headers can be mapped once the file is refused, failed or "
        "imported.",
        "code": "job_not_rerunnable",
    }
    assert aliases() == before


def test_mapping_needs_both_permissions(api, make_user, no_do_date_alias):
    uploader = make_user("uploader", perms=["imports.add_importjob"])
    api.force_authenticate(uploader)
    job = post_import(api, "sales_aliases.csv")
    before = aliases()

    response = post_mapping(api, job, {"DO Date": "dotanggal"})

    assert response.status_code == 403
    assert response.json()["error"] == (
        "You do not have permission to map headers (imports.add_importjob and tableconfig.add_alias)."
    )
    assert aliases() == before
    assert ImportJob.objects.get(pk=job.id).status == JobStatus.VALIDATION_FAILED


@pytest.mark.parametrize(
    "body, error",
    [
        pytest.param({"headers": {}}, "headers: This dictionary may not be empty.", id="empty"),
        pytest.param({}, "headers: This field is required.", id="missing"),
        pytest.param(
            {"headers": ["DO Date"]},
            'headers: Expected a dictionary of items but got type "list".',
            id="list",
        ),
    ],
)
def test_mapping_body_must_name_headers(admin_api, no_do_date_alias, body, error):
    job = post_import(admin_api, "sales_aliases.csv")
    response = admin_api.post(f"/api/jobs/{job.batch_id}/files/{job.id}/mapping", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_mapping_a_file_whose_upload_is_no_longer_kept_is_410(admin_api, no_do_date_alias):
    job = post_import(admin_api, "sales_aliases.csv")
    uploads_expired_purge(now=timezone.now() + dt.timedelta(days=365))
    before = aliases()

    response = post_mapping(admin_api, job, {"DO Date": "dotanggal"})

    assert response.status_code == 410
    assert response.json() == {
        "success": False,
        "error": "The upload of sales_aliases.csv is no longer kept on the server, so its headers cannot be "
        "read; upload the file again.",
        "code": "upload_not_kept",
    }
    assert aliases() == before


def test_mapping_a_file_without_a_table_is_409(admin_api, demo_tables):
    job = post_import(admin_api, "unknown_name.csv")
    assert job.status == JobStatus.VALIDATION_FAILED and job.table is None

    response = post_mapping(admin_api, job, {"code": "sku"})

    assert response.status_code == 409
    assert response.json() == {
        "success": False,
        "error": "unknown_name.csv was not matched to a table, so its headers cannot be mapped.",
        "code": "no_table",
    }


def test_mapping_keeps_the_files_spelling_and_says_when_the_file_is_still_refused(admin_api, demo_tables):
    job = post_import(admin_api, "sales_two_unknown.csv")
    assert job.error_code == "missing_columns"

    # Sent in lower case: the alias is spelled as the file spells it. amount_jual is still missing.
    response = post_mapping(admin_api, job, {"tgl": "dotanggal"})

    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert [(a["header"], a["alias_name"]) for a in data["aliases"]] == [("Tgl", "Tgl")]
    assert (data["rerun"], data["status"]) == (True, JobStatus.VALIDATION_FAILED)
    assert data["message"].startswith(
        "Saved Tgl -> dotanggal; sales_two_unknown.csv was checked again and is still refused: Missing mandatory "
        "columns: amount_jual"
    )
    offer = job_headers_unmatched(job=ImportJob.objects.get(pk=job.id))
    assert [h.header for h in offer.headers] == ["Nilai"]

    # The second mapping of the same file completes it.
    response = post_mapping(admin_api, job, {"Nilai": "amount_jual"})
    assert response.json()["data"]["status"] == JobStatus.WAITING
    assert ImportJob.objects.get(pk=job.id).status == JobStatus.COMPLETE
    assert table_count("sales") == 2
