"""Who has sent what: each distributor's obligations (tables x periods) against the complete jobs that cover
them, as received / received with errors / late / missing / not yet due, with rows and amounts per period.

The rules, in one place:
- A period is a calendar month (`2026-10`), an ISO week (`2026-W43`, Monday to Sunday) or a day
  (`2026-10-05`), by the distributor's cadence.
- Its due date: monthly, day `due_day` of the following month; weekly, weekday `due_day` (1 = Monday) of the
  following week; daily, the next day. A file that arrives on its due date is on time.
- A job covers the periods of the days its rows' period column holds (JobPeriodTotal); a job without a
  period column covers the last period that ended before the day it was uploaded (an October file sent on
  5 November); a job imported before the per-day totals existed covers the periods its summary's period
  range touches. Only complete (status 9), not reverted jobs of the distributor's tables count; it arrived
  when it was uploaded (`created_at`, in the server's time zone).
- The state of a covered period: `late` when its first covering file arrived after the due date, else
  `received_with_errors` when a covering file rejected rows, else `received`. Not covered: `missing` once
  the due date has passed, `due` before. Periods before `obligations_from` (default: the day the
  distributor was added) are `not_owed`, unless a file came for them anyway.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from decimal import Context, Decimal, localcontext

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from importhub.errors import ImportHubError

from ..models import Cadence, Distributor, ImportJob, JobPeriodTotal, JobStatus


class CellState:
    RECEIVED = "received"
    RECEIVED_WITH_ERRORS = "received_with_errors"
    LATE = "late"
    MISSING = "missing"
    DUE = "due"
    NOT_OWED = "not_owed"


STATES = (
    CellState.RECEIVED,
    CellState.RECEIVED_WITH_ERRORS,
    CellState.LATE,
    CellState.MISSING,
    CellState.DUE,
    CellState.NOT_OWED,
)
# All tables together: a distributor's period shows its worst table.
STATE_SEVERITY = {
    CellState.MISSING: 5,
    CellState.LATE: 4,
    CellState.RECEIVED_WITH_ERRORS: 3,
    CellState.DUE: 2,
    CellState.RECEIVED: 1,
    CellState.NOT_OWED: 0,
}


class ComplianceRequestInvalid(ImportHubError):
    code = "invalid_period"


@dataclasses.dataclass(frozen=True, order=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive
    key: str
    due: dt.date


def period_of(*, cadence: str, day: dt.date, due_day: int = 1) -> Period:
    """The period of `cadence` that holds `day`, with its due date."""
    if cadence == Cadence.MONTHLY:
        start = day.replace(day=1)
        following = _month_add(start, 1)
        end = following - dt.timedelta(days=1)
        return Period(start, end, f"{start:%Y-%m}", following.replace(day=min(max(due_day, 1), 28)))
    if cadence == Cadence.WEEKLY:
        start = day - dt.timedelta(days=day.weekday())
        end = start + dt.timedelta(days=6)
        year, week, _ = start.isocalendar()
        return Period(start, end, f"{year}-W{week:02d}", end + dt.timedelta(days=min(max(due_day, 1), 7)))
    if cadence == Cadence.DAILY:
        return Period(day, day, day.isoformat(), day + dt.timedelta(days=1))
    raise ValueError(f"unknown cadence {cadence!r}")


def periods_between(*, cadence: str, start: dt.date, end: dt.date, due_day: int = 1) -> list[Period]:
    """Every period of `cadence` that starts on or after the one holding `start` and holds a day up to `end`."""
    periods: list[Period] = []
    day = start
    while day <= end:
        period = period_of(cadence=cadence, day=day, due_day=due_day)
        periods.append(period)
        day = period.end + dt.timedelta(days=1)
    return periods


def period_before_upload(*, cadence: str, day: dt.date, due_day: int = 1) -> Period:
    """The period a file without a period column reports on: the last one that ended before its upload day."""
    current = period_of(cadence=cadence, day=day, due_day=due_day)
    return period_of(cadence=cadence, day=current.start - dt.timedelta(days=1), due_day=due_day)


def month_parse(text: str, *, name: str) -> dt.date:
    """'2026-10' -> 1 October 2026; anything else is refused with the parameter's name."""
    try:
        year, month = text.split("-")
        if len(year) != 4 or len(month) != 2:
            raise ValueError
        return dt.date(int(year), int(month), 1)
    except ValueError:
        raise ComplianceRequestInvalid(f"{name}: {text!r} is not a month like 2026-10.") from None


