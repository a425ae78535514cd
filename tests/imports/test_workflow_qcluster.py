"""A real django-q2 cluster runs the dry run, then the import of the checked file, then a retried file."""

import pytest
from django.core.management import call_command

from imports.models import ImportJob, ImportMode, JobStatus
from imports.services.batches import Upload, import_batch_submit
from imports.services.workflow import batch_checked_import, job_retry
from tableconfig.models import ColumnConfig
from tableconfig.services import alias_create
from tests.worker.test_qcluster import Cluster, _wait

from .conftest import DATA, table_count

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WORKFLOW = DATA / "workflow"


def _submit(name: str, mode: str):
    return import_batch_submit(
        uploads=[Upload(name=name, chunks=[(WORKFLOW / name).read_bytes()])], mode=mode
    )


def test_qcluster_dry_run_then_import_and_a_retry(tmp_path, monkeypatch, admin_user):
    from django_q.conf import Conf

    call_command("load_demo_config", verbosity=0)
    monkeypatch.setattr(Conf, "SYNC", False)  # this process only enqueues; the cluster does the work
    checked = _submit("sales_bad_rows_2_26.csv", ImportMode.DRY_RUN)
    refused = _submit("sales_unknown_date_header.csv", ImportMode.BOTH)
    dry = ImportJob.objects.get(batch_id=checked.batch_id, original_filename="sales_bad_rows_2_26.csv")
    failed = ImportJob.objects.get(
        batch_id=refused.batch_id, original_filename="sales_unknown_date_header.csv"
    )
    assert (dry.status, failed.status) == (JobStatus.WAITING, JobStatus.VALIDATION_FAILED)

    log = tmp_path / "qcluster.log"
    cluster = Cluster(log)
    try:

        def status_of(job, status):
            return lambda: ImportJob.objects.get(pk=job.pk).status == status

        _wait(status_of(dry, JobStatus.VALIDATION_FAILED), timeout=60, what="the dry run", log=log)
        dry.refresh_from_db()
        assert (dry.error_code, dry.error_count, dry.total_rows) == ("row_errors", 2, 30)
        assert table_count("sales") == 0

        batch_checked_import(batch_id=checked.batch_id, user=admin_user)
        _wait(status_of(dry, JobStatus.COMPLETE), timeout=60, what="the checked file's import", log=log)
        assert table_count("sales") == 28

        alias_create(
            column=ColumnConfig.objects.get(table__table_name="sales", column_name="dotanggal"),
            alias_name="tgl_kirim",
        )
        assert job_retry(job_id=failed.pk, user=admin_user).status in (
            JobStatus.WAITING,
            JobStatus.PROCESSING,
            JobStatus.COMPLETE,
        )
        _wait(status_of(failed, JobStatus.COMPLETE), timeout=60, what="the retried file's import", log=log)
    finally:
        cluster.stop()
    assert table_count("sales") == 33
    dry.refresh_from_db()
    assert (dry.success_count, dry.error_count, dry.mode) == (28, 2, ImportMode.FULL)
