"""A long import does not stop the rest of the app from writing: other sessions change other jobs while a file
loads (SQLite too, where the file's rows go to a private file first), the table gets all rows or none, and
the import's reader thread ends with the import, however it ends."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from django.db import connection, connections

from imports.models import ImportJob, JobStatus
from imports.services import importing
from imports.services.batches import Upload, import_batch_submit
from imports.services.importing import READER_THREAD_NAME, import_job_run
from imports.services.jobs import job_status_compare_and_set
from imports.services.staging import job_rows_file_path

from .conftest import DATA, ON_MYSQL, table_count, table_rows

pytestmark = pytest.mark.django_db(transaction=True)

SALES_HEADER = "distid,dono,dotanggal,custid,sku,qty,amount_jual,exportdate\n"


@pytest.fixture
def queued(settings, monkeypatch, demo_tables_tx):
    """Submit files as the web does (tasks queued, not run), in chunks of 100 rows."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)
    settings.IMPORT_CHUNK_ROWS = 100

    def submit(name: str, content: bytes) -> ImportJob:
        batch = import_batch_submit(uploads=[Upload(name=name, chunks=[content])], mode="full")
        (job,) = [j for j in batch.jobs if j.original_filename]
        assert job.status == JobStatus.WAITING, job.error_message
        return job

    return submit


@pytest.fixture
def demo_tables_tx(transactional_db):
    from django.core.management import call_command

    call_command("load_demo_config", verbosity=0)


def sales(rows: int, tag: str = "S") -> bytes:
    lines = [
        f"31001,{tag}{n:06d},2026-10-{1 + n % 28:02d},C{n % 97:05d},{n % 900:05d},{1 + n % 7},{n % 500}.25,"
        "2026-10-31 23:00:00\n"
        for n in range(rows)
    ]
    return (SALES_HEADER + "".join(lines)).encode()


def products(rows: int) -> bytes:
    header = (DATA / "products.csv").read_text().splitlines()[0]
    sample = (DATA / "products.csv").read_text().splitlines()[1].split(",")
    lines = [",".join([f"SKU{n:05d}", *sample[1:]]) for n in range(rows)]
    return ("\n".join([header, *lines]) + "\n").encode()


def other_session_writes(job_id: int) -> float:
    """Change another job's row from a second session of its own, as an upload or a worker would; return how
    long it took. On SQLite it must not wait for the import's lock (a 0.5 s busy timeout, then it fails)."""
    started = time.perf_counter()
    if connection.vendor == "sqlite":
        other = sqlite3.connect(connection.settings_dict["NAME"], timeout=0.5, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE imports_importjob SET notes = 'touched' WHERE id = ?", [job_id])
            other.execute("COMMIT")
        finally:
            other.close()
    else:
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("UPDATE imports_importjob SET notes = 'touched' WHERE id = %s", [job_id])
        finally:
            other.close()
    return time.perf_counter() - started


def reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == READER_THREAD_NAME]


def test_import_lock_short_other_sessions_write_while_a_file_loads(queued, caplog):
    """While the file's chunks are being written, another session changes another job at once; afterwards
    every row is in the table, exactly once, and the run's private file is gone."""
    big = queued("sales_big.csv", sales(1000))
    bystander = queued("sales_other.csv", sales(5, tag="O"))
    waits: list[float] = []

    def progress(rows: int) -> None:
        if rows < 1000:
            waits.append(other_session_writes(bystander.pk))

    with caplog.at_level("INFO", logger="imports.services.importing"):
        job = import_job_run(job_id=big.pk, progress=progress)

    assert job.status == JobStatus.COMPLETE, job.error_message
    assert "failed unexpectedly" not in caplog.text
    assert len(waits) == 9 and max(waits) < 0.5, waits
    assert ImportJob.objects.get(pk=bystander.pk).notes == "touched"
    assert (job.success_count, job.inserted_count, job.error_count) == (1000, 1000, 0)
    assert table_count("sales") == 1000
    assert sorted(r[0] for r in table_rows("sales", "dono")) == [f"S{n:06d}" for n in range(1000)]
    assert job.summary["amount_total"] == f"{sum(n % 500 for n in range(1000)) + 250:.4f}"
    assert not job_rows_file_path(job_id=big.pk, attempt=1).exists()
    assert not reader_threads()


def test_import_lock_short_a_rejected_file_keeps_nothing_and_no_thread(queued):
    """A file refused half way (this table rejects the whole file on any error) keeps no row, no private
    file and no reader thread; the job says why."""
    from tableconfig.models import ImportTable

    ImportTable.objects.filter(table_name="sales").update(reject_file_on_error=True)
    content = sales(1000).replace(b"S000555,2026-10-24", b"S000555,2026-13-24")
    job = queued("sales_bad.csv", content)

    job = import_job_run(job_id=job.pk)

    assert job.status == JobStatus.PROCESSING_FAILED
    assert job.error_code == "rejected_on_errors"
    assert "1 of 1,000 rows are invalid" in job.error_message
    assert table_count("sales") == 0
    assert not list(job_rows_file_path(job_id=job.pk, attempt=1).parent.glob(f"job-{job.pk}-*"))
    assert not reader_threads()