def _month_add(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _aware(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))


@dataclasses.dataclass
class Cell:
    period: Period
    state: str = CellState.MISSING
    late: bool = False
    rows: int = 0
    amount: Decimal | None = None
    rejected_rows: int = 0
    received_at: dt.datetime | None = None
    job_ids: list[int] = dataclasses.field(default_factory=list)
    batch_ids: list[str] = dataclasses.field(default_factory=list)
    rows_drop: bool = False
    amount_drop: bool = False
    tables: dict[str, str] = dataclasses.field(default_factory=dict)  # all tables together: table -> state

    def as_dict(self) -> dict:
        body = {
            "period": self.period.key,
            "start": self.period.start.isoformat(),
            "end": self.period.end.isoformat(),
            "due": self.period.due.isoformat(),
            "state": self.state,
            "late": self.late,
            "rows": self.rows,
            "amount": None if self.amount is None else f"{self.amount:f}",
            "rejected_rows": self.rejected_rows,
            "received_at": self.received_at.isoformat() if self.received_at else None,
            "jobs": self.job_ids,
            "batches": self.batch_ids,
            "rows_drop": self.rows_drop,
            "amount_drop": self.amount_drop,
        }
        if self.tables:
            body["tables"] = self.tables
        return body


@dataclasses.dataclass
class Line:
    """One distributor and table (table "" when all its tables are taken together), period by period."""

    distributor: Distributor
    table_name: str
    cells: list[Cell]

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        for cell in self.cells:
            counts[cell.state] += 1
        return counts

    def as_dict(self) -> dict:
        return {
            "distributor": self.distributor.code,
            "distributor_name": self.distributor.name,
            "cadence": self.distributor.cadence,
            "due_day": self.distributor.due_day,
            "table": self.table_name or None,
            "counts": self.counts,
            "cells": [c.as_dict() for c in self.cells],
        }


@dataclasses.dataclass
class Grid:
    month_from: dt.date
    month_to: dt.date
    today: dt.date
    lines: list[Line]

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        for line in self.lines:
            for state, count in line.counts.items():
                counts[state] += count
        return counts

    def as_dict(self) -> dict:
        return {
            "from": f"{self.month_from:%Y-%m}",
            "to": f"{self.month_to:%Y-%m}",
            "today": self.today.isoformat(),
            "counts": self.counts,
            "lines": [line.as_dict() for line in self.lines],
        }


def compliance_grid(
    *,
    month_from: dt.date,
    month_to: dt.date,
    table_name: str | None = None,
    cadence: str | None = None,
    state: str | None = None,
    distributor_code: str | None = None,
    together: bool = False,
    today: dt.date | None = None,
) -> Grid:
    """The grid of active distributors x their periods from `month_from` to the end of `month_to`: one line per
    distributor and obligation table (or per distributor, `together`), filtered by table, cadence, distributor
    and by `state` (lines with at least one cell in it)."""
    if month_to < month_from:
        raise ComplianceRequestInvalid("The period ends before it starts: 'to' must not be before 'from'.")
    if state and state not in STATES:
        raise ComplianceRequestInvalid(
            f"state: {state!r} is not one of {', '.join(STATES)}.", code="invalid_state"
        )
    today = today or timezone.localdate()
    end = _month_add(month_to, 1) - dt.timedelta(days=1)
    distributors = Distributor.objects.filter(is_active=True).prefetch_related("tables").order_by("code")
    if cadence:
        distributors = distributors.filter(cadence=cadence)
    if distributor_code:
        distributors = distributors.filter(code=distributor_code)
    lines: list[Line] = []
    for distributor in distributors:
        tables = sorted(t.table_name for t in distributor.tables.all())
        if table_name:
            tables = [t for t in tables if t == table_name]
        if not tables:
            continue
        per_table = distributor_cells(
            distributor=distributor, tables=tables, start=month_from, end=end, today=today
        )
        if together:
            lines.append(Line(distributor, "", _together(per_table)))
        else:
            lines += [Line(distributor, table, cells) for table, cells in per_table.items()]
    if state:
        lines = [line for line in lines if any(c.state == state for c in line.cells)]
    return Grid(month_from, month_to, today, lines)


