"""The data pages: each table's rows (count, pages, search, filters) and their exports, direct or in the
background. Thin views over imports.services.export and imports.services.exports_bg."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.db import DatabaseError
from django.db.models import Count
from django.http import FileResponse, Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from importhub.errors import NotFound
from tableconfig.models import ImportTable

from .forms import page_number_clean
from .forms_data import DataFilterForm
from .models import DataExport, ExportStatus
from .services.export import (
    RowFilter,
    export_filename,
    table_csv_stream,
    table_preview,
    table_rows_count,
    table_xlsx_file,
)
from .services.exports_bg import (
    data_export_create,
    data_export_path,
    data_export_progress,
    data_export_visible,
    export_is_background,
)
from .views import XLSX_CONTENT_TYPE, can_view_data

EXPORTS_SHOWN = 5
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "xlsx": XLSX_CONTENT_TYPE}
# Query parameters that are not row filters (the exports and the page links leave them out).
NOT_FILTERS = ("page", "per_page")


def _filter_query(request) -> str:
    return urlencode([(k, v) for k, v in request.GET.items() if k not in NOT_FILTERS])


def _data_url(table: ImportTable, query: str) -> str:
    return reverse("data-table", args=[table.table_name]) + (f"?{query}" if query else "")


@can_view_data
def data_tables(request):
    tables = ImportTable.objects.annotate(column_count=Count("columns")).order_by("table_name")
    return render(request, "imports/data_tables.html", {"tables": tables})


@can_view_data
def data_table(request, table_name: str):
    table = get_object_or_404(ImportTable, table_name=table_name)
    form = DataFilterForm(request.GET or None, table=table)
    page, page_error = page_number_clean(request.GET.get("page"))
    valid = not form.is_bound or form.is_valid()
    if page_error:
        form.add_error(None, page_error)
    preview = None
    if valid and not page_error:
        filters = form.row_filter() if form.is_bound else RowFilter()
        try:
            preview = table_preview(table=table, filters=filters, limit=form.page_size, page=page)
        except DatabaseError as exc:
            messages.error(request, f"The table {table.table_name} cannot be read: {exc}")
    exports = DataExport.objects.filter(table_name=table.table_name, created_by=request.user).order_by(
        "-created_at", "-id"
    )[:EXPORTS_SHOWN]
    return render(
        request,
        "imports/data_table.html",
        {
            "table": table,
            "form": form,
            "preview": preview,
            "query": _filter_query(request),
            "background": bool(preview and preview.total > settings.EXPORT_SYNC_MAX_ROWS),
            "sync_max_rows": settings.EXPORT_SYNC_MAX_ROWS,
            "exports": [data_export_progress(e) for e in exports],
        },
        status=400 if form.errors else 200,
    )


def _filters_or_400(request, table: ImportTable):
    form = DataFilterForm(request.GET or None, table=table)
    if form.is_bound and not form.is_valid():
        response = render(
            request, "imports/data_table.html", {"table": table, "form": form, "preview": None}, status=400
        )
        return None, response
    return (form.row_filter() if form.is_bound else RowFilter()), None


@can_view_data
@require_GET
def data_export(request, table_name: str, fmt: str):
    """The matching rows as a download: CSV streamed as it is read, XLSX built in a temporary file. Over
    EXPORT_SYNC_MAX_ROWS rows, back to the data page, whose export buttons start a background export."""
    table = get_object_or_404(ImportTable, table_name=table_name)
    filters, refused = _filters_or_400(request, table)
    if refused:
        return refused
    background, total = export_is_background(table=table, filters=filters)
    if background:
        messages.warning(
            request,
            f"{total:,} rows are more than {settings.EXPORT_SYNC_MAX_ROWS:,} for a direct download: "
            "the export buttons prepare the file in the background.",
        )
        return redirect(_data_url(table, _filter_query(request)))
    filename = export_filename(table=table, extension=fmt)
    if fmt == "csv":
        response = StreamingHttpResponse(
            table_csv_stream(table=table, filters=filters), content_type=CONTENT_TYPES["csv"]
        )
        response["Content-Disposition"] = content_disposition_header(True, filename)
        return response
    return FileResponse(
        table_xlsx_file(table=table, filters=filters),
        as_attachment=True,
        filename=filename,
        content_type=XLSX_CONTENT_TYPE,
    )


@can_view_data
@require_POST
def data_export_start(request, table_name: str, fmt: str):
    """Start a background export of the matching rows (the filters in the query string); back to the page."""
    table = get_object_or_404(ImportTable, table_name=table_name)
    filters, refused = _filters_or_400(request, table)
    if refused:
        return refused
    total = table_rows_count(table=table, filters=filters)
    export = data_export_create(table=table, fmt=fmt, filters=filters, user=request.user, rows_total=total)
    export.refresh_from_db()
    if export.status == ExportStatus.DONE:
        messages.success(request, f"The {fmt.upper()} export of {total:,} rows is ready.")
    else:
        messages.info(request, f"Exporting {total:,} rows as {fmt.upper()} in the background.")
    return redirect(_data_url(table, _filter_query(request)) + "#exports")


def _visible_export(request, export_id: int) -> DataExport:
    try:
        return data_export_visible(export_id=export_id, user=request.user)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@can_view_data
@require_GET
def data_export_status(request, export_id: int):
    """An export's progress as JSON, for the data page to poll."""
    export = _visible_export(request, export_id)
    body = data_export_progress(export)
    body["download_url"] = (
        reverse("data-export-download", args=[export.pk]) if export.status == ExportStatus.DONE else None
    )
    return JsonResponse(body)


@can_view_data
@require_GET
def data_export_download(request, export_id: int):
    """A finished background export's file, for whoever started it (or a superuser)."""
    export = _visible_export(request, export_id)
    path = data_export_path(export)
    if export.status != ExportStatus.DONE or not path.is_file():
        raise Http404("This export is not ready, or its file was removed.")
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=data_export_progress(export)["filename"],
        content_type=CONTENT_TYPES.get(export.fmt, "application/octet-stream"),
    )
