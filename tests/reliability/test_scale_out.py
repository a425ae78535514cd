"""Scale-out on Redis: two qcluster processes (two machines) import a 20-file batch exactly once, while one of
them is SIGKILLed mid-file and restarted, and every task is delivered a second time.

django-q2's Redis broker has no receipts: the tasks a killed cluster had taken are gone, and nothing stops a
task from being delivered twice. Exactness rests on the engine: the compare-and-set claim, one transaction
per file with the job row locked, a re-run replacing the job's rows, and the stale-job recovery re-queueing
what was lost.
"""

from __future__ import annotations

import re
import time

import pytest
import redis
from django_q.conf import Conf
from django_q.models import Task

from imports.models import ImportJob, JobStatus
from imports.services.batches import Upload, import_batch_submit, import_job_enqueue
from imports.services.jobs import job_progress_get
from imports.services.recovery import jobs_stale_recover

from .cluster import repeated_values, rows_of_job, rows_total, sales_csv, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

FILES = 20
ROWS = 20_000
CLUSTER_ENV = {"Q_WORKERS": "2", "IMPORT_CHUNK_ROWS": "2000"}


def _job_id(task_name: str) -> int | None:
    match = re.fullmatch(r"import-job-(\d+)", task_name)
    return int(match.group(1)) if match else None


def _import_results() -> int:
    """Import tasks whose run ended (the monitor saved their result)."""
    return Task.objects.filter(name__startswith="import-job-").count()


def _quiet_for(seconds: float, *, broker: redis.Redis, list_key: str, logs) -> None:
    """Wait until the queue is empty and no job has moved (status or progress) for `seconds`."""
    state: dict = {"snapshot": None, "since": time.monotonic()}

    def settled() -> bool:
        snapshot = [(j.pk, j.status, job_progress_get(j)) for j in ImportJob.objects.order_by("pk")]
        snapshot.append(_import_results())
        if snapshot != state["snapshot"] or broker.llen(list_key):
            state.update(snapshot=snapshot, since=time.monotonic())
            return False
        return time.monotonic() - state["since"] >= seconds

    wait_for(settled, timeout=240, what="the clusters to finish what they hold", logs=logs, interval=0.25)


def test_scale_out_two_clusters_import_a_batch_exactly_once_through_a_sigkill_and_redeliveries(
    tmp_path, demo_tables, redis_everywhere, processes, settings
):
    env = {**CLUSTER_ENV, "REDIS_URL": redis_everywhere}
    broker = redis.from_url(redis_everywhere)
    list_key = f"django_q:{Conf.CLUSTER_NAME}:q"
    a, b = processes.cluster("a", **env), processes.cluster("b", **env)
    processes.running(a, b)

    uploads = [
        Upload(name=f"sales_{n:02d}.csv", chunks=[sales_csv(tmp_path / f"s{n}.csv", rows=ROWS, tag=f"F{n:02d}").read_bytes()])
        for n in range(FILES)
    ]  # fmt: skip
    batch = import_batch_submit(uploads=uploads, mode="full")  # one task per file, onto Redis
    job_ids = sorted(j.pk for j in batch.jobs if j.status == JobStatus.WAITING)
    assert len(job_ids) == FILES

    def a_mid_file() -> int | None:
        """A job that a worker of cluster A is importing right now, part way through its file."""
        for _, task_name in reversed(a.processing()):
            job = ImportJob.objects.filter(pk=_job_id(task_name)).first()
            if job and job.status == JobStatus.PROCESSING and 0 < job_progress_get(job) < ROWS:
                return job.pk
        return None

    killed = wait_for(a_mid_file, timeout=180, what="cluster A to be part way through a file", logs=(a, b))
    a.kill()
    # The killed worker's transaction rolls back: none of that file's rows remain.
    wait_for(lambda: rows_of_job("sales", killed) == 0, timeout=60, what="the rollback", logs=(b,))
    a2 = processes.cluster("a-restarted", **env)
    processes.running(a2)

    # What A had taken from Redis is lost with it (no receipts): those jobs stop moving.
    _quiet_for(6, broker=broker, list_key=list_key, logs=(a2, b))
    stuck = sorted(
        ImportJob.objects.filter(pk__in=job_ids)
        .exclude(status=JobStatus.COMPLETE)
        .values_list("pk", flat=True)
    )
    assert killed in stuck
    assert ImportJob.objects.get(pk=killed).status == JobStatus.PROCESSING
    finished_before = _import_results()

    # The stale-job recovery (scheduled every minute; run here with a short JOB_STALE_AFTER) re-queues them,
    # and every task is delivered once more, as a broker that re-delivers would.
    settings.JOB_STALE_AFTER = 2
    time.sleep(2.5)
    report = jobs_stale_recover()
    assert sorted(report.requeued) == stuck and report.failed == []
    for job_id in job_ids:
        import_job_enqueue(job_id=job_id)
    deliveries = len(stuck) + FILES
    wait_for(
        lambda: _import_results() >= finished_before + deliveries and not broker.llen(list_key),
        timeout=300,
        what=f"{deliveries} more import tasks to run",
        logs=(a2, b),
        interval=0.25,
    )

    jobs = {j.pk: j for j in ImportJob.objects.filter(pk__in=job_ids)}
    assert {j.status for j in jobs.values()} == {JobStatus.COMPLETE}
    assert {pk: (rows_of_job("sales", pk), j.success_count) for pk, j in jobs.items()} == {
        pk: (ROWS, ROWS) for pk in job_ids
    }
    assert rows_total("sales") == FILES * ROWS
    assert repeated_values("sales", "dono") == []
    # The killed file ran at least twice; a file never ran more often than it was delivered.
    assert jobs[killed].attempts >= 2
    assert all(1 <= j.attempts <= 3 for j in jobs.values())
    # The workers' own account: each job completed once, and the repeated deliveries found it done.
    log = a.log() + a2.log() + b.log()
    completions = {pk: len(re.findall(rf"Job {pk} complete:", log)) for pk in job_ids}
    assert all(count <= 1 for count in completions.values()), completions
    assert all(completions[pk] == 1 for pk in stuck), completions
    refused = len(re.findall(r"Job \d+ is not waiting|Job \d+ is being imported by another worker", log))
    assert refused >= FILES - len(stuck)
