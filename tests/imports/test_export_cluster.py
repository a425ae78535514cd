"""A background export run by a real django-q2 cluster: the progress endpoint reports rows part way through,
then the download holds exactly the rows of the direct export."""

import io
import time

import pytest
from django.core.management import call_command
from django.test import Client
from openpyxl import load_workbook

from imports.models import DataExport, ExportStatus, ImportJob, JobStatus
from imports.services.batches import Upload, import_batch_submit
from tests.pages.conftest import STAFF_PERMS
from tests.worker.test_qcluster import Cluster, _big_sales_file

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROWS = 30_000


def _rows(content: bytes) -> list[tuple]:
    book = load_workbook(io.BytesIO(content), read_only=True)
    return [row for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)]


def test_cluster_writes_a_background_export_with_progress(tmp_path, monkeypatch, make_user, settings):
    from django_q.conf import Conf

    import tests.worker.test_qcluster as qcluster

    call_command("load_demo_config", verbosity=0)
    staff = make_user("staff", perms=STAFF_PERMS, is_staff=True)
    monkeypatch.setattr(qcluster, "BIG_ROWS", ROWS)
    big = _big_sales_file(tmp_path / "sales_big.csv")
    batch = import_batch_submit(
        uploads=[Upload(name="sales_big.csv", chunks=[big.read_bytes()])], mode="full"
    )
    job = ImportJob.objects.get(batch_id=batch.batch_id, table_name="sales")
    assert (job.status, job.success_count) == (JobStatus.COMPLETE, ROWS)

    client = Client()
    client.force_login(staff)
    direct = b"".join(client.get("/data/sales/export.xlsx").streaming_content)
    settings.EXPORT_SYNC_MAX_ROWS = 1_000
    monkeypatch.setattr(Conf, "SYNC", False)  # this process only enqueues; the cluster does the work
    client.post("/data/sales/exports/xlsx")
    export = DataExport.objects.get()
    assert (export.status, export.rows_total, export.rows_done) == (ExportStatus.QUEUED, ROWS, 0)

    log = tmp_path / "qcluster.log"
    cluster = Cluster(log)
    seen = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            body = client.get(f"/data/exports/{export.pk}/").json()
            seen.append((body["status"], body["rows_done"], body["percent"]))
            if body["status"] in ("done", "failed"):
                break
            time.sleep(0.05)
    finally:
        cluster.stop()

    assert seen[-1] == ("done", ROWS, 100), log.read_text()[-3000:]
    part_way = [s for s in seen if s[0] == "running" and 0 < s[1] < ROWS]
    assert part_way, seen
    assert all(0 < percent < 100 for _, _, percent in part_way)
    body = client.get(f"/data/exports/{export.pk}/").json()
    download = client.get(body["download_url"])
    assert download.status_code == 200
    assert _rows(b"".join(download.streaming_content)) == _rows(direct)
