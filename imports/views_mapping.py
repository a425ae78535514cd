"""Staff page action: save a file's header mapping from the batch page (a thin view over `job_headers_map`)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from importhub.errors import ImportHubError

from .api.mapping import MAPPING_PERMISSIONS
from .selectors import jobs_visible
from .services.header_mapping import job_headers_map
from .views import _page_permission

can_map = _page_permission(
    lambda user: user.has_perms(MAPPING_PERMISSIONS),
    f"You do not have permission to map headers ({' and '.join(MAPPING_PERMISSIONS)}).",
)


@can_map
@require_POST
def job_mapping_save(request, batch_id: uuid.UUID, job_id: int):
    """The form posts pairs of `header` and `column` fields, in order; a header left on "(ignore)" is skipped."""
    job = jobs_visible(request.user).select_related("table").filter(batch_id=batch_id, pk=job_id).first()
    if job is None:
        raise Http404("File not found.")
    headers = request.POST.getlist("header")
    columns = request.POST.getlist("column")
    chosen = {h: c for h, c in zip(headers, columns, strict=False) if c.strip()}
    try:
        saved = job_headers_map(job=job, headers=chosen, user=request.user)
    except ImportHubError as exc:
        messages.error(request, f"{job.original_filename}: nothing saved. {exc.message}")
    else:
        messages.success(request, saved.message)
    return redirect(reverse("batch-detail", args=[batch_id]) + f"#file-{job.id}")