def distributor_cells(
    *, distributor: Distributor, tables: Iterable[str], start: dt.date, end: dt.date, today: dt.date
) -> dict[str, list[Cell]]:
    """Each table's cells for the distributor's periods holding `start` .. `end`; the volume drop flags look
    back COMPLIANCE_DROP_PERIODS periods before `start`."""
    cadence, due_day = distributor.cadence, distributor.due_day
    shown = periods_between(cadence=cadence, start=start, end=end, due_day=due_day)
    back = settings.COMPLIANCE_DROP_PERIODS
    first = shown[0].start
    for _ in range(back):
        first = period_of(cadence=cadence, day=first - dt.timedelta(days=1), due_day=due_day).start
    periods = periods_between(cadence=cadence, start=first, end=end, due_day=due_day)
    owed_from = period_of(
        cadence=cadence,
        day=distributor.obligations_from or timezone.localdate(distributor.created_at),
        due_day=due_day,
    ).start
    result = {}
    covering = _covering_jobs(distributor=distributor, tables=tables, periods=periods)
    for table in tables:
        cells = [Cell(period=p) for p in periods]
        for cell in cells:
            _cell_fill(
                cell,
                covering.get((table, cell.period.key), []),
                today=today,
                owed=cell.period.start >= owed_from,
            )
        _drops_mark(cells)
        result[table] = cells[len(periods) - len(shown) :]
    return result


@dataclasses.dataclass
class _Cover:
    job_id: int
    batch_id: str
    created_at: dt.datetime
    error_count: int
    rows: int
    amount: Decimal | None


def _covering_jobs(*, distributor: Distributor, tables: Iterable[str], periods: list[Period]) -> dict:
    """{(table, period key): [_Cover]} from the complete jobs of the distributor's tables."""
    cadence, due_day = distributor.cadence, distributor.due_day
    first, last = periods[0].start, periods[-1].end
    jobs = ImportJob.objects.filter(
        Q(distributor=distributor) | Q(distributor__isnull=True, dist_id=distributor.code),
        status=JobStatus.COMPLETE,
        reverted_at__isnull=True,
        table_name__in=list(tables),
    )
    found: dict = defaultdict(list)
    job_fields = {}
    dated = defaultdict(lambda: defaultdict(lambda: [0, None]))  # job -> period key -> [rows, amount]
    totals = JobPeriodTotal.objects.filter(job__in=jobs, day__gte=first, day__lte=last).values_list(
        "job_id", "day", "rows", "amount"
    )
    with localcontext(Context(prec=200)):
        for job_id, day, rows, amount in totals:
            entry = dated[job_id][period_of(cadence=cadence, day=day, due_day=due_day).key]
            entry[0] += rows
            if amount:
                entry[1] = Decimal(amount) + (entry[1] or 0)
    # Files without a period column (no day totals): uploaded within a period after the range's first one.
    undated = jobs.filter(
        period_totals__isnull=True,
        created_at__gte=_aware(first),
        created_at__lt=_aware(last + dt.timedelta(days=32)),
    )
    keys = {p.key for p in periods}
    fields = ("id", "batch_id", "table_name", "created_at", "error_count", "success_count", "summary")
    for job_id, batch_id, table, created_at, errors, success, summary in undated.values_list(*fields):
        summary = summary if isinstance(summary, dict) else {}
        amount = summary.get("amount_total")
        cover = _Cover(
            job_id, str(batch_id), created_at, errors, success, Decimal(amount) if amount else None
        )
        if summary.get("period_start") and summary.get("period_end"):
            # Imported before the per-day totals existed: the periods its rows' range touches; its rows and
            # amount are only known for the period when that range holds a single one.
            touched = periods_between(
                cadence=cadence,
                start=dt.date.fromisoformat(summary["period_start"]),
                end=dt.date.fromisoformat(summary["period_end"]),
                due_day=due_day,
            )
            if len(touched) > 1:
                cover.rows, cover.amount = 0, None
            for period in touched:
                if period.key in keys:
                    found[(table, period.key)].append(cover)
            continue
        key = period_before_upload(cadence=cadence, day=timezone.localdate(created_at), due_day=due_day).key
        if key in keys:
            found[(table, key)].append(cover)
    for job_id, batch_id, table, created_at, errors in jobs.filter(pk__in=list(dated)).values_list(
        *fields[:5]
    ):
        job_fields[job_id] = (str(batch_id), table, created_at, errors)
    for job_id, by_period in dated.items():
        batch_id, table, created_at, errors = job_fields[job_id]
        for key, (rows, amount) in by_period.items():
            found[(table, key)].append(_Cover(job_id, batch_id, created_at, errors, rows, amount))
    return found


