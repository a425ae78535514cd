"""Staff pages' workflow actions on a batch: retry a failed file, import a dry run's checked files.

Thin POST views over `imports.services.workflow`; each answers with a message on the batch page.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from importhub.errors import ImportHubError

from .models import ImportBatch, JobStatus
from .selectors import jobs_visible
from .services.retention import job_upload_available
from .services.workflow import (
    RETRYABLE,
    batch_checked_import,
    batch_checked_jobs,
    job_retry,
    job_retry_message,
)
from .views import can_upload


def batch_workflow_context(*, user, batch_id: uuid.UUID, jobs: list) -> dict:
    """What the batch page's workflow parts show: the batch's warnings, which files can be retried, whether
    a dry run's checked files can be imported."""
    record = ImportBatch.objects.filter(batch_id=batch_id).first()
    can_act = user.has_perm("imports.add_importjob")
    return {
        "batch_record": record,
        "batch_warnings": record.warnings if record else [],
        "retryable_ids": {
            j.id for j in jobs if can_act and j.status in RETRYABLE and job_upload_available(j)
        },
        "checked_count": len(batch_checked_jobs(batch_id=batch_id)) if can_act else 0,
    }


def _visible_batch(request, batch_id: uuid.UUID) -> None:
    if not jobs_visible(request.user).filter(batch_id=batch_id).exists():
        raise Http404("Batch not found.")


@can_upload
@require_POST
def job_retry_page(request, batch_id: uuid.UUID, job_id: int):
    job = jobs_visible(request.user).filter(batch_id=batch_id, pk=job_id).first()
    if job is None:
        raise Http404("File not found.")
    try:
        job = job_retry(job_id=job.id, user=request.user)
    except ImportHubError as exc:
        messages.error(request, exc.message)
    else:
        (messages.success if job.status == JobStatus.WAITING else messages.error)(
            request, job_retry_message(job)
        )
    return redirect("batch-detail", batch_id=batch_id)


@can_upload
@require_POST
def batch_import_page(request, batch_id: uuid.UUID):
    _visible_batch(request, batch_id)
    try:
        jobs = batch_checked_import(batch_id=batch_id, user=request.user)
    except ImportHubError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"Importing {len(jobs)} checked file{'s' if len(jobs) != 1 else ''} in the background."
        )
    return redirect("batch-detail", batch_id=batch_id)
