from django.apps import AppConfig
from django.db.models.signals import post_migrate

STALE_JOBS_SCHEDULE = "importhub: recover stale jobs"
UPLOADS_PURGE_SCHEDULE = "importhub: purge expired kept uploads"
INBOX_POLL_SCHEDULE = "importhub: poll the inbox folders and mailbox"


def stale_jobs_schedule_ensure(**kwargs) -> None:
    """Keep one django-q2 schedule that runs the stale-job recovery every minute (django-q2's scheduler looks
    at its schedules every 30 seconds, so a run starts up to half a minute late)."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=STALE_JOBS_SCHEDULE,
        defaults={"func": "imports.tasks.stale_jobs_task", "schedule_type": Schedule.MINUTES, "minutes": 1},
    )


def uploads_purge_schedule_ensure(**kwargs) -> None:
    """Keep one django-q2 schedule that archives or deletes the kept uploads whose time is up (failed jobs'
    after FAILED_UPLOAD_KEEP_DAYS, dry runs' after DRY_RUN_KEEP_HOURS), every UPLOAD_PURGE_MINUTES."""
    from django.conf import settings
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=UPLOADS_PURGE_SCHEDULE,
        defaults={
            "func": "imports.tasks.uploads_purge_task",
            "schedule_type": Schedule.MINUTES,
            "minutes": settings.UPLOAD_PURGE_MINUTES,
        },
    )


def inbox_poll_schedule_ensure(**kwargs) -> None:
    """Keep one django-q2 schedule that scans the inbox folders and the mailbox every INBOX_POLL_SECONDS,
    rounded up to whole minutes (django-q2's schedules count in minutes); the task returns at once when
    neither INBOX_DIR nor INBOX_IMAP_URL is set. `manage.py inbox_scan` polls in seconds."""
    import math

    from django.conf import settings
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=INBOX_POLL_SCHEDULE,
        defaults={
            "func": "imports.tasks.inbox_poll_task",
            "schedule_type": Schedule.MINUTES,
            "minutes": max(1, math.ceil(settings.INBOX_POLL_SECONDS / 60)),
        },
    )


class ImportsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "imports"
    verbose_name = "Imports"

    def ready(self) -> None:
        from django.conf import settings

        from .memory import process_memory_tune
        from .services.reminders import reminders_at_parse, reminders_schedule_ensure

        process_memory_tune(enabled=settings.IMPORT_MEMORY_RETURN)
        reminders_at_parse(settings.REMINDERS_AT)  # a bad value stops every start, not just the first run
        post_migrate.connect(stale_jobs_schedule_ensure, sender=self)
        post_migrate.connect(uploads_purge_schedule_ensure, sender=self)
        post_migrate.connect(reminders_schedule_ensure, sender=self)
        post_migrate.connect(inbox_poll_schedule_ensure, sender=self)
