"""The stale-job scan and a backlog: waiting jobs whose tasks are still in the broker are left alone however old
they are; only jobs whose task is really gone are queued again, once per loss, and given up after
Q_MAX_ATTEMPTS deliveries. On both brokers: the ORM broker (django_q's OrmQ table) and Redis (its queue list)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.conf import Conf

from imports.models import ImportJob, JobStatus
from imports.services.batches import import_job_enqueue
from imports.services.recovery import jobs_stale_recover

pytestmark = pytest.mark.django_db(transaction=True)

BACKLOG = 300


@pytest.fixture(params=["orm", "redis"])
def broker(request, monkeypatch):
    """The broker this process enqueues to, on a queue of this test's own that no cluster reads: tasks stay."""
    request.getfixturevalue("cluster_broker" if request.param == "orm" else "redis_everywhere")
    monkeypatch.setattr(Conf, "CLUSTER_NAME", f"backlog-{uuid.uuid4().hex[:8]}")
    broker = get_broker()
    broker.purge_queue()
    return broker


def _backlog(count: int) -> list[int]:
    ImportJob.objects.bulk_create(
        [ImportJob(table_name="sales", status=JobStatus.WAITING, stored_filename=f"b/{n}.csv") for n in range(count)]
    )  # fmt: skip
    ids = list(ImportJob.objects.order_by("id").values_list("id", flat=True))
    for job_id in ids:
        import_job_enqueue(job_id=job_id)
    return ids


def _age(ids: list[int], *, minutes: int = 10) -> None:
    ImportJob.objects.filter(pk__in=ids).update(updated_at=timezone.now() - dt.timedelta(minutes=minutes))


def _deliveries() -> set[int]:
    return set(ImportJob.objects.values_list("deliveries", flat=True))


def test_recovery_leaves_a_backlog_with_live_tasks_alone_and_requeues_lost_tasks_once(broker, settings):
    ids = _backlog(BACKLOG)
    _age(ids)  # all older than JOB_STALE_AFTER
    assert broker.queue_size() == BACKLOG

    for _ in range(3):  # three scans, as three minutes of the schedule
        report = jobs_stale_recover()
        assert (len(report.alive), report.requeued, report.failed) == (BACKLOG, [], [])
    assert _deliveries() == {1} and broker.queue_size() == BACKLOG

    broker.purge_queue()  # the tasks are lost (a Redis cluster that had taken them died)
    report = jobs_stale_recover()
    assert (sorted(report.requeued), report.failed) == (ids, [])
    assert _deliveries() == {2} and broker.queue_size() == BACKLOG
    assert jobs_stale_recover().requeued == []  # just re-queued: not stale
    _age(ids)
    assert jobs_stale_recover().requeued == []  # stale again, but its new task is in the queue
    assert _deliveries() == {2} and broker.queue_size() == BACKLOG
    assert set(ImportJob.objects.values_list("status", flat=True)) == {JobStatus.WAITING}


def test_recovery_gives_up_a_job_whose_task_is_lost_every_time(broker, settings):
    ids = _backlog(3)
    for _ in range(settings.Q_CLUSTER["max_attempts"] - 1):
        broker.purge_queue()
        _age(ids)
        assert sorted(jobs_stale_recover().requeued) == ids
    broker.purge_queue()
    _age(ids)
    report = jobs_stale_recover()
    assert (report.requeued, sorted(report.failed)) == ([], ids)
    job = ImportJob.objects.get(pk=ids[0])
    assert (job.status, job.error_code, job.deliveries) == (JobStatus.FAILED, "stale_queue", 3)
    assert job.error_message.startswith("The import was queued 3 times and its task was lost each time")
    assert broker.queue_size() == 0
