"""Import and jobs API: thin views over `imports.services` and `imports.selectors`, in the older app's shapes."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from django.conf import settings
from django.core.exceptions import TooManyFilesSent
from django.http import FileResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from importhub.api import ok
from importhub.errors import ImportHubError, LimitExceeded, NotFound

from ..models import ImportJob, ImportMode
from ..selectors import BATCH_STATUSES, batch_get, batches_list, job_detail_dict, jobs_visible
from ..services.archiving import job_archive_local_path
from ..services.batches import BatchResult, NoValidFiles, Upload, import_batch_submit, mode_normalize


class CanUpload(BasePermission):
    message = "You do not have permission to upload files (imports.add_importjob)."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.has_perm("imports.add_importjob"))


class ImportRequestSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=serializers.FileField(),
        help_text="One or more .csv, .txt, .xlsx, .xlsm, .xls, .ods or .zip files.",
    )
    mode = serializers.ChoiceField(
        choices=[ImportMode.QUICK, ImportMode.FULL, ImportMode.BOTH],
        required=False,
        allow_blank=True,
        help_text="quick (validate only), full (validate and import), or both (the default, also when empty). "
        "Any other value is refused with 400 invalid_mode.",
    )
    table_name = serializers.CharField(required=False, default="auto", help_text="'auto' or a table name.")
    dist_id = serializers.CharField(
        required=False, allow_blank=True, help_text="Distributor id (prefix check)."
    )


def batch_response(batch: BatchResult) -> Response:
    """The older app's three answer shapes, and 422 when every file failed."""
    files = [r.as_dict() for r in batch.results]
    names = [r.filename for r in batch.results]
    if batch.mode == ImportMode.QUICK:
        body = {
            "success": True,
            "mode": "quick",
            "batch_id": str(batch.batch_id),
            "message": "Quick validation completed.",
            "files": files,
            "warnings": batch.warnings,
        }
        code = status.HTTP_200_OK
    elif batch.mode == ImportMode.FULL:
        body = {
            "success": True,
            "mode": "full",
            "data": {
                "batch_id": str(batch.batch_id),
                "status": "pending",
                "total_rows": batch.total_rows,
                "files": names,
                "validation": files,
                "warnings": batch.warnings,
                "message": f"Import job started for {sum(r.valid for r in batch.results)} of {len(files)} files.",
            },
        }
        code = status.HTTP_202_ACCEPTED
    else:
        body = {
            "success": True,
            "mode": "both",
            "batch_id": str(batch.batch_id),
            "message": "Quick validation completed. Import job started.",
            "files": files,
            "warnings": batch.warnings,
            "data": {
                "status": "pending",
                "total_rows": batch.total_rows,
                "files": names,
                "message": f"Importing {sum(r.valid for r in batch.results)} of {len(files)} files in the background.",
            },
        }
        code = status.HTTP_200_OK
    if batch.all_failed:
        body["success"] = False
        body["error"] = "All files failed validation."
        if "data" in body:
            body["data"]["status"] = "failed"
        code = status.HTTP_422_UNPROCESSABLE_ENTITY
    return Response(body, status=code)


