"""Re-sent files: every stored upload's SHA-256, identical content already imported into the same table
warned about (quick, dry run) or refused with status 6 (full, both) unless forced; the import re-checks."""

import hashlib
import threading
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from imports.models import ImportBatch, ImportJob, JobStatus
from imports.services.batches import Upload, import_batch_submit
from imports.services.importing import import_job_run
from imports.services.revert import import_job_revert
from imports.services.workflow import batch_checked_import

from .conftest import DATA, table_count, table_rows

pytestmark = pytest.mark.django_db(transaction=True)

RESENT = DATA / "resent"


def resent_file(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (RESENT / name).read_bytes())


def post(client, *names: str, expect: tuple = (200, 202, 422), **fields):
    response = client.post(
        "/api/import", {"files": [resent_file(n) for n in names], **fields}, format="multipart"
    )
    assert response.status_code in expect, response.json()
    return response


def job_of(response, name: str) -> ImportJob:
    return ImportJob.objects.get(batch_id=response.json()["data"]["batch_id"], original_filename=name)


def pointer(job: ImportJob) -> str:
    """What a later upload of the same content says about `job` (its name, its day, its full batch id)."""
    day = timezone.localtime(job.completed_at).date().isoformat()
    return f"identical to {job.original_filename}, imported {day} in batch {job.batch_id}"


def sha256_of(name: str) -> str:
    return hashlib.sha256((RESENT / name).read_bytes()).hexdigest()


def test_stored_sha256_is_the_files_sha256_for_a_csv_a_zip_member_and_a_workbook(admin_api, demo_tables):
    csv_job = job_of(post(admin_api, "sales_oct.csv", mode="full"), "sales_oct.csv")
    assert csv_job.content_sha256 == sha256_of("sales_oct.csv")

    zipped = admin_api.post(
        "/api/import",
        {"files": [resent_file("resent_oct.zip")], "mode": "dry_run"},
        format="multipart",
    )
    member = job_of(zipped, "sales_oct.csv")
    assert member.source_name == "resent_oct.zip:october/sales_oct.csv"
    assert member.content_sha256 == sha256_of("sales_oct.csv")

    workbook = SimpleUploadedFile("sales_gaps.xlsx", (DATA / "sales_gaps.xlsx").read_bytes())
    response = admin_api.post("/api/import", {"files": [workbook], "mode": "dry_run"}, format="multipart")
    book = job_of(response, "sales_gaps.xlsx")
    assert book.content_sha256 == hashlib.sha256((DATA / "sales_gaps.xlsx").read_bytes()).hexdigest()

    details = admin_api.get(f"/api/jobs/{csv_job.batch_id}/details").json()["data"]
    assert details[0]["content_sha256"] == sha256_of("sales_oct.csv")


def test_identical_reupload_is_refused_with_the_pointer_to_the_earlier_batch(admin_api, demo_tables):
    first = job_of(post(admin_api, "sales_oct.csv", mode="full"), "sales_oct.csv")
    assert first.status == JobStatus.COMPLETE and table_count("sales") == 6

    response = post(admin_api, "sales_oct_resent.csv", mode="both", expect=(422,))
    body = response.json()
    refused = body["files"][0]
    assert refused["valid"] is False
    assert refused["error"] == (
        f"sales_oct_resent.csv is {pointer(first)}: not imported again. Send it with force=true (the upload "
        'form\'s "Import even if already imported") to import it anyway.'
    )
    job = job_of(response, "sales_oct_resent.csv")
    assert (job.status, job.error_code) == (JobStatus.VALIDATION_FAILED, "duplicate_content")
    assert str(first.batch_id) in job.error_message
    assert table_count("sales") == 6  # nothing imported twice
    assert ImportBatch.objects.get(batch_id=job.batch_id).forced is False


def test_force_imports_identical_content_again_append_only_rows_twice(admin_api, demo_tables):
    first = job_of(post(admin_api, "sales_oct.csv", mode="full"), "sales_oct.csv")
    response = post(admin_api, "sales_oct.csv", mode="full", force="true", expect=(202,))
    again = job_of(response, "sales_oct.csv")
    assert again.status == JobStatus.COMPLETE and again.success_count == 6
    assert table_count("sales") == 12
    assert ImportBatch.objects.get(batch_id=again.batch_id).forced is True
    assert (
        f"{pointer(first)[0].upper()}{pointer(first)[1:]}; imported again because the upload was forced."
        in (again.warnings)
    )


