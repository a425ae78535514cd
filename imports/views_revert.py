"""The batch page's revert: GET shows what reverting a file's import would remove and restore and asks to
confirm; only the confirming POST reverts. A thin view over `services/revert.py`."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render

from importhub.errors import ImportHubError

from .api.revert import REVERT_PERMISSION
from .models import ImportJob
from .selectors import jobs_visible
from .services.revert import import_job_revert, import_job_revert_preview
from .views import _page_permission

can_revert = _page_permission(
    lambda user: user.has_perm(REVERT_PERMISSION),
    f"You do not have permission to revert imports ({REVERT_PERMISSION}).",
)


def _job(request, batch_id: uuid.UUID, job_id: int) -> ImportJob:
    job = (
        jobs_visible(request.user)
        .filter(batch_id=batch_id, pk=job_id)
        .select_related("table", "reverted_by")
        .first()
    )
    if job is None:
        raise Http404("File not found.")
    return job


@can_revert
def job_revert(request, batch_id: uuid.UUID, job_id: int):
    job = _job(request, batch_id, job_id)
    error = ""
    if request.method == "POST":
        try:
            result = import_job_revert(job=job, user=request.user, cascade=bool(request.POST.get("cascade")))
        except ImportHubError as exc:
            error = exc.message
        else:
            level = messages.WARNING if result.overwritten_before else messages.SUCCESS
            messages.add_message(request, level, f"Reverted {job.original_filename}: {result.message}")
            return redirect(f"/batches/{job.batch_id}/#file-{job.id}")
        job.refresh_from_db()
    preview = import_job_revert_preview(job=job)
    return render(
        request,
        "imports/revert_confirm.html",
        {"job": job, "preview": preview, "error": error},
        status=400 if error else 200,
    )
