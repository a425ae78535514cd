"""POST /api/jobs/<batch_id>/files/<job_id>/revert: a thin view over `import_job_revert`."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.views import APIView

from importhub.api import ok
from importhub.errors import NotFound
from tableconfig.api.serializers import ErrorSerializer, envelope

from ..selectors import jobs_visible
from ..services.revert import import_job_revert

REVERT_PERMISSION = "imports.change_importjob"

ERROR = OpenApiResponse(ErrorSerializer, description='`{"success": false, "error": "..."}`')
REVERT_RESPONSE = envelope(
    "JobRevertResponse",
    inline_serializer(
        name="JobRevert",
        fields={
            "job_id": serializers.IntegerField(),
            "batch_id": serializers.UUIDField(),
            "table_name": serializers.CharField(),
            "deleted_rows": serializers.IntegerField(help_text="Rows of this job deleted from the table."),
            "replaced_by_later_jobs": serializers.IntegerField(
                help_text="Rows this job wrote that a later row with the same unique key had replaced: kept."
            ),
            "later_job_ids": serializers.ListField(
                child=serializers.IntegerField(),
                help_text="Later completed imports into the table that replaced rows (when rows were replaced).",
            ),
            "overwritten_before": serializers.IntegerField(
                help_text="Existing rows this job had replaced: their earlier values cannot be restored."
            ),
            "reverted_at": serializers.DateTimeField(),
            "reverted_by": serializers.CharField(allow_null=True),
            "message": serializers.CharField(),
        },
    ),
)


class CanRevert(BasePermission):
    message = f"You do not have permission to revert imports ({REVERT_PERMISSION})."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.has_perm(REVERT_PERMISSION))


class JobRevertView(APIView):
    permission_classes = [IsAuthenticated, CanRevert]

    @extend_schema(
        request=None,
        responses={200: REVERT_RESPONSE, 400: ERROR, 401: ERROR, 403: ERROR, 404: ERROR},
        summary="Revert an import: delete the rows the file's job wrote",
        description=(
            "Only a completed (status 9), not yet reverted job. Rows a later import replaced stay and are "
            "counted; rows this import had replaced cannot be restored and are counted too."
        ),
    )
    def post(self, request, batch_id, job_id):
        try:
            batch = uuid.UUID(str(batch_id))
        except ValueError:
            raise NotFound("Job not found.") from None
        job = jobs_visible(request.user).filter(batch_id=batch, pk=job_id).first()
        if job is None:
            raise NotFound("Job not found.")
        return ok(import_job_revert(job=job, user=request.user).as_dict())