def test_force_imports_identical_content_again_keyed_rows_updated_in_place(admin_api, demo_tables):
    post(admin_api, "products_resent.csv", mode="full", table_name="products")
    refused = job_of(
        post(admin_api, "products_resent.csv", mode="full", table_name="products"), "products_resent.csv"
    )
    assert refused.error_code == "duplicate_content"
    response = post(admin_api, "products_resent.csv", mode="full", table_name="products", force="on")
    again = job_of(response, "products_resent.csv")
    assert again.status == JobStatus.COMPLETE
    assert (again.inserted_count, again.updated_count) == (0, 4)
    assert table_count("products") == 4


def test_quick_mode_warns_and_imports_nothing(admin_api, demo_tables):
    first = job_of(post(admin_api, "sales_oct.csv", mode="full"), "sales_oct.csv")
    body = post(admin_api, "sales_oct_resent.csv", mode="quick", expect=(200,)).json()
    checked = body["files"][0]
    assert checked["valid"] is True
    assert checked["warnings"] == [f"{pointer(first)[0].upper()}{pointer(first)[1:]}."]
    assert table_count("sales") == 6


def test_dry_run_warns_and_its_checked_import_is_refused_unless_forced(admin_api, admin_user, demo_tables):
    first = job_of(post(admin_api, "sales_oct.csv", mode="full"), "sales_oct.csv")
    checked = job_of(post(admin_api, "sales_oct_resent.csv", mode="dry_run"), "sales_oct_resent.csv")
    assert checked.status == JobStatus.VALIDATION_OK
    assert f"{pointer(first)[0].upper()}{pointer(first)[1:]}." in checked.warnings

    # Importing the checked file: the import itself finds the earlier import and refuses it.
    [job] = batch_checked_import(batch_id=checked.batch_id, user=admin_user)
    job.refresh_from_db()
    assert (job.status, job.error_code) == (JobStatus.VALIDATION_FAILED, "duplicate_content")
    assert pointer(first) in job.error_message
    assert table_count("sales") == 6

    second = job_of(post(admin_api, "sales_oct_resent.csv", mode="dry_run"), "sales_oct_resent.csv")
    response = admin_api.post(f"/api/jobs/{second.batch_id}/import", {"force": True}, format="json")
    assert response.status_code == 202, response.json()
    second.refresh_from_db()
    assert second.status == JobStatus.COMPLETE and table_count("sales") == 12
    assert ImportBatch.objects.get(batch_id=second.batch_id).forced is True


def test_different_bytes_or_a_different_table_are_not_caught(admin_api, demo_tables):
    post(admin_api, "sales_oct.csv", mode="full")
    fixed = job_of(post(admin_api, "sales_oct_fixed.csv", mode="full"), "sales_oct_fixed.csv")
    assert fixed.status == JobStatus.COMPLETE and fixed.warnings == []
    assert table_count("sales") == 12

    into_sales = job_of(
        post(admin_api, "stock_and_sales.csv", mode="full", table_name="sales"), "stock_and_sales.csv"
    )
    into_stocks = job_of(
        post(admin_api, "stock_and_sales.csv", mode="full", table_name="stocks"), "stock_and_sales.csv"
    )
    assert into_sales.content_sha256 == into_stocks.content_sha256
    assert into_sales.status == into_stocks.status == JobStatus.COMPLETE
    assert table_count("stocks") == 3 and table_count("sales") == 15


def test_identical_bytes_from_another_distributor_are_its_own_file(admin_api, demo_tables):
    """The stocks table has no distributor column: two distributors' stock files can be byte-identical."""
    sent = {"mode": "full", "table_name": "stocks"}
    north = job_of(post(admin_api, "stock_and_sales.csv", dist_id="31001", **sent), "stock_and_sales.csv")
    south = job_of(post(admin_api, "stock_and_sales.csv", dist_id="31002", **sent), "stock_and_sales.csv")
    assert north.status == south.status == JobStatus.COMPLETE
    assert not any("dentical" in w for w in south.warnings)
    assert table_count("stocks") == 6

    again = job_of(post(admin_api, "stock_and_sales.csv", dist_id="31001", **sent), "stock_and_sales.csv")
    assert (again.status, again.error_code) == (JobStatus.VALIDATION_FAILED, "duplicate_content")
    assert pointer(north) in again.error_message and str(south.batch_id) not in again.error_message
    assert table_count("stocks") == 6


