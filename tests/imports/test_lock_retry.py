"""Lock trouble on MySQL/MariaDB (1205 lock wait timeout, 1213 deadlock) re-runs the file like a lost
connection, nothing kept from the failed run; and the failure path is a compare-and-set, so a duplicate
delivery can never overwrite another worker's "complete". Real second sessions, real locks."""

from __future__ import annotations

import threading
import time

import MySQLdb
import pytest
from django.db import connection
from django.db.backends.signals import connection_created

from imports.models import ImportJob, JobStatus
from imports.services.jobs import job_fail

from .conftest import table_count, table_rows, upload

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("mysql_only")]


def other_session() -> MySQLdb.Connection:
    """A second session on the test database, as another worker or a report would open."""
    s = connection.settings_dict
    return MySQLdb.connect(
        host=s["HOST"] or "127.0.0.1",
        port=int(s["PORT"] or 3306),
        user=s["USER"],
        passwd=s["PASSWORD"],
        database=s["NAME"],
        autocommit=False,
    )


def import_products(api, name: str) -> ImportJob:
    response = api.post(
        "/api/import", {"files": [upload(name)], "mode": "full", "table_name": "products"}, format="multipart"
    )
    assert response.status_code == 202, response.content
    return ImportJob.objects.get(batch_id=response.json()["data"]["batch_id"])


def products_by_sku() -> dict:
    return {sku: (name, job) for sku, name, job in table_rows("products", "sku, product_name, import_job_id")}


@pytest.fixture
def products_loaded(admin_api, demo_tables) -> ImportJob:
    job = import_products(admin_api, "products.csv")
    assert job.status == JobStatus.COMPLETE and table_count("products") == 10
    return job


@pytest.fixture
def first_session_lock_wait(settings):
    """The importing session waits 1 s for a lock (instead of 50); the sessions of the retries keep the
    server's default, so a retry waits until the lock is let go."""
    opened = []

    def short_wait(sender, connection, **kwargs):
        opened.append(connection)
        if len(opened) == 1:
            with connection.cursor() as cursor:
                cursor.execute("SET SESSION innodb_lock_wait_timeout = 1")

    connection.close()
    connection_created.connect(short_wait)
    yield opened
    connection_created.disconnect(short_wait)


def assert_updated_once(job: ImportJob) -> None:
    """products_update.csv imported exactly once: 1 new row, 6 updated, one repeated key."""
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETE, (job.status, job.notes)
    counts = (job.inserted_count, job.updated_count, job.skipped_count, job.repeated_count)
    assert counts == (1, 6, 0, 1)
    rows = products_by_sku()
    assert len(rows) == 11 and table_count("products") == 11
    assert rows["P001"] == ("Product 1 v2", job.id)
    assert rows["P006"] == ("last P006", job.id)
    assert rows["P011"] == ("Product 11", job.id)


def test_import_after_a_lock_wait_timeout_is_retried_and_completes_once(
    admin_api, products_loaded, first_session_lock_wait
):
    holder = other_session()
    cursor = holder.cursor()
    cursor.execute("SELECT id FROM products WHERE sku = 'P005' FOR UPDATE")
    release = threading.Timer(3.0, holder.rollback)
    release.start()
    try:
        job = import_products(admin_api, "products_update.csv")
    finally:
        release.join()
        holder.close()
    assert job.attempts == 2
    assert "The import is being retried." not in job.notes
    assert_updated_once(job)


def test_import_chosen_as_a_deadlock_victim_is_retried_and_completes_once(admin_api, products_loaded):
    """Session B locks P005, then (once the import waits for it, holding P001 to P004) asks for P001: a true
    deadlock. B has written many rows, so InnoDB rolls back the lighter import."""
    ids = [row_id for (row_id,) in table_rows("products", "id")]
    holder = other_session()
    cursor = holder.cursor()
    cursor.execute("CREATE TABLE lock_ballast (n INT PRIMARY KEY)")
    cursor.execute("INSERT INTO lock_ballast SELECT seq FROM seq_1_to_20000")
    cursor.execute("SELECT id FROM products WHERE id = %s FOR UPDATE", [ids[4]])
    outcome: dict = {}

    def cross() -> None:
        time.sleep(1.5)  # the import is now waiting for P005
        try:
            cursor.execute("SELECT id FROM products WHERE id = %s FOR UPDATE", [ids[0]])
            outcome["holder"] = "got the lock"
        except MySQLdb.OperationalError as exc:
            outcome["holder"] = exc.args[0]
        holder.rollback()

    crossing = threading.Thread(target=cross)
    crossing.start()
    try:
        job = import_products(admin_api, "products_update.csv")
    finally:
        crossing.join()
        holder.close()
    assert outcome["holder"] == "got the lock"  # the import was the victim, B went on
    assert job.attempts == 2
    assert_updated_once(job)


def test_failure_of_a_duplicate_delivery_does_not_overwrite_a_complete_job(products_loaded, admin_api):
    """Worker A holds the job's row and is about to commit "complete"; a duplicate delivery B, which read the
    job as processing, records its failure meanwhile: B's write waits for A, then finds the job complete and
    changes nothing."""
    job = import_products(admin_api, "products_update.csv")
    ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.PROCESSING)
    worker_a = other_session()
    cursor = worker_a.cursor()
    cursor.execute("SELECT id FROM imports_importjob WHERE id = %s FOR UPDATE", [job.pk])
    cursor.execute("UPDATE imports_importjob SET status = %s WHERE id = %s", [JobStatus.COMPLETE, job.pk])
    commit = threading.Timer(1.0, worker_a.commit)
    commit.start()
    started = time.monotonic()
    failed = job_fail(
        job_id=job.pk, status=JobStatus.FAILED, message="Lock wait timeout exceeded", code="unexpected_error"
    )
    waited = time.monotonic() - started
    commit.join()
    worker_a.close()
    assert waited > 0.5  # B's write did wait for A's lock
    assert failed is False
    assert_updated_once(job)
    job.refresh_from_db()
    assert (job.error_message, job.success_count) == ("", 7)
