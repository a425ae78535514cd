"""Faults during real imports: a worker SIGKILLed mid-file, its database connection KILLed mid-import, the upload
folder unwritable. Each time: no partial rows, no duplicates, the job completes on retry or ends final with a
plain message, and the server keeps answering."""

from __future__ import annotations

import os
import signal

import pytest
from django.db import connection
from rest_framework.test import APIClient

from imports.models import ImportJob, JobStatus
from imports.services.batches import Upload, import_batch_submit
from imports.services.jobs import job_progress_get

from .cluster import request, rows_of_job, rows_total, sales_csv, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

BIG_ROWS = 200_000
CHUNK_ROWS = 20_000


def _batch(tmp_path, data_dir, *, user):
    """A big sales file and two small files from tests/data, submitted for import (queued, not run)."""
    big = sales_csv(tmp_path / "sales_big.csv", rows=BIG_ROWS, tag="BIG")
    uploads = [
        Upload(name="sales_big.csv", chunks=[big.read_bytes()]),
        Upload(name="stock_jan.csv", chunks=[(data_dir / "stock_jan.csv").read_bytes()]),
        Upload(name="products.csv", chunks=[(data_dir / "products.csv").read_bytes()]),
    ]
    batch = import_batch_submit(uploads=uploads, mode="full", user=user)
    jobs = {j.original_filename: j for j in batch.jobs if j.original_filename}
    assert {name: j.status for name, j in jobs.items()} == dict.fromkeys(jobs, JobStatus.WAITING)
    return batch, jobs


def _mid_file(job: ImportJob, total: int):
    def check() -> bool:
        current = ImportJob.objects.get(pk=job.pk)
        return current.status == JobStatus.PROCESSING and 0 < job_progress_get(current) < total

    return check


def _final(batch_id):
    def check():
        jobs = list(ImportJob.objects.filter(batch_id=batch_id).exclude(status=JobStatus.SKIPPED))
        return jobs if all(j.is_final for j in jobs) else None

    return check


def _api_jobs(port: int, token: str, batch_id) -> dict:
    """GET /api/jobs/<batch_id>/details from the running web server: its files by name."""
    answer = request(
        port, "GET", f"/api/jobs/{batch_id}/details", headers={"Authorization": f"Token {token}"}, timeout=30
    )
    assert answer.status == 200, answer.body
    return {f["filename"]: f for f in answer.body["data"]}


@pytest.mark.slow
def test_fault_worker_process_sigkilled_mid_file_is_redelivered_and_imports_once(
    tmp_path, data_dir, demo_tables, cluster_broker, processes, uploader
):
    """One worker process of a cluster dies (OOM killer): the sentinel replaces it, the ORM broker hands the
    task out again after Q_RETRY, and the re-run imports the file once."""
    batch, jobs = _batch(tmp_path, data_dir, user=uploader.user)
    big = jobs["sales_big.csv"]
    web = processes.gunicorn(workers=1)
    cluster = processes.cluster("faults", IMPORT_CHUNK_ROWS=str(CHUNK_ROWS))
    processes.running(web, cluster)

    wait_for(_mid_file(big, BIG_ROWS), timeout=120, what="the big file to be part way", logs=(cluster,))
    worker = next(name for name, task in reversed(cluster.processing()) if task == f"import-job-{big.pk}")
    os.kill(cluster.worker_pids()[worker], signal.SIGKILL)

    # Rolled back at once; the job stays claimed until the broker re-delivers the task.
    wait_for(lambda: rows_of_job("sales", big.pk) == 0, timeout=30, what="the rollback", logs=(cluster,))
    assert ImportJob.objects.get(pk=big.pk).status == JobStatus.PROCESSING
    assert (
        _api_jobs(web.port, uploader.token, batch.batch_id)["sales_big.csv"]["status"] == JobStatus.PROCESSING
    )

    final = wait_for(_final(batch.batch_id), timeout=240, what="the batch to be final", logs=(cluster,))
    assert {j.original_filename: j.status for j in final} == dict.fromkeys(jobs, JobStatus.COMPLETE)
    big.refresh_from_db()
    assert (big.success_count, big.attempts) == (BIG_ROWS, 2)
    assert rows_of_job("sales", big.pk) == rows_total("sales") == BIG_ROWS
    assert (rows_total("stocks"), rows_total("products")) == (20, 10)
    assert "after death" in cluster.log()
    files = _api_jobs(web.port, uploader.token, batch.batch_id)
    assert files["sales_big.csv"]["status"] == JobStatus.COMPLETE
    assert files["sales_big.csv"]["success_count"] == BIG_ROWS