def test_zip_member_identical_to_an_earlier_plain_file_is_caught(admin_api, demo_tables):
    first = job_of(post(admin_api, "sales_oct.csv", mode="full"), "sales_oct.csv")
    response = post(admin_api, "resent_oct.zip", mode="both", expect=(422,))
    job = job_of(response, "sales_oct.csv")
    assert job.source_name == "resent_oct.zip:october/sales_oct.csv"
    assert (job.status, job.error_code) == (JobStatus.VALIDATION_FAILED, "duplicate_content")
    assert response.json()["files"][0]["error"].startswith(f"sales_oct.csv is {pointer(first)}: ")
    assert table_count("sales") == 6


def test_two_identical_files_in_one_batch_the_second_points_to_the_first(admin_api, demo_tables):
    response = post(admin_api, "sales_oct.csv", "sales_oct_resent.csv", mode="both")
    files = {f["filename"]: f for f in response.json()["files"]}
    assert files["sales_oct.csv"]["valid"] is True
    assert files["sales_oct_resent.csv"]["error"].startswith(
        "sales_oct_resent.csv is identical to sales_oct.csv, sent earlier in this batch: not imported again."
    )
    assert job_of(response, "sales_oct.csv").status == JobStatus.COMPLETE
    assert job_of(response, "sales_oct_resent.csv").status == JobStatus.VALIDATION_FAILED
    assert table_count("sales") == 6

    quick = post(admin_api, "sales_oct_fixed.csv", "sales_oct_fixed.csv", mode="quick").json()["files"]
    assert "warnings" not in quick[0]
    assert quick[1]["warnings"] == ["Identical to sales_oct_fixed.csv, sent earlier in this batch."]


def test_a_reverted_import_does_not_block_the_same_content(admin_api, admin_user, demo_tables):
    first = job_of(post(admin_api, "sales_oct.csv", mode="full"), "sales_oct.csv")
    import_job_revert(job=first, user=admin_user)
    assert table_count("sales") == 0
    again = job_of(post(admin_api, "sales_oct_resent.csv", mode="full"), "sales_oct_resent.csv")
    assert again.status == JobStatus.COMPLETE and again.warnings == []
    assert table_count("sales") == 6


def _submit(name: str, *, force: bool = False):
    path = RESENT / name
    return import_batch_submit(
        uploads=[Upload(name=name, chunks=[path.read_bytes()], size=path.stat().st_size)],
        mode="full",
        table_name="sales",
        enqueue=False,
        force=force,
    )


def test_two_batches_validated_at_once_only_one_is_imported(demo_tables):
    """Both pass quick validation (nothing imported yet); the import re-checks when it starts."""
    first, second = _submit("sales_oct.csv"), _submit("sales_oct_resent.csv")
    assert first.jobs[0].status == second.jobs[0].status == JobStatus.WAITING

    done = import_job_run(job_id=first.jobs[0].id)
    refused = import_job_run(job_id=second.jobs[0].id)
    assert done.status == JobStatus.COMPLETE
    assert (refused.status, refused.error_code) == (JobStatus.VALIDATION_FAILED, "duplicate_content")
    assert refused.error_message.startswith(f"sales_oct_resent.csv is {pointer(done)}: ")
    assert refused.success_count == 0 and table_count("sales") == 6

    forced = _submit("sales_oct.csv", force=True)
    assert import_job_run(job_id=forced.jobs[0].id).status == JobStatus.COMPLETE
    assert table_count("sales") == 12


def test_an_identical_import_committed_while_this_one_was_reading_wins(demo_tables):
    """The second check, just before the rows are committed: another worker's identical file finished
    between this import's start and its commit (its reader is running when the other one commits)."""
    first, second = _submit("sales_oct.csv"), _submit("sales_oct_resent.csv")

    def other_worker():
        try:
            import_job_run(job_id=first.jobs[0].id)
        finally:
            connection.close()

    def progress(rows: int) -> None:
        worker = threading.Thread(target=other_worker)
        worker.start()
        worker.join(timeout=60)

    refused = import_job_run(job_id=second.jobs[0].id, progress=progress)
    assert ImportJob.objects.get(pk=first.jobs[0].id).status == JobStatus.COMPLETE
    assert (refused.status, refused.error_code) == (JobStatus.VALIDATION_FAILED, "duplicate_content")
    assert refused.error_message.startswith("sales_oct_resent.csv is identical to sales_oct.csv, imported ")
    assert sorted(r[0] for r in table_rows("sales", "dono")) == [f"DO{n:07d}" for n in range(1, 7)]


