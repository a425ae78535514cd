"""Retry a failed file and import a dry run's checked files: thin views over `imports.services.workflow`.

POST /api/jobs/<batch_id>/files/<job_id>/retry and POST /api/jobs/<batch_id>/import (imports.add_importjob).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, inline_serializer
from rest_framework import serializers

from importhub.api import ERROR, ok
from importhub.errors import NotFound

from ..selectors import job_detail_dict, jobs_visible
from ..services.resent import force_normalize
from ..services.workflow import batch_checked_import, job_retry, job_retry_message
from .lookups import batch_uuid, body_options, file_job_get
from .permissions import perms_required

WORKFLOW_PERMISSION = "imports.add_importjob"


def _job_fields() -> dict:
    """The fields of a file in these answers (fresh instances for each serializer that uses them)."""
    return {
        "id": serializers.IntegerField(),
        "batch_id": serializers.UUIDField(),
        "filename": serializers.CharField(),
        "table_name": serializers.CharField(),
        "mode": serializers.CharField(help_text="full, both or dry_run: the mode the file runs in."),
        "status": serializers.IntegerField(
            help_text="3 waiting (queued) when the file passed quick validation."
        ),
        "status_label": serializers.CharField(),
        "error": serializers.CharField(allow_null=True),
        "error_code": serializers.CharField(allow_null=True),
        "attempts": serializers.IntegerField(),
    }


JOB_FIELD_NAMES = tuple(_job_fields())


class EmptyRequestSerializer(serializers.Serializer):
    """No fields: the job (or batch) is named by the path."""


class CheckedImportRequestSerializer(serializers.Serializer):
    force = serializers.BooleanField(
        required=False,
        default=False,
        help_text="true: import files whose identical content was already imported into their table.",
    )


RETRY_RESPONSE = inline_serializer(
    name="JobRetryResponse",
    fields={
        "success": serializers.BooleanField(default=True),
        "data": inline_serializer(name="JobRetried", fields=_job_fields()),
        "message": serializers.CharField(),
    },
)
IMPORT_RESPONSE = inline_serializer(
    name="BatchCheckedImportResponse",
    fields={
        "success": serializers.BooleanField(default=True),
        "data": inline_serializer(
            name="BatchCheckedImport",
            fields={
                "batch_id": serializers.UUIDField(),
                "files": inline_serializer(name="CheckedFileQueued", fields=_job_fields(), many=True),
            },
        ),
        "message": serializers.CharField(),
    },
)

RETRY_EXAMPLE = OpenApiExample(
    "Queued again",
    value={
        "success": True,
        "data": {
            "id": 42,
            "batch_id": "6f1c2a5e-3f7e-4b8e-9a37-2c1d0e9b8a11",
            "filename": "sales_oct.csv",
            "table_name": "sales",
            "mode": "both",
            "status": 3,
            "status_label": "Waiting process",
            "error": None,
            "error_code": None,
            "attempts": 1,
        },
        "message": "sales_oct.csv passed validation and is queued for import again.",
    },
    response_only=True,
    status_codes=["200"],
)


CanUpload = perms_required(WORKFLOW_PERMISSION, doing="import files")


def _job_brief(job) -> dict:
    detail = job_detail_dict(job)
    return {name: detail[name] for name in JOB_FIELD_NAMES}


RETRY_SCHEMA = dict(
    request=EmptyRequestSerializer,
    responses={200: RETRY_RESPONSE, 401: ERROR, 403: ERROR, 404: ERROR, 409: ERROR, 410: ERROR},
    examples=[RETRY_EXAMPLE],
    summary="Retry a failed file from its kept upload",
    description=(
        "Only a file whose job ended 2 (failed), 6 (validation failed) or 8 (processing failed), while its "
        "upload is kept (FAILED_UPLOAD_KEEP_DAYS; a dry run's DRY_RUN_KEEP_HOURS). Quick validation runs "
        "again (after a configuration fix, say) and the file is queued in its own mode; still refused, the "
        "answer is 200 with status 6 and the reason. 409 `job_not_retryable` for any other status, 410 "
        "`upload_not_kept` when the upload is gone."
    ),
)


def job_retry_answer(request, batch_id: str, job_id: int):
    """`POST /api/jobs/<batch_id>/files/<job_id>/retry` (an action of JobViewSet)."""
    job = file_job_get(request, batch_id, job_id)
    job = job_retry(job_id=job.id, user=request.user)
    return ok(_job_brief(job), message=job_retry_message(job))


CHECKED_IMPORT_SCHEMA = dict(
    request=CheckedImportRequestSerializer,
    examples=[
        OpenApiExample("Import the checked files", value={"force": False}, request_only=True),
    ],
    responses={202: IMPORT_RESPONSE, 401: ERROR, 403: ERROR, 404: ERROR, 409: ERROR},
    summary="Import a dry run's checked files without uploading them again",
    description=(
        "The batch's dry-run files that passed (status 5) or had only row errors (status 6, code "
        "`row_errors`), from their kept uploads: their mode becomes full and they are queued; the rows the "
        "dry run rejected are rejected again. A file whose identical content is already imported into its "
        "table ends 6 `duplicate_content` unless `force` is true. 409 `nothing_to_import` when no such file "
        "is left."
    ),
)


def batch_checked_import_answer(request, batch_id: str):
    """`POST /api/jobs/<batch_id>/import` (an action of JobViewSet)."""
    batch = batch_uuid(batch_id)
    if not jobs_visible(request.user).filter(batch_id=batch).exists():
        raise NotFound("Job not found.")
    jobs = batch_checked_import(
        batch_id=batch, user=request.user, force=force_normalize(body_options(request).get("force"))
    )
    return ok(
        {"batch_id": str(batch), "files": [_job_brief(j) for j in jobs]},
        http_status=202,
        message=f"Importing {len(jobs)} checked file{'s' if len(jobs) != 1 else ''} in the background.",
    )
