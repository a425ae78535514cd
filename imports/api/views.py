"""Import and jobs API: a thin upload view and the jobs viewset over `imports.services` and `imports.selectors`,
in the older app's shapes.

A file's actions (`/api/jobs/<batch_id>/files/<job_id>/...`) are `@action`s of `JobViewSet` that delegate to a
plain function `(request, batch_id, job_id) -> Response`; see `file_action`.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import TooManyFilesSent
from django.http import FileResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from importhub.api import ERROR, ERRORS_AUTH, ERRORS_READ, ok
from importhub.errors import ImportHubError, LimitExceeded, NotFound

from ..archive.workflow import job_archive_local_path
from ..models import BatchSource, ImportJob, ImportMode
from ..selectors import BATCH_STATUSES, batch_get, batches_list, job_detail_dict, jobs_visible
from ..services.batches import BatchResult, NoValidFiles, Upload, import_batch_submit, mode_normalize
from ..services.resent import force_normalize
from . import errors as rejected_rows
from . import mapping, revert, workflow
from . import serializers as s
from .lookups import batch_uuid, file_job_get


class CanUpload(BasePermission):
    message = "You do not have permission to upload files (imports.add_importjob)."

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True  # what an upload accepts is for anyone logged in
        return bool(request.user and request.user.has_perm("imports.add_importjob"))


# What each mode says, and its HTTP status when at least one file is valid.
MODE_ANSWERS = {
    ImportMode.QUICK: ("checked", status.HTTP_200_OK, "Quick validation completed."),
    ImportMode.FULL: ("pending", status.HTTP_202_ACCEPTED, "Import job started."),
    ImportMode.BOTH: ("pending", status.HTTP_200_OK, "Quick validation completed. Import job started."),
    ImportMode.DRY_RUN: ("pending", status.HTTP_202_ACCEPTED, "Checking every row; nothing is loaded."),
}


def _data_message(mode: str, valid: int, total: int) -> str:
    if mode == ImportMode.QUICK:
        return f"{valid} of {total} files can be imported; nothing was loaded."
    if mode == ImportMode.FULL:
        return f"Import job started for {valid} of {total} files."
    if mode == ImportMode.DRY_RUN:
        return f"Checking every row of {valid} of {total} files in the background; nothing is loaded."
    return f"Importing {valid} of {total} files in the background."


def batch_response(batch: BatchResult) -> Response:
    """One shape for every mode, keeping each key where the older app's clients read it: `batch_id` at the
    top (quick, both) and in `data` (full), each file's check in `files` (quick, both) and `data.validation`
    (full), the names in `data.files`. 422 when every file failed."""
    files = [r.as_dict() for r in batch.results]
    valid = sum(r.valid for r in batch.results)
    batch_status, code, message = MODE_ANSWERS[batch.mode]
    body = {
        "success": True,
        "mode": str(batch.mode),
        "batch_id": str(batch.batch_id),
        "message": message,
        "files": files,
        "warnings": batch.warnings,
        "data": {
            "batch_id": str(batch.batch_id),
            "status": batch_status,
            "total_rows": batch.total_rows,
            "files": [r.filename for r in batch.results],
            "validation": files,
            "warnings": batch.warnings,
            "message": _data_message(batch.mode, valid, len(files)),
        },
    }
    if batch.all_failed:
        body["success"] = False
        body["error"] = "All files failed validation."
        body["data"]["status"] = "failed"
        code = status.HTTP_422_UNPROCESSABLE_ENTITY
    return Response(body, status=code)


def _import_answer(name: str, mode: str, code: int, batch_status: str, message: str, data_message: str):
    check = {"filename": "sales_small.csv", "table_name": "sales", "valid": True, "rows": 10, "error": None}
    batch_id = "7b0c5cf4-4c7e-4d2a-9a57-5d2f0f6a1c3e"
    return OpenApiExample(
        name,
        value={
            "success": True,
            "mode": mode,
            "batch_id": batch_id,
            "message": message,
            "files": [check],
            "warnings": [],
            "data": {
                "batch_id": batch_id,
                "status": batch_status,
                "total_rows": 10,
                "files": ["sales_small.csv"],
                "validation": [check],
                "warnings": [],
                "message": data_message,
            },
        },
        status_codes=[str(code)],
        response_only=True,
    )


IMPORT_EXAMPLES = [
    _import_answer(
        f"mode={mode}",
        mode,
        answer[1],
        answer[0],
        answer[2],
        _data_message(mode, 1, 1),
    )
    for mode, answer in MODE_ANSWERS.items()
    if mode in s.IMPORT_MODES
] + [
    OpenApiExample(
        "Unknown mode",
        value={
            "success": False,
            "error": "mode: 'qiuck' is not a mode. Use quick (validate only), full (validate and import) or both; "
            "empty means both.",
            "code": "invalid_mode",
            "mode": "qiuck",
            "field": "mode",
        },
        status_codes=["400"],
        response_only=True,
    ),
]
IMPORT_REFUSED = OpenApiResponse(s.ImportRefusedSerializer, description="Nothing stored; `error` says why.")


class ImportView(APIView):
    """Upload files (multipart, field `files`, one or more): quick validation, or validation and import."""

    permission_classes = [IsAuthenticated, CanUpload]
    parser_classes = [MultiPartParser, FormParser]
    serializer_class = s.ImportFormSerializer  # the browsable API's form; the view reads request.data itself

    def get_serializer(self, *args, **kwargs):
        return self.serializer_class(*args, **kwargs)

    @extend_schema(
        summary="What an upload accepts: the modes and the limits",
        responses={200: s.IMPORT_RULES_ENVELOPE, **ERRORS_AUTH},
        examples=[
            OpenApiExample(
                "Rules",
                value={
                    "success": True,
                    "data": {
                        "modes": s.MODE_DESCRIPTIONS,
                        "default_mode": "both",
                        "max_files": 100,
                        "max_file_bytes": 1073741824,
                        "max_request_bytes": 2147483648,
                    },
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        return ok(
            {
                "modes": s.MODE_DESCRIPTIONS,
                "default_mode": mode_normalize(""),
                "max_files": settings.UPLOAD_MAX_FILES,
                "max_file_bytes": settings.UPLOAD_MAX_FILE_BYTES,
                "max_request_bytes": settings.UPLOAD_MAX_REQUEST_BYTES,
            }
        )

    @extend_schema(
        request={"multipart/form-data": s.ImportRequestSerializer},
        responses={
            200: OpenApiResponse(s.ImportResponseSerializer, description="quick and both"),
            202: OpenApiResponse(s.ImportResponseSerializer, description="full: queued"),
            400: IMPORT_REFUSED,
            **ERRORS_AUTH,
            413: IMPORT_REFUSED,
            422: OpenApiResponse(s.ImportResponseSerializer, description="Every file failed validation."),
            503: OpenApiResponse(s.ImportRefusedSerializer, description="The upload folder is not writable."),
        },
        examples=IMPORT_EXAMPLES,
        summary="Upload files: quick validation, or validation and background import",
        description="Every mode answers with the same keys (see the examples); `mode` defaults to both.",
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
            force = force_normalize(request.data.get("force"))
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
                force=force,
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


def job_archive_get(request, batch_id: str, job_id: int):
    """GET .../files/<job_id>/archive: the local archive's copy, or a redirect to the Drive copy."""
    job = file_job_get(request, batch_id, job_id)
    path = job_archive_local_path(job)
    if path is not None:
        return FileResponse(path.open("rb"), as_attachment=True, filename=path.name)
    if job.archive_url.startswith("https://"):
        return HttpResponseRedirect(job.archive_url)
    raise NotFound("This file is not in the archive.", code="not_archived")


