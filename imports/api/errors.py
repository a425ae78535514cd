"""A file's rejected rows: GET .../errors.csv (safe to open: formula-like cells neutralised) and .../errors.xlsx
(every cell text, the values exactly as the file had them). Thin views over `services/rejects.py`."""

from __future__ import annotations

from django.http import FileResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse

from importhub.api import ERRORS_READ

from ..services.rejects import rejects_csv_stream, rejects_filename, rejects_xlsx_file
from .lookups import file_job_get

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


ERRORS_CSV_SCHEMA = dict(
    responses={
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="The rejected rows, as CSV."),
        **ERRORS_READ,
    },
    summary="Every rejected row of one file, as CSV safe to open in a spreadsheet",
    description="Cells a spreadsheet would run as a formula (a leading `=`, `+`, `@`, tab or CR, or `-` "
    "not followed by a plain number) start with `'`, as in the data exports. The XLSX download keeps every "
    "value exactly.",
)
ERRORS_XLSX_SCHEMA = dict(
    responses={
        (200, XLSX_CONTENT_TYPE): OpenApiResponse(
            OpenApiTypes.BINARY, description="The rejected rows, every cell text."
        ),
        **ERRORS_READ,
    },
    summary="Every rejected row of one file, as XLSX with every cell stored as text",
    description="The values exactly as the file had them (nothing neutralised, nothing converted to a "
    "number or a date): fix them and send the file again.",
)


def job_errors_csv(request, batch_id: str, job_id: int) -> StreamingHttpResponse:
    """GET .../files/<job_id>/errors.csv (an action of JobViewSet)."""
    job = file_job_get(request, batch_id, job_id)
    response = StreamingHttpResponse(rejects_csv_stream(job=job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(
        True, rejects_filename(job=job, extension="csv")
    )
    return response


def job_errors_xlsx(request, batch_id: str, job_id: int) -> FileResponse:
    """GET .../files/<job_id>/errors.xlsx (an action of JobViewSet)."""
    job = file_job_get(request, batch_id, job_id)
    return FileResponse(
        rejects_xlsx_file(job=job),
        as_attachment=True,
        filename=rejects_filename(job=job, extension="xlsx"),
        content_type=XLSX_CONTENT_TYPE,
    )
