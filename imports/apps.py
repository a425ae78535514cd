from django.apps import AppConfig
from django.db.models.signals import post_migrate

STALE_JOBS_SCHEDULE = "importhub: recover stale jobs"


def stale_jobs_schedule_ensure(**kwargs) -> None:
    """Keep one django-q2 schedule that runs the stale-job recovery every minute (django-q2's scheduler looks
    at its schedules every 30 seconds, so a run starts up to half a minute late)."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=STALE_JOBS_SCHEDULE,
        defaults={"func": "imports.tasks.stale_jobs_task", "schedule_type": Schedule.MINUTES, "minutes": 1},
    )


class ImportsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "imports"
    verbose_name = "Imports"

    def ready(self) -> None:
        post_migrate.connect(stale_jobs_schedule_ensure, sender=self)
