"""The compliance pages: the grid of distributors x periods (/compliance/), the same as CSV (/compliance.csv),
and one distributor's rows and amounts per period with its grid (/compliance/<code>/). Thin views over
`services.compliance` and `services.compliance_requests`."""

from __future__ import annotations

import csv
import io
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header

from tableconfig.models import ImportTable

from .models import Cadence, Distributor
from .services.compliance import STATES, CellState, ComplianceRequestInvalid, Line, distributor_cells
from .services.compliance_requests import (
    compliance_csv_rows,
    compliance_grid_for,
    distributor_window,
)
from .views import _page_permission

STATE_LABELS = {
    CellState.RECEIVED: "Received",
    CellState.RECEIVED_WITH_ERRORS: "With errors",
    CellState.LATE: "Late",
    CellState.MISSING: "Missing",
    CellState.DUE: "Not yet due",
    CellState.NOT_OWED: "Not owed",
}
FILTERS = ("from", "to", "table", "cadence", "state", "distributor", "together")

can_see_compliance = _page_permission(
    lambda user: user.has_perm("imports.view_distributor"),
    "You do not have permission to see the distributors' compliance (imports.view_distributor).",
)


def _jobs_url(line: Line, cell) -> str:
    """One batch: its page; several: the batches list for the distributor (and table)."""
    if len(cell.batch_ids) == 1:
        return reverse("batch-detail", args=[cell.batch_ids[0]])
    query = {"dist_id": line.distributor.code}
    if line.table_name:
        query["table_name"] = line.table_name
    return reverse("batch-list") + "?" + urlencode(query)


def _cell_view(line: Line, cell) -> dict:
    title = [f"{line.distributor.code} {line.table_name or 'all tables'} {cell.period.key}"]
    title.append(f"{STATE_LABELS[cell.state]}; due {cell.period.due:%Y-%m-%d}")
    if cell.received_at:
        title.append(f"received {timezone.localtime(cell.received_at):%Y-%m-%d %H:%M}")
    if cell.tables:
        title.append(", ".join(f"{t}: {STATE_LABELS[s].lower()}" for t, s in cell.tables.items()))
    return {
        "cell": cell,
        "label": STATE_LABELS[cell.state],
        "url": _jobs_url(line, cell) if cell.batch_ids else "",
        "title": "; ".join(title),
        "drop": cell.rows_drop or cell.amount_drop,
    }


def _sections(lines: list[Line]) -> list[dict]:
    """One table per cadence: monthly, weekly and daily distributors have different periods."""
    sections = []
    for cadence, label in Cadence.choices[::-1]:
        mine = [line for line in lines if line.distributor.cadence == cadence]
        if mine:
            sections.append(
                {
                    "cadence": cadence,
                    "label": label,
                    "periods": [c.period for c in mine[0].cells],
                    "lines": [
                        {"line": line, "cells": [_cell_view(line, c) for c in line.cells]} for line in mine
                    ],
                }
            )
    return sections


def _legend(counts: dict | None = None) -> list[dict]:
    return [{"state": s, "label": STATE_LABELS[s], "count": (counts or {}).get(s, 0)} for s in STATES]


def _filters_context(request) -> dict:
    return {
        "filters": {name: request.GET.get(name, "") for name in FILTERS},
        "table_names": ImportTable.objects.order_by("table_name").values_list("table_name", flat=True),
        "cadences": Cadence.choices,
        "states": [(s, STATE_LABELS[s]) for s in STATES],
        "query": urlencode([(k, v) for k, v in request.GET.items() if k in FILTERS and v]),
    }


@can_see_compliance
def compliance_page(request):
    context = _filters_context(request)
    try:
        grid = compliance_grid_for(params=request.GET)
    except ComplianceRequestInvalid as exc:
        context.update(error=exc.message, legend=_legend())
        return render(request, "imports/compliance.html", context, status=400)
    context.update(
        grid=grid,
        sections=_sections(grid.lines),
        legend=_legend(grid.counts),
    )
    return render(request, "imports/compliance.html", context)


@can_see_compliance
def compliance_csv(request):
    try:
        grid = compliance_grid_for(params=request.GET)
    except ComplianceRequestInvalid as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    buffer = io.StringIO()
    buffer.write("\ufeff")  # a BOM, so spreadsheet programs read UTF-8 (as errors.csv does)
    csv.writer(buffer).writerows(compliance_csv_rows(grid=grid))
    response = HttpResponse(buffer.getvalue().encode(), content_type="text/csv; charset=utf-8")
    name = f"compliance_{grid.month_from:%Y-%m}_{grid.month_to:%Y-%m}.csv"
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response


def _chart_data(per_table: dict) -> dict:
    """What the charts draw: the periods, and per table its rows and amounts with the drop flags."""
    first = next(iter(per_table.values()), [])
    return {
        "periods": [c.period.key for c in first],
        "tables": [
            {
                "table": table,
                "rows": [c.rows if c.job_ids else None for c in cells],
                "amounts": [None if c.amount is None else f"{c.amount:f}" for c in cells],
                "rows_drop": [c.rows_drop for c in cells],
                "amount_drop": [c.amount_drop for c in cells],
            }
            for table, cells in per_table.items()
        ],
    }


@can_see_compliance
def compliance_distributor(request, code: str):
    distributor = get_object_or_404(Distributor, code=code)
    context = {
        "distributor": distributor,
        "filters": {name: request.GET.get(name, "") for name in ("from", "to")},
        "legend": _legend(),
    }
    try:
        start, end = distributor_window(distributor=distributor, params=request.GET)
    except ComplianceRequestInvalid as exc:
        context["error"] = exc.message
        return render(request, "imports/compliance_distributor.html", context, status=400)
    tables = sorted(t.table_name for t in distributor.tables.all())
    per_table = (
        distributor_cells(
            distributor=distributor, tables=tables, start=start, end=end, today=timezone.localdate()
        )
        if tables
        else {}
    )
    lines = [Line(distributor, table, cells) for table, cells in per_table.items()]
    drops = [
        {"table": line.table_name, "period": c.period.key, "rows": c.rows_drop, "amount": c.amount_drop}
        for line in lines
        for c in line.cells
        if c.rows_drop or c.amount_drop
    ]
    context.update(
        start=start,
        end=end,
        sections=_sections(lines),
        chart=_chart_data(per_table),
        has_amounts=any(c.amount is not None for cells in per_table.values() for c in cells),
        drops=drops,
        drop_share=f"{settings.COMPLIANCE_DROP_SHARE:.0%}",
        drop_periods=settings.COMPLIANCE_DROP_PERIODS,
    )
    return render(request, "imports/compliance_distributor.html", context)