BATCH_ID = OpenApiParameter(
    "batch_id",
    OpenApiTypes.UUID,
    OpenApiParameter.PATH,
    description="The batch's id (`batch_id` of the upload).",
)
JOB_ID = OpenApiParameter(
    "job_id", int, OpenApiParameter.PATH, description="The file's job id (`files[].id`)."
)
# A file of a batch: the actions below add their own name after it.
FILE_PATH = r"files/(?P<job_id>[0-9]+)/"


def file_action(name: str, **kwargs):
    """`@action` for `/api/jobs/<batch_id>/files/<job_id>/<name>`, named `api-job-<url_name>`."""
    kwargs.setdefault("methods", ["get"])
    return action(detail=True, url_path=FILE_PATH + name, **kwargs)


BATCH_EXAMPLE = {
    "batch_id": "7b0c5cf4-4c7e-4d2a-9a57-5d2f0f6a1c3e",
    "table_name": "sales",
    "dist_id": "31001",
    "distributor": "31001",
    "source": "api",
    "status": "completed_with_errors",
    "total_rows": 10,
    "processed_rows": 10,
    "success_count": 9,
    "error_count": 1,
    "error_details": [{"filename": "sales_small.csv", "errors": ["Row 4: qty: 'ten' is not a whole number"]}],
    "files": [
        {
            "id": 12,
            "filename": "sales_small.csv",
            "table_name": "sales",
            "status": 9,
            "status_label": "Processing complete",
            "total_rows": 10,
            "processed_rows": 10,
            "success_count": 9,
            "error_count": 1,
        }
    ],
    "created_at": "2026-10-31T08:00:00+07:00",
    "completed_at": "2026-10-31T08:00:04+07:00",
}


