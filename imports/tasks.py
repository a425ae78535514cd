"""django-q2 entry points: fetch by id, call the services, nothing else."""

from .services.importing import import_job_run


def import_job_task(job_id: int) -> str:
    job = import_job_run(job_id=job_id)
    return f"job {job_id}: {job.get_status_display() if job else 'busy elsewhere'}"
