"""Staff pages: upload and batches (the data pages are in views_data). Thin views over the services and selectors."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.utils.dateparse import parse_datetime

from importhub.errors import ImportHubError

from .forms import BATCH_STATUS_LABELS, BatchFilterForm, UploadForm, page_number_clean
from .models import BatchSource, JobStatus
from .selectors import batch_dict, batches_list, job_detail_dict, jobs_visible
from .services.batches import BatchResult, NoValidFiles, Upload, import_batch_submit
from .services.header_mapping import job_headers_offer
from .services.rejects import error_group_label

BATCHES_PER_PAGE = 25
ROW_ERRORS_SHOWN = 20
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _page_permission(check: Callable, message: str):
    """Login first; then a friendly 403 page, naming the permission, for a user who lacks it."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not check(request.user):
                return render(request, "imports/forbidden.html", {"message": message}, status=403)
            return view(request, *args, **kwargs)

        return login_required(wrapped)

    return decorator


can_upload = _page_permission(
    lambda user: user.has_perm("imports.add_importjob"),
    "You do not have permission to upload files (imports.add_importjob).",
)
can_view_data = _page_permission(
    lambda user: user.is_staff or user.has_perm("tableconfig.view_importtable"),
    "You do not have permission to see the imported data (tableconfig.view_importtable).",
)


def _submit(request, form: UploadForm) -> dict:
    uploads = [Upload(name=f.name, chunks=f.chunks(), size=f.size) for f in form.cleaned_data["files"]]
    try:
        batch: BatchResult = import_batch_submit(
            uploads=uploads,
            mode=form.cleaned_data["mode"],
            table_name=form.cleaned_data["table_name"],
            dist_id=form.cleaned_data["dist_id"],
            user=request.user,
            source=BatchSource.UPLOAD,
            force=form.cleaned_data["force"],
        )
    except NoValidFiles as exc:
        form.add_error("files", exc.message)
        return {"warnings": exc.details["warnings"]}
    except ImportHubError as exc:
        # A refused distributor is the dist_id's error; every other refusal is about the files.
        on_dist_id = isinstance(exc.details, dict) and exc.details.get("field") == "dist_id"
        form.add_error("dist_id" if on_dist_id else "files", exc.message)
        return {}
    valid = sum(r.valid for r in batch.results)
    if batch.all_failed:
        messages.error(request, "All files failed validation.")
    else:
        messages.success(request, f"{valid} of {len(batch.results)} files passed validation.")
    return {"batch": batch, "warnings": batch.warnings}


@can_upload
def upload(request):
    """Without JavaScript the form posts here and the results are rendered; with it, app.js uses the API."""
    context: dict = {}
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            context = _submit(request, form)
    else:
        form = UploadForm()
    # A refused form is the user's input: 400, like the API (the page shows the reason).
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "imports/upload.html", {"form": form, **context}, status=status)


def _batch_row(batch: dict) -> dict:
    files = [f for f in batch["files"] if f["status"] != JobStatus.SKIPPED]
    return {
        **batch,
        "status_label": BATCH_STATUS_LABELS.get(batch["status"], batch["status"]),
        "source_label": BatchSource(batch["source"]).label if batch["source"] else "",
        "created": parse_datetime(batch["created_at"]) if batch["created_at"] else None,
        "file_names": [f["filename"] for f in files],
        "missing_count": len(batch["files"]) - len(files),
    }


@login_required
def batch_list(request):
    form = BatchFilterForm(request.GET or None)
    page, page_error = page_number_clean(request.GET.get("page"))
    valid = not form.is_bound or form.is_valid()
    if page_error:
        form.add_error(None, page_error)
    batches: list[dict] = []
    if valid and not page_error:
        batches = batches_list(
            user=request.user,
            limit=BATCHES_PER_PAGE + 1,
            offset=(page - 1) * BATCHES_PER_PAGE,
            **(form.selector_kwargs() if form.is_bound else {}),
        )
    return render(
        request,
        "imports/batch_list.html",
        {
            "form": form,
            "batches": [_batch_row(b) for b in batches[:BATCHES_PER_PAGE]],
            "page": page,
            "has_next": len(batches) > BATCHES_PER_PAGE,
            "filtered": any(v for k, v in request.GET.items() if k != "page"),
        },
        status=400 if form.errors else 200,
    )


def _file_row(job, user) -> dict:
    return {
        **job_detail_dict(job),
        "job": job,
        "is_final": job.is_final,
        "row_errors": job.errors[:ROW_ERRORS_SHOWN],
        "mapping": job_headers_offer(job=job),
        "error_groups": [{**g, "label": error_group_label(g)} for g in job.error_summary],
        "can_revert": job.status == JobStatus.COMPLETE
        and job.reverted_at is None
        and user.has_perm("imports.change_importjob"),
    }


@login_required
def batch_detail(request, batch_id: uuid.UUID):
    from .views_workflow import batch_workflow_context  # it uses this module's permission helpers

    jobs = list(
        jobs_visible(request.user)
        .filter(batch_id=batch_id)
        .select_related("uploaded_by", "table", "reverted_by", "distributor")
        .order_by("id")
    )
    if not jobs:
        raise Http404("Batch not found.")
    batch = _batch_row(batch_dict(batch_id, jobs))
    return render(
        request,
        "imports/batch_detail.html",
        {
            "batch": batch,
            "files": [_file_row(j, request.user) for j in jobs if j.status != JobStatus.SKIPPED],
            "missing": [j for j in jobs if j.status == JobStatus.SKIPPED],
            "active": batch["status"] in ("pending", "processing"),
            "uploaded_by": next((j.uploaded_by for j in jobs if j.uploaded_by), None),
            "row_errors_shown": ROW_ERRORS_SHOWN,
            **batch_workflow_context(user=request.user, batch_id=batch_id, jobs=jobs),
        },
    )