JOB_EXAMPLE = {
    "id": 12,
    "batch_id": "7b0c5cf4-4c7e-4d2a-9a57-5d2f0f6a1c3e",
    "filename": "sales_small.csv",
    "source_name": "",
    "table_name": "sales",
    "dist_id": "31001",
    "distributor": "31001",
    "content_sha256": "3f1d6c0e8b3a4f9e2d7c5b1a0e9f8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e",
    "mode": "full",
    "status": 9,
    "status_label": "Processing complete",
    "total_rows": 10,
    "processed_rows": 10,
    "success_count": 9,
    "error_count": 1,
    "duplicate_count": 0,
    "inserted_count": 9,
    "updated_count": 0,
    "skipped_count": 0,
    "repeated_count": 0,
    "error": None,
    "error_code": None,
    "errors": [
        {"row": 4, "column": "qty", "value": "ten", "code": "invalid_int", "message": "not a whole number"}
    ],
    "has_errors_file": True,
    "warnings": [],
    "summary": {},
    "notes": "Processed 10 rows; Archived locally",
    "attempts": 1,
    "archive_status": "done",
    "archive_file_id": "sales/2026/10/31001_sales_small.csv",
    "archive_url": "/api/jobs/7b0c5cf4-4c7e-4d2a-9a57-5d2f0f6a1c3e/files/12/archive",
    "archive_error": None,
    "archived_at": "2026-10-31T08:00:05+07:00",
    "uploaded_by": "admin",
    "created_at": "2026-10-31T08:00:00+07:00",
    "started_at": "2026-10-31T08:00:01+07:00",
    "completed_at": "2026-10-31T08:00:04+07:00",
    "updated_at": "2026-10-31T08:00:05+07:00",
}


