"""POST /api/jobs/<batch_id>/files/<job_id>/revert (`JobViewSet.revert`): a thin function over `import_job_revert`."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, inline_serializer
from rest_framework import serializers

from importhub.api import ERROR, envelope, ok

from ..services.revert import import_job_revert
from .lookups import file_job_get
from .permissions import perms_required

REVERT_PERMISSION = "imports.change_importjob"

REVERT_RESPONSE = envelope(
    "JobRevertResponse",
    inline_serializer(
        name="JobRevert",
        fields={
            "job_id": serializers.IntegerField(),
            "batch_id": serializers.UUIDField(),
            "table_name": serializers.CharField(),
            "deleted_rows": serializers.IntegerField(
                help_text="Rows this job inserted, deleted from the table."
            ),
            "restored_rows": serializers.IntegerField(
                help_text="Rows this job had updated, restored to their previous values (same id)."
            ),
            "replaced_by_later_jobs": serializers.IntegerField(
                help_text="Always 0: a later import that changed this job's rows blocks the revert instead."
            ),
            "later_job_ids": serializers.ListField(
                child=serializers.IntegerField(),
                help_text="Later imports reverted first, newest first (with cascade).",
            ),
            "overwritten_before": serializers.IntegerField(
                help_text="Rows updated by an import made before previous values were kept: not restorable."
            ),
            "reverted_at": serializers.DateTimeField(),
            "reverted_by": serializers.CharField(allow_null=True),
            "message": serializers.CharField(),
        },
    ),
)


class JobRevertRequestSerializer(serializers.Serializer):
    cascade = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Revert the later imports that changed this job's rows first, newest first.",
    )


CanRevert = perms_required(REVERT_PERMISSION, doing="revert imports")


REVERT_SCHEMA = {
    "request": JobRevertRequestSerializer,
    "responses": {200: REVERT_RESPONSE, 400: ERROR, 401: ERROR, 403: ERROR, 404: ERROR},
    "examples": [
        OpenApiExample("Revert this import only", value={"cascade": False}, request_only=True),
        OpenApiExample(
            "Reverted",
            value={
                "success": True,
                "data": {
                    "job_id": 12,
                    "batch_id": "7b0c5cf4-4c7e-4d2a-9a57-5d2f0f6a1c3e",
                    "table_name": "sales",
                    "deleted_rows": 9,
                    "restored_rows": 0,
                    "replaced_by_later_jobs": 0,
                    "later_job_ids": [],
                    "overwritten_before": 0,
                    "reverted_at": "2026-10-31T09:00:00+07:00",
                    "reverted_by": "admin",
                    "message": "Reverted: 9 rows deleted.",
                },
            },
            response_only=True,
        ),
    ],
    "summary": "Revert an import: delete the rows the file's job wrote",
    "description": (
        "Only a completed (status 9), not yet reverted job. Rows it inserted are deleted, rows it updated "
        "get their previous values back (same id). When a later import changed the same rows the answer "
        "is 400 `revert_blocked` naming them (`later_job_ids`), unless `cascade` is true: then they are "
        "reverted first, newest first, in the same transaction."
    ),
}


def job_revert(request, batch_id: str, job_id: int):
    """Revert one file's import; the caller must see the job (404 otherwise) and hold REVERT_PERMISSION."""
    job = file_job_get(request, batch_id, job_id)
    data = request.data or request.query_params  # a body that is not an object is a 400
    options = JobRevertRequestSerializer(data=data)
    options.is_valid(raise_exception=True)
    result = import_job_revert(job=job, user=request.user, cascade=options.validated_data["cascade"])
    return ok(result.as_dict())