def test_import_files_refuses_identical_content_and_force_imports_it(demo_tables, capsys):
    path = str(RESENT / "sales_oct.csv")
    call_command("import_files", path, "--mode", "full", "--wait")
    first = ImportJob.objects.get(original_filename="sales_oct.csv", status=JobStatus.COMPLETE)

    with pytest.raises(SystemExit) as exited:
        call_command("import_files", str(RESENT / "sales_oct_resent.csv"), "--mode", "full", "--wait")
    assert exited.value.code == 1
    out = capsys.readouterr().out
    assert f"sales_oct_resent.csv: Validation failed: sales_oct_resent.csv is {pointer(first)}: " in out

    call_command("import_files", str(RESENT / "sales_oct.csv"), "--mode", "quick")
    assert f"  warning: {pointer(first)[0].upper()}{pointer(first)[1:]}." in capsys.readouterr().out

    call_command("import_files", path, "--mode", "full", "--wait", "--force")
    assert "sales_oct.csv: Processing complete, 6 rows imported into sales" in capsys.readouterr().out
    assert table_count("sales") == 12


def test_upload_form_refuses_identical_content_and_its_checkbox_forces(client, admin_user, demo_tables):
    client.force_login(admin_user)
    form = {"mode": "both", "table_name": "auto", "dist_id": ""}
    client.post("/", {"files": [resent_file("sales_oct.csv")], **form})
    first = ImportJob.objects.get(original_filename="sales_oct.csv")

    page = client.post("/", {"files": [resent_file("sales_oct_resent.csv")], **form}).content.decode()
    assert f"sales_oct_resent.csv is {pointer(first)}: not imported again." in page
    assert table_count("sales") == 6
    assert 'name="force"' in page and "Import even if already imported" in page

    client.post("/", {"files": [resent_file("sales_oct_resent.csv")], "force": "on", **form})
    forced = ImportJob.objects.filter(original_filename="sales_oct_resent.csv").latest("id")
    assert forced.status == JobStatus.COMPLETE and table_count("sales") == 12

    batch_page = client.get(f"/batches/{first.batch_id}/").content.decode()
    assert sha256_of("sales_oct.csv") in batch_page


@pytest.mark.parametrize("value", ["maybe", "2"], ids=["word", "number"])
def test_api_refuses_a_force_value_that_is_not_true_or_false(admin_api, demo_tables, value):
    response = admin_api.post(
        "/api/import", {"files": [resent_file("sales_oct.csv")], "force": value}, format="multipart"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False and body["code"] == "invalid_force"
    assert "force=true" in body["error"]
    assert not ImportJob.objects.exists()


def test_zip_sample_holds_the_plain_file_byte_for_byte():
    """The sample's promise that the ZIP test relies on."""
    with zipfile.ZipFile(RESENT / "resent_oct.zip") as archive:
        assert archive.read("october/sales_oct.csv") == (RESENT / "sales_oct.csv").read_bytes()
    assert (RESENT / "sales_oct_resent.csv").read_bytes() == (RESENT / "sales_oct.csv").read_bytes()


@pytest.mark.parametrize(
    ("body", "status"),
    [("null", 202), ("[true]", 400), ('"force"', 400), ("7", 400)],
    ids=["null-means-no-options", "list", "string", "number"],
)
def test_checked_import_takes_a_json_null_body_and_refuses_other_non_objects(
    admin_api, demo_tables, body, status
):
    checked = job_of(post(admin_api, "sales_oct.csv", mode="dry_run"), "sales_oct.csv")
    response = admin_api.post(f"/api/jobs/{checked.batch_id}/import", body, content_type="application/json")
    assert response.status_code == status, response.json()
    checked.refresh_from_db()
    if status == 400:
        assert response.json()["code"] == "invalid_body" and "JSON object" in response.json()["error"]
        assert checked.status == JobStatus.VALIDATION_OK and table_count("sales") == 0
    else:
        assert checked.status == JobStatus.COMPLETE and table_count("sales") == 6