class JobViewSet(viewsets.ViewSet):
    """Batches (one upload's files, by `batch_id`) and each file's job: list, one batch, its jobs' details,
    and per file the rejected rows, the archived original and the revert."""

    lookup_field = "batch_id"
    lookup_value_regex = "[^/]+"

    @extend_schema(
        parameters=[
            OpenApiParameter("limit", int, description="How many batches: 1 to 500 (default 50)."),
            OpenApiParameter("offset", int, description="Batches to skip: 0 to 1000000000 (default 0)."),
            OpenApiParameter("status", str, enum=list(BATCH_STATUSES), description="The batch's status."),
            OpenApiParameter("dist_id", str, description="At most 50 characters."),
            OpenApiParameter(
                "distributor", str, description="A distributor's code: the batches linked to it."
            ),
            OpenApiParameter("table_name", str, description="At most 63 characters."),
            OpenApiParameter(
                "source", str, enum=list(BatchSource.values), description="Where the batches came from."
            ),
            OpenApiParameter("created_after", str, description="Date or date-time."),
            OpenApiParameter("created_before", str, description="Date or date-time."),
        ],
        responses={200: s.BATCH_LIST_ENVELOPE, 400: ERROR, **ERRORS_AUTH},
        examples=[
            OpenApiExample("Batches", value={"success": True, "data": [BATCH_EXAMPLE]}, response_only=True)
        ],
        summary="Recent batches, newest first",
        operation_id="jobs_list",
    )
    def list(self, request):
        batch_status = request.query_params.get("status") or None
        if batch_status and batch_status not in BATCH_STATUSES:
            raise InvalidParameter(
                "status", f"'{batch_status[:40]}' is not one of {', '.join(BATCH_STATUSES)}."
            )
        source = request.query_params.get("source") or None
        if source and source not in BatchSource.values:
            raise InvalidParameter(
                "source", f"'{source[:40]}' is not one of {', '.join(BatchSource.values)}."
            )
        data = batches_list(
            user=request.user,
            source=source,
            limit=_int_param(request, "limit", 50, low=1, high=500),
            offset=_int_param(request, "offset", 0, low=0, high=10**9),
            status=batch_status,
            dist_id=_text_param(
                request, "dist_id", max_length=ImportJob._meta.get_field("dist_id").max_length
            ),
            distributor=_text_param(request, "distributor", max_length=50),
            table_name=_text_param(
                request, "table_name", max_length=ImportJob._meta.get_field("table_name").max_length
            ),
            created_after=_datetime_param(request, "created_after"),
            created_before=_datetime_param(request, "created_before"),
        )
        return ok(data)

    @extend_schema(
        parameters=[BATCH_ID],
        responses={200: s.BATCH_ENVELOPE, **ERRORS_READ},
        examples=[
            OpenApiExample("Batch", value={"success": True, "data": BATCH_EXAMPLE}, response_only=True)
        ],
        summary="One batch and its files",
    )
    def retrieve(self, request, batch_id):
        batch = batch_get(user=request.user, batch_id=batch_uuid(batch_id))
        if batch is None:
            raise NotFound("Job not found.")
        return ok(batch)

    @extend_schema(
        parameters=[BATCH_ID],
        responses={200: s.JOB_DETAILS_ENVELOPE, **ERRORS_READ},
        examples=[OpenApiExample("Jobs", value={"success": True, "data": [JOB_EXAMPLE]}, response_only=True)],
        summary="Every field of each file's job in a batch",
    )
    @action(detail=True)
    def details(self, request, batch_id):
        jobs = (
            jobs_visible(request.user)
            .filter(batch_id=batch_uuid(batch_id))
            .select_related("uploaded_by", "distributor")
            .order_by("id")
        )
        if not jobs:
            raise NotFound("Job not found.")
        return ok([job_detail_dict(j) for j in jobs])

    @extend_schema(parameters=[BATCH_ID, JOB_ID], **rejected_rows.ERRORS_CSV_SCHEMA)
    @file_action(r"errors\.csv", url_name="errors")
    def errors(self, request, batch_id, job_id):
        return rejected_rows.job_errors_csv(request, batch_id, int(job_id))

    @extend_schema(parameters=[BATCH_ID, JOB_ID], **rejected_rows.ERRORS_XLSX_SCHEMA)
    @file_action(r"errors\.xlsx", url_name="errors-xlsx")
    def errors_xlsx(self, request, batch_id, job_id):
        return rejected_rows.job_errors_xlsx(request, batch_id, int(job_id))

    @extend_schema(
        parameters=[BATCH_ID, JOB_ID],
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The original file (local archive)."
            ),
            302: OpenApiResponse(description="The Drive copy: `Location` is its Google Drive address."),
            **ERRORS_READ,
        },
        summary="The archived original of one file (local archive; a Drive copy redirects to Drive)",
    )
    @file_action("archive")
    def archive(self, request, batch_id, job_id):
        return job_archive_get(request, batch_id, int(job_id))

    @extend_schema(parameters=[BATCH_ID], **workflow.CHECKED_IMPORT_SCHEMA)
    @action(
        detail=True,
        methods=["post"],
        url_path="import",
        url_name="import",
        permission_classes=[IsAuthenticated, workflow.CanUpload],
    )
    def batch_import(self, request, batch_id):
        return workflow.batch_checked_import_answer(request, batch_id)

    @extend_schema(parameters=[BATCH_ID, JOB_ID], **workflow.RETRY_SCHEMA)
    @file_action("retry", methods=["post"], permission_classes=[IsAuthenticated, workflow.CanUpload])
    def retry(self, request, batch_id, job_id):
        return workflow.job_retry_answer(request, batch_id, int(job_id))

    @extend_schema(parameters=[BATCH_ID, JOB_ID], **mapping.MAPPING_SCHEMA)
    @file_action("mapping", methods=["post"], permission_classes=[IsAuthenticated, mapping.CanMap])
    def mapping(self, request, batch_id, job_id):
        return mapping.job_mapping_answer(request, batch_id, int(job_id))

    @extend_schema(parameters=[BATCH_ID, JOB_ID], **revert.REVERT_SCHEMA)
    @file_action("revert", methods=["post"], permission_classes=[IsAuthenticated, revert.CanRevert])
    def revert(self, request, batch_id, job_id):
        return revert.job_revert(request, batch_id, int(job_id))
