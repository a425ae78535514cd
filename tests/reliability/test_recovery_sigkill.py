"""A worker SIGKILLed mid-import with the default settings, on each broker at once: the job is complete again,
exactly once, within 5 minutes.

Neither broker brings the task back by itself in that time: Redis (BLPOP, no receipts) has lost it, and the
ORM broker hands it out again only after Q_RETRY (Q_TIMEOUT + 300 s, 65 minutes by default). The stale-job
scan (django-q2's schedule, every minute) sees the job's heartbeat stop for JOB_STALE_AFTER (120 s) and queues
it again; the second run replaces the first one's nothing and completes.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from django.conf import settings
from django_q.conf import Conf
from django_q.models import Schedule

from imports.apps import STALE_JOBS_SCHEDULE, stale_jobs_schedule_ensure
from imports.models import ImportJob, JobHeartbeat, JobStatus
from imports.services.batches import Upload, import_batch_submit
from imports.services.jobs import job_progress_get

from .cluster import rows_of_job, rows_total, sales_csv, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROWS = 300_000
# Small chunks: many heartbeats, so the test sees the job part way and kills it there.
CHUNK_ROWS = "2000"
RECOVERED_WITHIN = 300
# The production defaults (tests/reliability/cluster.py shortens Q_TIMEOUT and Q_RETRY for other tests).
DEFAULTS = {"Q_TIMEOUT": "3600", "Q_RETRY": "3900", "IMPORT_CHUNK_ROWS": CHUNK_ROWS}


def _submit(tmp_path, tag: str, monkeypatch, **conf) -> ImportJob:
    """One big file, its task queued on the broker `conf` selects (as that deployment's web server does)."""
    with monkeypatch.context() as patch:
        patch.setattr(Conf, "SYNC", False)
        for name, value in conf.items():
            patch.setattr(Conf, name, value)
        path = sales_csv(tmp_path / f"sales_{tag}.csv", rows=ROWS, tag=tag)
        batch = import_batch_submit(uploads=[Upload(name=path.name, chunks=[path.read_bytes()])], mode="full")
    (job,) = [j for j in batch.jobs if j.original_filename]
    job.refresh_from_db()
    assert (job.status, job.deliveries) == (JobStatus.WAITING, 1)
    return job


def test_worker_sigkilled_mid_import_on_each_broker_is_complete_again_once_within_5_minutes(
    tmp_path, demo_tables, processes, redis_url, monkeypatch
):
    assert settings.JOB_STALE_AFTER == 120 and "JOB_STALE_AFTER" not in os.environ
    stale_jobs_schedule_ensure()
    assert Schedule.objects.get(name=STALE_JOBS_SCHEDULE).minutes == 1

    orm = processes.cluster("orm", **DEFAULTS)
    on_redis = processes.cluster("redis", REDIS_URL=redis_url, **DEFAULTS)
    processes.running(orm, on_redis)
    jobs = {
        "orm": (_submit(tmp_path, "ORM", monkeypatch), orm),
        "redis": (_submit(tmp_path, "RDS", monkeypatch, ORM=None, REDIS=redis_url), on_redis),
    }

    killed_at: dict[str, float] = {}

    def both_killed_mid_file() -> bool:
        for broker, (job, cluster) in jobs.items():
            if broker in killed_at:
                continue
            current = ImportJob.objects.get(pk=job.pk)
            if current.status == JobStatus.PROCESSING and 0 < job_progress_get(current) < ROWS:
                worker = next(
                    w for w, task in reversed(cluster.processing()) if task == f"import-job-{job.pk}"
                )
                os.kill(cluster.worker_pids()[worker], signal.SIGKILL)
                killed_at[broker] = time.monotonic()
        return len(killed_at) == len(jobs)

    wait_for(
        both_killed_mid_file,
        timeout=180,
        what="both jobs part way through",
        logs=(orm, on_redis),
        interval=0.05,
    )
    for job, _ in jobs.values():
        assert ImportJob.objects.get(pk=job.pk).status == JobStatus.PROCESSING

    def complete() -> bool:
        return all(ImportJob.objects.get(pk=job.pk).status == JobStatus.COMPLETE for job, _ in jobs.values())

    wait_for(complete, timeout=RECOVERED_WITHIN + 30, what="both jobs complete again", logs=(orm, on_redis))
    finished = time.monotonic()
    for broker, (job, _) in jobs.items():
        assert finished - killed_at[broker] < RECOVERED_WITHIN, broker
        job.refresh_from_db()
        assert (job.status, job.success_count, job.attempts) == (JobStatus.COMPLETE, ROWS, 2), broker
        assert rows_of_job("sales", job.pk) == ROWS, broker
        assert not JobHeartbeat.objects.filter(job_id=job.pk).exists(), broker
    assert rows_total("sales") == 2 * ROWS
    assert "Stale jobs: re-queued" in orm.log() + on_redis.log()
