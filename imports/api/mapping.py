"""POST /api/jobs/<batch_id>/files/<job_id>/mapping: a thin view over `job_headers_map`."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, inline_serializer
from rest_framework import serializers

from importhub.api import ErrorSerializer, envelope, ok

from ..services.header_mapping import job_headers_map
from .lookups import file_job_get
from .permissions import perms_required

# Saving a mapping uploads (re-runs a file) and changes configuration (adds aliases).
MAPPING_PERMISSIONS = ("imports.add_importjob", "tableconfig.add_alias")

ERROR = OpenApiResponse(ErrorSerializer, description='`{"success": false, "error": "...", "code": "..."}`')
MAPPING_RESPONSE = envelope(
    "JobMappingResponse",
    inline_serializer(
        name="JobMapping",
        fields={
            "job_id": serializers.IntegerField(),
            "batch_id": serializers.UUIDField(),
            "table_name": serializers.CharField(),
            "aliases": inline_serializer(
                name="JobMappingAlias",
                many=True,
                fields={
                    "id": serializers.IntegerField(),
                    "header": serializers.CharField(help_text="The file's header."),
                    "column_name": serializers.CharField(),
                    "alias_name": serializers.CharField(),
                },
            ),
            "rerun": serializers.BooleanField(
                help_text="True when the file is checked again and queued; false for a complete job."
            ),
            "status": serializers.IntegerField(help_text="The job's status after the mapping."),
            "status_label": serializers.CharField(),
            "message": serializers.CharField(),
        },
    ),
)


class JobMappingRequestSerializer(serializers.Serializer):
    headers = serializers.DictField(
        child=serializers.CharField(max_length=63),
        allow_empty=False,
        help_text="The file's header -> the table column it feeds. Each header becomes an alias of its column.",
    )


CanMap = perms_required(*MAPPING_PERMISSIONS, doing="map headers")


MAPPING_SCHEMA = dict(
    request=JobMappingRequestSerializer,
    responses={
        200: MAPPING_RESPONSE,
        400: ERROR,
        401: ERROR,
        403: ERROR,
        404: ERROR,
        409: ERROR,
        410: ERROR,
    },
    summary="Map a file's unmatched headers to its table's columns, then re-run the file",
    description=(
        "Each header becomes an alias of its column, with the same rules as adding an alias (one "
        "that another column already reads is refused with 400 `header_clash`); all are saved or none. "
        "A refused or failed file (status 2, 6, 8) is then checked again and queued from its stored "
        "upload; a complete one (9) is not re-run, the aliases serve the next files. 400 codes: "
        "`header_not_in_file`, `header_already_matched`, `column_not_in_table`, `column_already_matched`, "
        "`column_chosen_twice`, `header_clash`. 409: a job still running (`job_not_rerunnable`), without "
        "a table (`no_table`); 410 `upload_not_kept`: the upload is gone (kept FAILED_UPLOAD_KEEP_DAYS)."
    ),
    examples=[
        OpenApiExample("Map DO Date", value={"headers": {"DO Date": "dotanggal"}}, request_only=True),
        OpenApiExample(
            "Re-run",
            response_only=True,
            status_codes=["200"],
            value={
                "success": True,
                "data": {
                    "job_id": 12,
                    "batch_id": "7b0c5cf4-4c7e-4d2a-9a57-5d2f0f6a1c3e",
                    "table_name": "sales",
                    "aliases": [
                        {
                            "id": 31,
                            "header": "DO Date",
                            "column_name": "dotanggal",
                            "alias_name": "DO Date",
                        }
                    ],
                    "rerun": True,
                    "status": 3,
                    "status_label": "Waiting process",
                    "message": "Saved DO Date -> dotanggal; sales_oct.csv is checked again and queued.",
                },
            },
        ),
        OpenApiExample(
            "A clash",
            response_only=True,
            status_codes=["400"],
            value={
                "success": False,
                "error": "The header 'Quantity' (read as 'quantity') would belong to both 'qty' and 'exportdate'.",
                "code": "header_clash",
                "field": "alias_name",
            },
        ),
    ],
)


def job_mapping_answer(request, batch_id: str, job_id: int):
    """`POST /api/jobs/<batch_id>/files/<job_id>/mapping` (an action of JobViewSet)."""
    job = file_job_get(request, batch_id, job_id, related=("table",))
    body = JobMappingRequestSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    saved = job_headers_map(job=job, headers=body.validated_data["headers"], user=request.user)
    return ok(saved.as_dict())
