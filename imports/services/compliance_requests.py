"""What the compliance page, its CSV and GET /api/compliance are asked: their filters read once, in one way
(from, to, table, cadence, state, distributor, together), and the grid written as CSV rows."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping

from django.utils import timezone

from tableconfig.models import ImportTable

from ..models import Cadence, Distributor
from .compliance import (
    ComplianceRequestInvalid,
    Grid,
    compliance_grid,
    month_parse,
    period_of,
)
from .export import cell_neutralize

DEFAULT_MONTHS = 6
MAX_MONTHS = 36
DISTRIBUTOR_PERIODS = 12
TRUE, FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")

CSV_HEADER = [
    "distributor",
    "distributor_name",
    "table",
    "period",
    "start",
    "end",
    "due",
    "state",
    "late",
    "rows",
    "amount",
    "rejected_rows",
    "received_at",
    "job_ids",
    "batch_ids",
    "rows_drop",
    "amount_drop",
]


@dataclasses.dataclass(frozen=True)
class ComplianceQuery:
    month_from: dt.date
    month_to: dt.date
    table_name: str | None = None
    cadence: str | None = None
    state: str | None = None
    distributor_code: str | None = None
    together: bool = False

    def grid_kwargs(self) -> dict:
        return dataclasses.asdict(self)


def _month_add(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _text(params: Mapping, name: str) -> str | None:
    return (params.get(name) or "").strip()[:200] or None


def compliance_query_parse(*, params: Mapping, today: dt.date | None = None) -> ComplianceQuery:
    """The filters from query parameters; `from`/`to` default to the last six months up to this month.
    Refusals carry a code: invalid_period, invalid_state (from the grid), invalid_cadence, invalid_table,
    invalid_distributor, invalid_parameter."""
    this_month = (today or timezone.localdate()).replace(day=1)
    raw_from, raw_to = _text(params, "from"), _text(params, "to")
    month_to = month_parse(raw_to, name="to") if raw_to else None
    month_from = month_parse(raw_from, name="from") if raw_from else None
    if month_to is None:
        month_to = max(this_month, month_from) if month_from else this_month
    if month_from is None:
        month_from = _month_add(month_to, 1 - DEFAULT_MONTHS)
    if month_to < month_from:
        raise ComplianceRequestInvalid("The period ends before it starts: 'to' must not be before 'from'.")
    months = (month_to.year - month_from.year) * 12 + month_to.month - month_from.month + 1
    if months > MAX_MONTHS:
        raise ComplianceRequestInvalid(f"{months} months asked for; at most {MAX_MONTHS} at once.")
    cadence = _text(params, "cadence")
    if cadence and cadence not in Cadence.values:
        raise ComplianceRequestInvalid(
            f"cadence: {cadence!r} is not one of {', '.join(Cadence.values)}.", code="invalid_cadence"
        )
    table_name = _text(params, "table")
    if table_name and not ImportTable.objects.filter(table_name=table_name).exists():
        raise ComplianceRequestInvalid(
            f"table: there is no import table {table_name!r}.", code="invalid_table"
        )
    code = _text(params, "distributor")
    if code and not Distributor.objects.filter(code=code).exists():
        raise ComplianceRequestInvalid(
            f"distributor: there is no distributor {code!r}.", code="invalid_distributor"
        )
    together = (params.get("together") or "").strip().lower()
    if together not in TRUE + FALSE:
        raise ComplianceRequestInvalid(
            f"together: {together[:20]!r} is not true or false.", code="invalid_parameter"
        )
    return ComplianceQuery(
        month_from=month_from,
        month_to=month_to,
        table_name=table_name,
        cadence=cadence,
        state=_text(params, "state"),
        distributor_code=code,
        together=together in TRUE,
    )


def compliance_grid_for(*, params: Mapping, today: dt.date | None = None) -> Grid:
    """The grid the query parameters ask for (refusals as in `compliance_query_parse` and the grid)."""
    query = compliance_query_parse(params=params, today=today)
    return compliance_grid(**query.grid_kwargs(), today=today)


def distributor_window(
    *, distributor: Distributor, params: Mapping, today: dt.date | None = None
) -> tuple[dt.date, dt.date]:
    """The days one distributor's page covers: the months `from`..`to` when given, else its last twelve
    periods up to the current one."""
    today = today or timezone.localdate()
    raw_from, raw_to = _text(params, "from"), _text(params, "to")
    if raw_from or raw_to:
        query = compliance_query_parse(params={"from": raw_from, "to": raw_to}, today=today)
        return query.month_from, _month_add(query.month_to, 1) - dt.timedelta(days=1)
    cadence, due_day = distributor.cadence, distributor.due_day
    current = period_of(cadence=cadence, day=today, due_day=due_day)
    start = current.start
    for _ in range(DISTRIBUTOR_PERIODS - 1):
        start = period_of(cadence=cadence, day=start - dt.timedelta(days=1), due_day=due_day).start
    return start, current.end


def _flag(value: bool) -> str:
    return "yes" if value else "no"


def compliance_csv_rows(*, grid: Grid) -> Iterator[list[str]]:
    """The header, then one row per distributor x table x period (table empty when all tables are taken
    together), every text cell neutralised as in the data exports."""
    yield CSV_HEADER
    for line in grid.lines:
        for cell in line.cells:
            row = [
                line.distributor.code,
                line.distributor.name,
                line.table_name,
                cell.period.key,
                cell.period.start.isoformat(),
                cell.period.end.isoformat(),
                cell.period.due.isoformat(),
                cell.state,
                _flag(cell.late),
                str(cell.rows),
                "" if cell.amount is None else f"{cell.amount:f}",
                str(cell.rejected_rows),
                timezone.localtime(cell.received_at).isoformat() if cell.received_at else "",
                " ".join(str(j) for j in cell.job_ids),
                " ".join(cell.batch_ids),
                _flag(cell.rows_drop),
                _flag(cell.amount_drop),
            ]
            yield [cell_neutralize(value) for value in row]