@pytest.mark.parametrize(
    "name, content", [("sales_crash.csv", sales(1000)), ("products.csv", products(1000))]
)
def test_import_lock_short_failure_half_way_leaves_no_reader_thread(queued, monkeypatch, name, content):
    """An unexpected error at the fourth chunk (append table and unique table): nothing kept, job failed with
    the reason, and the thread that read ahead is gone."""
    job = queued(name, content)
    calls = []

    def progress(rows: int) -> None:
        calls.append(rows)
        if len(calls) == 4:
            raise RuntimeError("the disk went away")

    job = import_job_run(job_id=job.pk, progress=progress)

    assert job.status == JobStatus.FAILED
    assert "the disk went away" in job.error_message
    assert table_count(job.table_name) == 0
    assert not reader_threads()


@pytest.mark.skipif(
    ON_MYSQL, reason="MySQL imports lock the job's row: a second claim waits (test_lock_retry.py)"
)
def test_import_lock_short_a_superseded_run_keeps_nothing_and_the_later_run_imports_once(queued):
    """A later delivery claims the job while an earlier run is still reading: the earlier run's rows are not
    copied; the later run imports the file exactly once."""
    job = queued("sales_twice.csv", sales(500))

    def later_delivery_claims(rows: int) -> None:
        if rows == 100:
            assert job_status_compare_and_set(
                job_id=job.pk,
                from_statuses=[JobStatus.PROCESSING],
                to_status=JobStatus.PROCESSING,
                started=True,
            )

    first = import_job_run(job_id=job.pk, progress=later_delivery_claims)
    assert (first.status, first.attempts) == (JobStatus.PROCESSING, 2)
    assert table_count("sales") == 0

    ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.WAITING)
    final = import_job_run(job_id=job.pk)
    assert (final.status, final.attempts, final.success_count) == (JobStatus.COMPLETE, 3, 500)
    assert table_count("sales") == 500


@pytest.mark.skipif(
    ON_MYSQL, reason="MySQL imports lock the job's row: a second claim waits (test_lock_retry.py)"
)
def test_import_lock_short_two_deliveries_at_once_import_the_file_once_and_fail_nothing(queued, caplog):
    """A second delivery of the task runs the whole import while the first is still reading (a redelivery,
    a re-queue by the stale-job scan): the file is in the table once, the job complete, the first run
    bows out without failing the job, and no private file is left."""
    job = queued("sales_twice.csv", sales(500))
    inner = []

    def second_delivery(rows: int) -> None:
        if rows == 200 and not inner:
            inner.append(import_job_run(job_id=job.pk))

    with caplog.at_level("INFO", logger="imports.services.importing"):
        first = import_job_run(job_id=job.pk, progress=second_delivery)

    assert (inner[0].status, inner[0].attempts, inner[0].success_count) == (JobStatus.COMPLETE, 2, 500)
    assert (first.status, first.attempts, first.success_count) == (JobStatus.COMPLETE, 2, 500)
    assert "run 1 superseded" in caplog.text and "failed unexpectedly" not in caplog.text
    assert table_count("sales") == 500
    assert sorted(r[0] for r in table_rows("sales", "dono")) == [f"S{n:06d}" for n in range(500)]
    assert not list(job_rows_file_path(job_id=job.pk, attempt=1).parent.glob(f"job-{job.pk}-*"))


@pytest.mark.skipif(ON_MYSQL, reason="SQLite's single write lock; MySQL lock waits are test_lock_retry.py's")
def test_import_lock_short_a_claim_that_meets_a_busy_lock_is_retried_not_abandoned(
    queued, monkeypatch, caplog
):
    """Another session holds SQLite's write lock when the worker claims the job: the claim is tried again
    after a pause and the file imports; nobody is told it is 'being imported by another worker'."""
    job = queued("sales_busy.csv", sales(50))
    monkeypatch.setattr(importing, "CLAIM_BACKOFF", (0.5, 0.5, 0.5, 0.5))
    holder = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(1.2, lambda: holder.execute("COMMIT"))
    release.start()
    connection.ensure_connection()
    connection.connection.execute("PRAGMA busy_timeout = 200")
    try:
        with caplog.at_level("INFO", logger="imports.services.importing"):
            final = import_job_run(job_id=job.pk)
    finally:
        release.join()
        holder.close()
        connection.close()

    assert (final.status, final.attempts, final.success_count) == (JobStatus.COMPLETE, 1, 50)
    assert "trying the claim again" in caplog.text
    assert "another worker" not in caplog.text
