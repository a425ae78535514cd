"""Background exports: over EXPORT_SYNC_MAX_ROWS the data page's exports are written by the django-q2 task
(run inline here, as Q_CLUSTER["sync"] does in the tests) with progress, and downloaded by their creator only;
the file holds exactly the rows of the direct export; old exports are removed when a new one starts."""

import datetime as dt
import io
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from openpyxl import load_workbook

from imports.models import DataExport, ExportStatus, ImportJob, JobStatus
from imports.services.exports_bg import data_export_run, progress_connection
from tests.pages.conftest import STAFF_PERMS, submit

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff(make_user):
    return make_user("staff", perms=STAFF_PERMS, is_staff=True)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def sales(staff, demo_tables):
    batch = submit("sales_10k_37bad.csv", user=staff, dist_id="31001")
    job = ImportJob.objects.get(batch_id=batch.batch_id, table_name="sales")
    assert (job.status, job.success_count) == (JobStatus.COMPLETE, 9_963)
    return job


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def _xlsx_rows(content: bytes) -> list[tuple]:
    book = load_workbook(io.BytesIO(content), read_only=True)
    return [row for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)]


def _start(client, fmt: str, query: str = ""):
    return client.post(f"/data/sales/exports/{fmt}" + (f"?{query}" if query else ""), follow=True)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_over_the_limit_runs_in_the_background_with_the_same_rows(staff_client, sales, settings, fmt):
    query = "q=C000&dist_id=31001"
    direct = _body(staff_client.get(f"/data/sales/export.{fmt}?{query}"))
    settings.EXPORT_SYNC_MAX_ROWS = 100

    # The direct link now sends the user back to the page, whose buttons start a background export.
    redirected = staff_client.get(f"/data/sales/export.{fmt}?{query}", follow=True)
    page = redirected.content.decode()
    assert redirected.redirect_chain[-1][0] == f"/data/sales/?{query}"
    total = redirected.context["preview"].total
    assert total > 100
    assert f"{total:,} rows are more than 100 for a direct download" in page
    assert f'action="/data/sales/exports/{fmt}?{query.replace("&", "&amp;")}"' in page
    assert not DataExport.objects.exists()

    response = _start(staff_client, fmt, query)

    export = DataExport.objects.get()
    assert (export.status, export.rows_total, export.rows_done) == (ExportStatus.DONE, total, total)
    assert export.filters == {"batch": "", "job": None, "dist_id": "31001", "q": "C000"}
    assert export.file.startswith(f"exports/{export.pk}-sales-") and export.file.endswith(f".{fmt}")
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == f"/data/sales/?{query}#exports"
    assert f'href="/data/exports/{export.pk}/download"' in page
    download = staff_client.get(f"/data/exports/{export.pk}/download")
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith('attachment; filename="sales-')
    content = _body(download)
    if fmt == "csv":
        assert download["Content-Type"] == "text/csv; charset=utf-8"
        assert content == direct
    else:
        assert _xlsx_rows(content) == _xlsx_rows(direct)
        assert len(_xlsx_rows(content)) == 1 + total


def test_progress_endpoint_says_how_far_an_export_is(staff_client, staff, sales):
    export = DataExport.objects.create(
        table_name="sales", fmt="csv", status=ExportStatus.RUNNING, rows_total=9_963, rows_done=4_000,
        file="exports/1-sales.csv", created_by=staff,
    )  # fmt: skip
    body = staff_client.get(f"/data/exports/{export.pk}/").json()
    assert body["status"] == "running" and body["status_label"] == "Running"
    assert (body["rows_done"], body["rows_total"], body["percent"]) == (4_000, 9_963, 40)
    assert body["download_url"] is None
    page = staff_client.get("/data/sales/").content.decode()
    assert f'data-poll="/data/exports/{export.pk}/"' in page
    assert "4,000 / 9,963 rows" in page
    assert staff_client.get(f"/data/exports/{export.pk}/download").status_code == 404

    DataExport.objects.filter(pk=export.pk).update(status=ExportStatus.QUEUED)
    data_export_run(export_id=export.pk)

    body = staff_client.get(f"/data/exports/{export.pk}/").json()
    assert (body["status"], body["rows_done"], body["percent"]) == ("done", 9_963, 100)
    assert body["download_url"] == f"/data/exports/{export.pk}/download"
    assert staff_client.get(body["download_url"]).status_code == 200