def _import_connection_id(min_rows: int) -> int | None:
    """The connection whose open transaction has written at least `min_rows` rows into this test database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.trx_mysql_thread_id FROM information_schema.INNODB_TRX t "
            "JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id "
            "WHERE p.DB = DATABASE() AND p.ID <> CONNECTION_ID() AND t.trx_rows_modified >= %s",
            [min_rows],
        )
        found = [row[0] for row in cursor.fetchall()]
    return found[0] if len(found) == 1 else None


@pytest.mark.slow
def test_fault_database_connection_killed_mid_import_keeps_nothing_and_says_so(
    tmp_path, data_dir, mysql_only, demo_tables, cluster_broker, processes, uploader, settings
):
    """`KILL <id>` of the importing worker's connection from another session: MariaDB rolls the file back; the
    job ends final with a plain message, the other files and the next batch import, the API answers."""
    batch, jobs = _batch(tmp_path, data_dir, user=uploader.user)
    big = jobs["sales_big.csv"]
    web = processes.gunicorn(workers=1)
    cluster = processes.cluster("kill", IMPORT_CHUNK_ROWS=str(CHUNK_ROWS))
    processes.running(web, cluster)

    wait_for(_mid_file(big, BIG_ROWS), timeout=120, what="the big file to be part way", logs=(cluster,))
    victim = wait_for(
        lambda: _import_connection_id(CHUNK_ROWS), timeout=60, what="the import's connection", logs=(cluster,)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"KILL {int(victim)}")
    # No rows of the file outlive its connection.
    wait_for(lambda: rows_of_job("sales", big.pk) == 0, timeout=30, what="the rollback", logs=(cluster,))

    # The server rolled the file back; the engine queues it again on a fresh connection and it completes.
    final = wait_for(_final(batch.batch_id), timeout=240, what="the batch to be final", logs=(cluster,))
    statuses = {j.original_filename: j for j in final}
    assert statuses["stock_jan.csv"].status == statuses["products.csv"].status == JobStatus.COMPLETE
    assert (rows_total("stocks"), rows_total("products")) == (20, 10)
    big.refresh_from_db()
    assert big.status == JobStatus.COMPLETE and big.attempts >= 2
    assert rows_of_job("sales", big.pk) == rows_total("sales") == big.success_count == BIG_ROWS
    details = _api_jobs(web.port, uploader.token, batch.batch_id)
    assert details["sales_big.csv"]["status"] == big.status
    assert details["sales_big.csv"]["error"] == (big.error_message or None)

    # The worker whose connection was killed goes on with the next batch.
    after = import_batch_submit(
        uploads=[Upload(name="sales_small.csv", chunks=[(data_dir / "sales_small.csv").read_bytes()])],
        mode="full",
        user=uploader.user,
    )
    (small,) = wait_for(_final(after.batch_id), timeout=60, what="the next batch", logs=(cluster,))
    assert (small.status, small.success_count, rows_of_job("sales", small.pk)) == (JobStatus.COMPLETE, 10, 10)


@pytest.fixture
def upload_dir_unwritable(settings, tmp_path):
    """UPLOAD_DIR below a regular file: creating it fails with NotADirectoryError, even for root."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the upload folder's parent should be\n")
    settings.UPLOAD_DIR = blocker / "uploads"
    return blocker


@pytest.mark.parametrize("mode", ["quick", "full", "both"])
def test_fault_upload_folder_unwritable_is_a_clear_503_and_nothing_is_kept(
    mode, upload_dir_unwritable, demo_tables, admin_user, data_dir
):
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(admin_user)
    with (data_dir / "sales_small.csv").open("rb") as handle:
        response = client.post("/api/import", {"files": [handle], "mode": mode}, format="multipart")
    assert response.status_code == 503, response.content[:300]
    assert response.json() == {
        "success": False,
        "error": "The upload folder is not writable: the server cannot store files right now. Nothing was "
        "saved; please try again later or tell an administrator.",
        "code": "upload_dir_unwritable",
        "mode": mode,
    }
    assert not ImportJob.objects.exists()
    assert upload_dir_unwritable.is_file() and not (upload_dir_unwritable / "uploads").exists()
    # The rest of the API keeps answering.
    assert client.get("/api/jobs").status_code == 200