def _cell_fill(cell: Cell, covers: list[_Cover], *, today: dt.date, owed: bool) -> None:
    if not covers:
        if not owed:
            cell.state = CellState.NOT_OWED
        else:
            cell.state = CellState.MISSING if today > cell.period.due else CellState.DUE
        return
    covers = sorted(covers, key=lambda c: (c.created_at, c.job_id))
    cell.job_ids = [c.job_id for c in covers]
    cell.batch_ids = list(dict.fromkeys(c.batch_id for c in covers))
    cell.received_at = covers[0].created_at
    cell.rows = sum(c.rows for c in covers)
    amounts = [c.amount for c in covers if c.amount is not None]
    with localcontext(Context(prec=200)):
        cell.amount = sum(amounts, Decimal(0)) if amounts else None
    cell.rejected_rows = sum(c.error_count for c in covers)
    cell.late = timezone.localdate(cell.received_at) > cell.period.due
    if cell.late:
        cell.state = CellState.LATE
    elif cell.rejected_rows:
        cell.state = CellState.RECEIVED_WITH_ERRORS
    else:
        cell.state = CellState.RECEIVED


def _drops_mark(cells: list[Cell]) -> None:
    """Mark a received period whose rows (or amount) fell below (1 - COMPLIANCE_DROP_SHARE) x the mean of the
    previous COMPLIANCE_DROP_PERIODS received periods."""
    share, back = settings.COMPLIANCE_DROP_SHARE, settings.COMPLIANCE_DROP_PERIODS
    received = [c for c in cells if c.job_ids]
    for index, cell in enumerate(received):
        earlier = received[max(0, index - back) : index]
        if not earlier:
            continue
        mean_rows = sum(c.rows for c in earlier) / len(earlier)
        cell.rows_drop = mean_rows > 0 and cell.rows < (1 - share) * mean_rows
        amounts = [c.amount for c in earlier if c.amount is not None]
        if cell.amount is not None and amounts:
            mean_amount = sum(amounts, Decimal(0)) / len(amounts)
            cell.amount_drop = mean_amount > 0 and cell.amount < Decimal(str(1 - share)) * mean_amount


def _together(per_table: dict[str, list[Cell]]) -> list[Cell]:
    """One cell per period for all the distributor's tables: the worst table's state, rows and amounts added."""
    columns = list(zip(*per_table.values(), strict=True))
    together = []
    for cells in columns:
        worst = max(cells, key=lambda c: STATE_SEVERITY[c.state])
        amounts = [c.amount for c in cells if c.amount is not None]
        together.append(
            Cell(
                period=cells[0].period,
                state=worst.state,
                late=any(c.late for c in cells),
                rows=sum(c.rows for c in cells),
                amount=sum(amounts, Decimal(0)) if amounts else None,
                rejected_rows=sum(c.rejected_rows for c in cells),
                received_at=max((c.received_at for c in cells if c.received_at), default=None),
                job_ids=sorted({j for c in cells for j in c.job_ids}),
                batch_ids=list(dict.fromkeys(b for c in cells for b in c.batch_ids)),
                rows_drop=any(c.rows_drop for c in cells),
                amount_drop=any(c.amount_drop for c in cells),
                tables=dict(zip(per_table, (c.state for c in cells), strict=True)),
            )
        )
    return together
