"""Stale-job recovery: nothing stays waiting or processing forever, and nothing is re-queued forever.

Run every minute by django-q2's scheduler (see ImportsConfig.ready). A job counts as stale when it has not
moved for JOB_STALE_AFTER:
- processing: its heartbeat (written after every chunk) is older than that: the worker died. The job is
  queued again (the import is idempotent) until it has been run Q_MAX_ATTEMPTS times, then failed;
- waiting: queued that long ago and its task is no longer in the broker (the Redis broker has no receipts:
  a task a dead cluster had taken is gone). Re-queued until it has been delivered Q_MAX_ATTEMPTS times, then
  failed. A waiting job whose task is still queued is left alone, however long the backlog;
- uploaded, validating, validation ok: the request died; failed with a message. A dry run that ended 5
  (every row checked, `completed_at` set) is not stale: it waits for its import.
A retried job counts its runs and deliveries from the retry (`attempts_before_retry`,
`deliveries_before_retry`): each retry gets Q_MAX_ATTEMPTS of its own, while the numbers themselves only grow.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ..models import ImportJob, JobStatus
from .batches import import_job_enqueue
from .heartbeats import job_heartbeats_get
from .jobs import job_file_release, job_status_compare_and_set

logger = logging.getLogger(__name__)

IN_REQUEST = (JobStatus.UPLOADED, JobStatus.VALIDATING, JobStatus.VALIDATION_OK)
QUEUED = (JobStatus.WAITING, JobStatus.PROCESSING)
_TASK_NAME_RE = re.compile(r"import-job-(\d+)")


@dataclass
class RecoveryReport:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    alive: list[int] = field(default_factory=list)


def broker_queued_job_ids() -> set[int] | None:
    """Jobs whose import task the broker still holds: queued, or taken by a worker and not acknowledged yet
    (the ORM broker hands those out again after Q_RETRY). None for a broker that cannot be listed."""
    from django_q.brokers import get_broker
    from django_q.brokers.orm import ORM
    from django_q.brokers.redis_broker import Redis
    from django_q.models import OrmQ
    from django_q.signing import SignedPackage

    broker = get_broker()
    if isinstance(broker, ORM):
        payloads = broker.get_connection().filter(key=broker.list_key).values_list("payload", flat=True)
        names = [OrmQ(payload=payload).name() for payload in payloads]
    elif isinstance(broker, Redis):
        names = []
        for payload in broker.connection.lrange(broker.list_key, 0, -1):
            try:
                names.append(SignedPackage.loads(payload).get("name"))
            except Exception:  # not one of ours, or signed with another key
                continue
    else:
        return None
    return {int(match.group(1)) for name in names if name and (match := _TASK_NAME_RE.fullmatch(name))}


def _stale_candidates(cutoff: dt.datetime) -> list[ImportJob]:
    jobs = (
        ImportJob.objects.filter(status__in=[*IN_REQUEST, *QUEUED], updated_at__lt=cutoff)
        .exclude(status=JobStatus.VALIDATION_OK, completed_at__isnull=False)  # a checked dry run
        .order_by("id")
    )
    if connection.features.has_select_for_update_skip_locked:
        # A job whose row is locked is being imported right now (the import holds the lock): skip it.
        with transaction.atomic():
            return list(jobs.select_for_update(skip_locked=True))
    return list(jobs)


def _task_lost(job: ImportJob, queued: set[int] | None) -> bool:
    """Whether the job's last delivery is gone: not in the broker (a broker that cannot be listed: assume so).
    A processing job's run consumed its delivery; one re-queued since (deliveries > attempts) waits for it."""
    if job.status == JobStatus.PROCESSING and job.deliveries <= job.attempts:
        return True
    return queued is None or job.id not in queued


def jobs_stale_recover(*, now: dt.datetime | None = None) -> RecoveryReport:
    """Re-queue or fail jobs that stopped moving; return what was done."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.JOB_STALE_AFTER)
    max_attempts = settings.Q_CLUSTER.get("max_attempts") or 3
    report = RecoveryReport()
    candidates = _stale_candidates(cutoff)
    beats = job_heartbeats_get(j.id for j in candidates if j.status == JobStatus.PROCESSING)
    queued = broker_queued_job_ids() if any(j.status in QUEUED for j in candidates) else set()
    for job in candidates:
        beat = beats.get(job.id)
        if beat and beat.beat_at >= cutoff:
            report.alive.append(job.id)  # its import reported progress lately
            continue
        if job.status in QUEUED and not _task_lost(job, queued):
            report.alive.append(job.id)  # its task is still in the queue: a backlog, not a loss
            continue
        minutes = max(int((now - (beat.beat_at if beat else job.updated_at)).total_seconds() // 60), 1)
        if job.status in IN_REQUEST:
            _job_give_up(
                job,
                report,
                code="stale_validation",
                message=f"Validation was interrupted (no progress for {minutes} minutes): the server stopped "
                "during the upload. Upload the file again.",
            )
        elif job.status == JobStatus.PROCESSING and job.attempts - job.attempts_before_retry >= max_attempts:
            _job_give_up(
                job,
                report,
                code="stale_import",
                message=f"The import stopped {job.attempts - job.attempts_before_retry} times without finishing and was given up. No rows "
                "were kept. Upload the file again, or ask an administrator to check the worker logs.",
            )
        elif job.status == JobStatus.WAITING and job.deliveries - job.deliveries_before_retry >= max_attempts:
            _job_give_up(
                job,
                report,
                code="stale_queue",
                message=f"The import was queued {job.deliveries - job.deliveries_before_retry} times and its task was lost each time; it was "
                "given up. No rows were kept. Check that a worker (manage.py qcluster) is running and can "
                "reach the broker, then upload the file again.",
            )
        elif job_status_compare_and_set(
            job_id=job.id,
            from_statuses=[job.status],
            to_status=job.status,
            where={"deliveries": job.deliveries},  # a scan running at the same time re-queues it, not both
        ):
            import_job_enqueue(job_id=job.id)
            report.requeued.append(job.id)
    if report.requeued or report.failed:
        logger.warning("Stale jobs: re-queued %s, failed %s", report.requeued, report.failed)
    return report


def _job_give_up(job: ImportJob, report: RecoveryReport, *, code: str, message: str) -> None:
    if job_status_compare_and_set(
        job_id=job.id,
        from_statuses=[job.status],
        to_status=JobStatus.FAILED,
        instance=job,
        error_message=message,
        error_code=code,
        notes=message,
    ):
        job_file_release(job)
        report.failed.append(job.id)
