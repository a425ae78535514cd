"""A real django-q2 cluster imports a batch; a worker killed with SIGKILL mid-file leaves none of its rows."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from benchmarks.processes import database_url
from imports.models import ImportJob, JobStatus
from imports.services.batches import Upload, import_batch_submit
from imports.services.jobs import job_progress_get

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
BIG_ROWS = 400_000


def _big_sales_file(path: Path) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["distid", "dono", "dotanggal", "custid", "sku", "qty", "amount_jual", "exportdate"])
        for n in range(BIG_ROWS):
            writer.writerow(
                ["31001", f"DO{n:08d}", f"2026-10-{1 + n % 28:02d}", f"C{n % 977:05d}", f"{n % 900:05d}",
                 str(1 + n % 13), f"{n % 5000}.25", "2026-10-31 23:00:00"]
            )  # fmt: skip
    return path


class Cluster:
    """`manage.py qcluster` in its own process group, on the test database."""

    def __init__(self, log: Path):
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "importhub.settings.test",
            "DATABASE_URL": database_url(),
            "Q_SYNC": "0",
            "Q_WORKERS": "2",
            "Q_POLL": "0.2",
            "Q_TIMEOUT": "20",
            # How soon the broker hands a task whose worker died to another worker (more than the timeout,
            # so a slow but live import is never handed out twice).
            "Q_RETRY": "25",
            "IMPORT_CHUNK_ROWS": "20000",
        }
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


def _wait(predicate, *, timeout: float, what: str, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}; cluster log:\n{log.read_text(errors='replace')[-4000:]}")


def _job_rows(job_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM sales WHERE import_job_id = %s", [job_id])
        return cursor.fetchone()[0]


def test_qcluster_sigkill_mid_file_leaves_no_rows_then_the_job_completes(tmp_path, monkeypatch):
    from django_q.conf import Conf

    call_command("load_demo_config", verbosity=0)
    monkeypatch.setattr(Conf, "SYNC", False)  # this process only enqueues; the cluster does the work
    big = _big_sales_file(tmp_path / "sales_big.csv")
    uploads = [
        Upload(name="sales_big.csv", chunks=[big.read_bytes()]),
        Upload(name="stock_jan.csv", chunks=[(DATA / "stock_jan.csv").read_bytes()]),
        Upload(name="products.csv", chunks=[(DATA / "products.csv").read_bytes()]),
    ]
    batch = import_batch_submit(uploads=uploads, mode="full")
    big_job = ImportJob.objects.get(batch_id=batch.batch_id, original_filename="sales_big.csv")
    assert big_job.status == JobStatus.WAITING

    log = tmp_path / "qcluster.log"
    cluster = Cluster(log)
    try:

        def mid_file():
            job = ImportJob.objects.get(pk=big_job.pk)
            return job.status == JobStatus.PROCESSING and 0 < job_progress_get(job) < BIG_ROWS

        _wait(mid_file, timeout=120, what="the big file to be part way through", log=log)
        cluster.kill()
    finally:
        cluster.stop()

    # The worker died inside the file's transaction: none of its rows remain.
    assert _wait(lambda: _job_rows(big_job.pk) == 0 or None, timeout=30, what="rollback", log=log) is True
    assert ImportJob.objects.get(pk=big_job.pk).status == JobStatus.PROCESSING

    cluster = Cluster(log)
    try:

        def batch_final():
            jobs = ImportJob.objects.filter(batch_id=batch.batch_id).exclude(status=JobStatus.SKIPPED)
            return all(j.is_final for j in jobs) and list(jobs)

        jobs = _wait(batch_final, timeout=240, what="every file of the batch to be final", log=log)
        # The upload goes once its job is final (right after the commit, in the worker).
        stored = Path(settings.UPLOAD_DIR) / big_job.stored_filename
        _wait(lambda: not stored.exists(), timeout=20, what="the upload to be removed", log=log)
    finally:
        cluster.stop()

    statuses = {j.original_filename: j.status for j in jobs}
    assert statuses == {
        "sales_big.csv": JobStatus.COMPLETE,
        "stock_jan.csv": JobStatus.COMPLETE,
        "products.csv": JobStatus.COMPLETE,
    }
    big_job.refresh_from_db()
    assert big_job.success_count == BIG_ROWS and big_job.attempts >= 2
    assert _job_rows(big_job.pk) == BIG_ROWS
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM sales")
        assert cursor.fetchone()[0] == BIG_ROWS