class ImportView(APIView):
    permission_classes = [IsAuthenticated, CanUpload]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": ImportRequestSerializer},
        responses={200: dict, 202: dict, 400: dict, 413: dict, 422: dict},
        summary="Upload files: quick validation, or validation and background import",
    )
    def post(self, request):
        # Refuse an oversized request before its body is parsed (request.data reads it all).
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > settings.UPLOAD_MAX_REQUEST_BYTES:
            raise LimitExceeded(
                f"The upload is {length:,} bytes, over the limit of {settings.UPLOAD_MAX_REQUEST_BYTES:,} bytes "
                "per request (UPLOAD_MAX_REQUEST_BYTES).",
                code="request_too_large",
            )
        try:
            mode = mode_normalize(request.data.get("mode"))
            files = request.FILES.getlist("files")
        except TooManyFilesSent:
            # Django stops parsing at DATA_UPLOAD_MAX_NUMBER_FILES (set from UPLOAD_MAX_FILES) with a bare 400.
            raise LimitExceeded(
                f"Too many files: more than {settings.UPLOAD_MAX_FILES} sent, at most {settings.UPLOAD_MAX_FILES} "
                "per request (UPLOAD_MAX_FILES).",
                code="too_many_files",
            ) from None
        uploads = [Upload(name=f.name, chunks=f.chunks(), size=f.size) for f in files]
        try:
            batch = import_batch_submit(
                uploads=uploads,
                mode=mode,
                table_name=request.data.get("table_name") or "auto",
                dist_id=request.data.get("dist_id") or "",
                user=request.user,
            )
        except NoValidFiles as exc:
            return Response(
                {"success": False, "error": exc.message, "mode": mode, "warnings": exc.details["warnings"]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        except ImportHubError as exc:
            body = {"success": False, "error": exc.message, "code": exc.code, "mode": mode}
            if isinstance(exc.details, dict) and exc.details.get("field"):
                body["field"] = exc.details["field"]
            return Response(body, status=exc.http_status)
        return batch_response(batch)


class InvalidParameter(ImportHubError):
    code = "invalid_parameter"

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}", details={"field": field})


def _datetime_param(request, name: str) -> dt.datetime | None:
    """A date (the day's start) or a date-time; naive ones in the site's time zone. Dates that do not exist,
    hours over 23 and offsets of a day or more are refused with the reason."""
    raw = request.query_params.get(name)
    if not raw:
        return None
    expected = "use 2026-10-31, 2026-10-31T08:00:00 or 2026-10-31T08:00:00+07:00"
    try:
        value = parse_datetime(raw) or (parse_date(raw) and parse_datetime(raw + "T00:00:00"))
        if value is None:
            raise InvalidParameter(name, f"'{raw}' is not a date or date-time ({expected}).")
        value = value if timezone.is_aware(value) else timezone.make_aware(value)
        value.astimezone(dt.UTC)  # a moment the database can compare: not before year 1 or after 9999
    except (ValueError, OverflowError) as exc:
        raise InvalidParameter(
            name, f"'{raw}' is not a valid date or date-time: {exc} ({expected})."
        ) from None
    return value


def _int_param(request, name: str, default: int, *, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw.strip()) if len(raw) <= 20 else None
    except ValueError:
        value = None
    if value is None:
        raise InvalidParameter(name, f"'{raw[:40]}' is not a whole number (from {low} to {high}).")
    if not low <= value <= high:
        raise InvalidParameter(name, f"{value} is out of range: from {low} to {high}.")
    return value


def _text_param(request, name: str, *, max_length: int) -> str | None:
    raw = (request.query_params.get(name) or "").strip()
    if len(raw) > max_length:
        raise InvalidParameter(name, f"{len(raw)} characters, at most {max_length}.")
    return raw or None


class JobsView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("limit", int, description="How many batches: 1 to 500 (default 50)."),
            OpenApiParameter("offset", int, description="Batches to skip: 0 to 1000000000 (default 0)."),
            OpenApiParameter("status", str, enum=list(BATCH_STATUSES)),
            OpenApiParameter("dist_id", str, description="At most 50 characters."),
            OpenApiParameter("table_name", str, description="At most 63 characters."),
            OpenApiParameter("created_after", str, description="Date or date-time."),
            OpenApiParameter("created_before", str, description="Date or date-time."),
        ],
        responses={200: dict, 400: dict},
        summary="Recent batches, newest first",
        operation_id="jobs_list",
    )
    def get(self, request):
        batch_status = request.query_params.get("status") or None
        if batch_status and batch_status not in BATCH_STATUSES:
            raise InvalidParameter(
                "status", f"'{batch_status[:40]}' is not one of {', '.join(BATCH_STATUSES)}."
            )
        data = batches_list(
            user=request.user,
            limit=_int_param(request, "limit", 50, low=1, high=500),
            offset=_int_param(request, "offset", 0, low=0, high=10**9),
            status=batch_status,
            dist_id=_text_param(
                request, "dist_id", max_length=ImportJob._meta.get_field("dist_id").max_length
            ),
            table_name=_text_param(
                request, "table_name", max_length=ImportJob._meta.get_field("table_name").max_length
            ),
            created_after=_datetime_param(request, "created_after"),
            created_before=_datetime_param(request, "created_before"),
        )
        return ok(data)


def _batch_uuid(batch_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(batch_id))
    except ValueError:
        raise NotFound("Job not found.") from None


class JobView(APIView):
    @extend_schema(responses={200: dict, 404: dict}, summary="One batch and its files")
    def get(self, request, batch_id):
        batch = batch_get(user=request.user, batch_id=_batch_uuid(batch_id))
        if batch is None:
            raise NotFound("Job not found.")
        return ok(batch)


class JobDetailsView(APIView):
    @extend_schema(responses={200: dict, 404: dict}, summary="Every field of each file's job in a batch")
    def get(self, request, batch_id):
        jobs = (
            jobs_visible(request.user)
            .filter(batch_id=_batch_uuid(batch_id))
            .select_related("uploaded_by")
            .order_by("id")
        )
        if not jobs:
            raise NotFound("Job not found.")
        return ok([job_detail_dict(j) for j in jobs])


class JobErrorsCsvView(APIView):
    @extend_schema(
        responses={(200, "text/csv"): bytes, 404: dict}, summary="Every rejected row of one file, as CSV"
    )
    def get(self, request, batch_id, job_id):
        job = jobs_visible(request.user).filter(batch_id=_batch_uuid(batch_id), pk=job_id).first()
        if job is None:
            raise NotFound("Job not found.")
        path = Path(job.errors_file) if job.errors_file else None
        if path is None or not path.exists():
            raise NotFound("This file has no rejected rows.", code="no_errors")
        stem = Path(job.original_filename).stem or f"job-{job.id}"
        return FileResponse(
            path.open("rb"),
            as_attachment=True,
            filename=f"{stem}-errors.csv",
            content_type="text/csv; charset=utf-8",
        )


class JobArchiveView(APIView):
    @extend_schema(
        responses={(200, "application/octet-stream"): bytes, 302: None, 404: dict},
        summary="The archived original of one file (local archive; a Drive copy redirects to Drive)",
    )
    def get(self, request, batch_id, job_id):
        job = jobs_visible(request.user).filter(batch_id=_batch_uuid(batch_id), pk=job_id).first()
        if job is None:
            raise NotFound("Job not found.")
        path = job_archive_local_path(job)
        if path is not None:
            return FileResponse(path.open("rb"), as_attachment=True, filename=path.name)
        if job.archive_url.startswith("https://"):
            return HttpResponseRedirect(job.archive_url)
        raise NotFound("This file is not in the archive.", code="not_archived")