def test_the_task_saves_its_progress_after_every_batch_of_rows(staff, sales):
    """What the progress endpoint reads meanwhile: the rows written so far, saved on the connection the task
    writes its progress on (on MySQL/MariaDB one of its own: the rows are still being read on the other)."""
    export = DataExport.objects.create(
        table_name="sales", fmt="xlsx", file="exports/2-sales.xlsx", created_by=staff
    )
    saved = []

    def record(execute, sql, params, many, context):
        if re.search(r"SET [`\"]rows_done[`\"] = %s WHERE", sql):
            saved.append(params[0])
        return execute(sql, params, many, context)

    with progress_connection().execute_wrapper(record):
        data_export_run(export_id=export.pk)
    # Once per fetched batch of 2,000 rows.
    assert saved == [2_000, 4_000, 6_000, 8_000, 9_963]
    export.refresh_from_db()
    assert (export.status, export.rows_done, export.rows_total) == (ExportStatus.DONE, 9_963, 9_963)


def test_export_of_a_table_gone_fails_saying_why(staff, sales, staff_client):
    export = DataExport.objects.create(
        table_name="gone", fmt="csv", file="exports/3-gone.csv", created_by=staff
    )
    data_export_run(export_id=export.pk)
    export.refresh_from_db()
    assert export.status == ExportStatus.FAILED
    assert export.error == "The table gone is no longer configured."
    assert not (Path(django_settings.MEDIA_ROOT) / export.file).exists()
    assert staff_client.get(f"/data/exports/{export.pk}/").json()["error"] == export.error


def test_old_exports_and_their_files_are_removed_when_a_new_one_starts(staff_client, staff, sales, settings):
    settings.EXPORT_SYNC_MAX_ROWS = 100
    _start(staff_client, "csv")
    old = DataExport.objects.get()
    old_file = Path(settings.MEDIA_ROOT) / old.file
    assert old_file.is_file()
    DataExport.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(hours=25))
    _start(staff_client, "csv")
    recent = DataExport.objects.get()
    DataExport.objects.filter(pk=recent.pk).update(created_at=timezone.now() - dt.timedelta(hours=23))

    _start(staff_client, "xlsx")

    assert not old_file.exists()
    assert set(DataExport.objects.values_list("fmt", flat=True)) == {"csv", "xlsx"}
    assert DataExport.objects.filter(pk=recent.pk).exists()
    assert (Path(settings.MEDIA_ROOT) / recent.file).is_file()


def test_a_small_export_stays_a_direct_download(staff_client, sales, settings):
    settings.EXPORT_SYNC_MAX_ROWS = 9_963
    response = staff_client.get("/data/sales/export.csv")
    assert response.status_code == 200 and len(_body(response).splitlines()) == 1 + 9_963
    page = staff_client.get("/data/sales/").content.decode()
    assert 'href="/data/sales/export.csv" download' in page
    assert not DataExport.objects.exists()


def test_the_page_lists_the_users_last_five_exports_of_the_table(staff_client, staff, make_user, sales):
    other = make_user("other", is_staff=True)
    for n in range(6):
        DataExport.objects.create(table_name="sales", fmt="csv", file=f"exports/{n}.csv", created_by=staff)
    theirs = DataExport.objects.create(table_name="sales", fmt="csv", file="exports/x.csv", created_by=other)
    elsewhere = DataExport.objects.create(
        table_name="products", fmt="csv", file="exports/y.csv", created_by=staff
    )
    shown = [e["id"] for e in staff_client.get("/data/sales/").context["exports"]]
    mine = list(
        DataExport.objects.filter(created_by=staff, table_name="sales").order_by("-created_at", "-id")
    )
    assert shown == [e.pk for e in mine[:5]]
    assert theirs.pk not in shown and elsewhere.pk not in shown
