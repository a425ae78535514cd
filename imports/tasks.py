"""django-q2 entry points: fetch by id, call the services, nothing else."""

from .archive.workflow import job_archive_run
from .services.importing import import_job_run


def import_job_task(job_id: int) -> str:
    job = import_job_run(job_id=job_id)
    return f"job {job_id}: {job.get_status_display() if job else 'busy elsewhere'}"


def archive_job_task(job_id: int) -> str:
    job = job_archive_run(job_id=job_id)
    return (
        f"job {job_id}: archive {job.archive_status or 'not handed over'}" if job else f"job {job_id}: gone"
    )


def stale_jobs_task() -> str:
    """Scheduled every minute (see ImportsConfig.ready): re-queue or fail jobs that stopped moving."""
    from .services.recovery import jobs_stale_recover

    report = jobs_stale_recover()
    return f"re-queued {len(report.requeued)}, failed {len(report.failed)}"


def uploads_purge_task() -> str:
    """Scheduled every UPLOAD_PURGE_MINUTES (see ImportsConfig.ready): archive or delete expired kept uploads."""
    from .services.retention import uploads_expired_purge

    report = uploads_expired_purge()
    return f"deleted {len(report.deleted)}, archived {len(report.archived)}"


def data_export_task(export_id: int) -> str:
    """A data page export too big for the request (imports.services.exports_bg)."""
    from .services.exports_bg import data_export_run

    export = data_export_run(export_id=export_id)
    return f"export {export_id}: {export.status if export else 'gone'}"


def reminders_task() -> str:
    """Scheduled daily at REMINDERS_AT (see ImportsConfig.ready): mail missing and late files, and the digest."""
    from .services.reminders import reminders_send

    return str(reminders_send())


def inbox_poll_task() -> str:
    """Scheduled every INBOX_POLL_SECONDS, rounded up to minutes (see ImportsConfig.ready): the inbox folders,
    then the mailbox. Each part's failure is logged and never stops the other or the schedule."""
    import logging

    from django.conf import settings

    logger = logging.getLogger(__name__)
    parts = []
    if settings.INBOX_DIR:
        try:
            from .services.inbox_folders import inbox_folders_scan

            parts.append(str(inbox_folders_scan()))
        except Exception as exc:
            logger.exception("Inbox folders scan failed")
            parts.append(f"inbox folders: failed ({type(exc).__name__}: {exc})")
    if settings.INBOX_IMAP_URL:
        try:
            from .services.inbox_mail import mailbox_poll

            parts.append(str(mailbox_poll()))
        except Exception as exc:
            logger.exception("Mailbox poll failed")
            parts.append(f"mailbox: failed ({type(exc).__name__}: {exc})")
    return "; ".join(parts) or "inbox: off (INBOX_DIR and INBOX_IMAP_URL are empty)"
