"""Summaries of an imported file from its columns' roles: period, amount, export date; and readable notes."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
from decimal import Context, Decimal, localcontext

import pyarrow as pa
import pyarrow.compute as pc
from django.db import OperationalError, connection, transaction

from tableconfig.models import ColumnConfig, ColumnRole
from tableconfig.naming import identifier_validate

logger = logging.getLogger(__name__)


def _quote(name: str, kind: str) -> str:
    return connection.ops.quote_name(identifier_validate(name, kind=kind))


def _as_date(value) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _as_datetime(value) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    text = str(value)
    try:  # canonical text: ISO, with the microseconds the table keeps ('2026-10-31 23:00:00.500000')
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return dt.datetime.fromisoformat(text[:19])


@dataclasses.dataclass
class _Group:
    rows: int = 0
    amount: Decimal | None = None


def _groups_total(
    *, table_sql: str, job_id: int, day_sql: str | None, amount_sql: str | None, places: int, digits: int
) -> dict:
    """The job's rows per day of `day_sql` ({day text or None: _Group}; one key None when not grouped), with
    the exact sum of `amount_sql`. MySQL sums DECIMAL exactly. SQLite's SUM() would turn the stored text into
    binary floats; but the rows this job wrote hold canonical text with exactly `places` decimals, so without
    the point they are whole numbers that SQLite adds exactly in 64 bits, as long as each fits (at most 18
    digits: a longer CAST would be clamped). Past 64 bits SQLite raises "integer overflow" rather than lose
    digits; then, as for wider columns, the values are added here as Decimals, streamed."""
    key = day_sql or "NULL"
    tail = f"FROM {table_sql} WHERE import_job_id = %s" + (f" GROUP BY {day_sql}" if day_sql else "")

    def grouped(amount_expr: str) -> dict:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {key}, COUNT(*), {amount_expr} {tail}", [job_id])
            return {day: _Group(rows, amount) for day, rows, amount in cursor.fetchall() if rows}

    if amount_sql is None:
        return grouped("NULL")
    if connection.vendor == "mysql":
        groups = grouped(f"SUM({amount_sql})")
        for group in groups.values():
            group.amount = None if group.amount is None else Decimal(str(group.amount))
        return groups
    if digits <= 18:
        try:
            # A savepoint keeps the caller's transaction usable after an overflow; outside one, an atomic
            # block would take SQLite's write lock for a read.
            guard = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
            with guard:
                groups = grouped(f"SUM(CAST(REPLACE({amount_sql}, '.', '') AS INTEGER))")
            for group in groups.values():
                group.amount = None if group.amount is None else Decimal(group.amount).scaleb(-places)
            return groups
        except OperationalError:
            logger.debug("Job %s: the amounts add up past 64 bits; adding them as Decimals", job_id)
    groups = grouped("NULL")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {key}, CAST({amount_sql} AS TEXT) FROM {table_sql} "
            f"WHERE import_job_id = %s AND {amount_sql} IS NOT NULL",
            [job_id],
        )
        # Decimal's default context keeps 28 digits: a 38-digit column would be rounded.
        with localcontext(Context(prec=200)):
            while batch := cursor.fetchmany(10_000):
                for day, value in batch:
                    group = groups[day]
                    group.amount = Decimal(value) + (group.amount or 0)
    return groups


@dataclasses.dataclass(frozen=True)
class PeriodDay:
    """What a job's rows hold for one day of its period column."""

    day: dt.date
    rows: int
    amount: str | None


def job_summary_compute(*, table_name: str, columns: list[ColumnConfig], job_id: int) -> dict:
    """Aggregate the rows this job wrote (the rows carrying its id: inserted or updated), exactly."""
    return job_summary_with_days(table_name=table_name, columns=columns, job_id=job_id)[0]


def _roles_read(columns: list[ColumnConfig]) -> tuple[dict, int, int]:
    """The columns by role, and the amount column's (places, digits): an int amount has 0 places."""
    roles = {c.role: c.column_name for c in columns if c.role}
    places, digits = 0, 0
    if ColumnRole.AMOUNT in roles:
        amount = next(c for c in columns if c.column_name == roles[ColumnRole.AMOUNT])
        places, digits = (
            (amount.decimal_places, amount.decimal_digits) if amount.data_type == "decimal" else (0, 18)
        )
    return roles, places, digits


def job_summary_with_days(
    *, table_name: str, columns: list[ColumnConfig], job_id: int
) -> tuple[dict, list[PeriodDay]]:
    """The summary, and the rows and amount per day of the period column (empty without one): one grouped
    pass over the job's rows gives the period, the amount total and the days."""
    roles, places, digits = _roles_read(columns)
    table_sql = _quote(table_name, "table")
    day_sql = amount_sql = None
    if ColumnRole.PERIOD in roles:
        column = _quote(roles[ColumnRole.PERIOD], "column")
        day_sql = f"DATE({column})" if connection.vendor == "mysql" else f"SUBSTR({column}, 1, 10)"
    if ColumnRole.AMOUNT in roles:
        amount_sql = _quote(roles[ColumnRole.AMOUNT], "column")
    groups: dict = {}
    if day_sql or amount_sql:
        groups = _groups_total(
            table_sql=table_sql,
            job_id=job_id,
            day_sql=day_sql,
            amount_sql=amount_sql,
            places=places,
            digits=digits,
        )
    exported = None
    if ColumnRole.EXPORT_DATE in roles:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT MAX({_quote(roles[ColumnRole.EXPORT_DATE], 'column')}) FROM {table_sql} "
                "WHERE import_job_id = %s",
                [job_id],
            )
            exported = _as_datetime(cursor.fetchone()[0])
    return _summary_build(roles=roles, places=places, groups=groups, exported=exported)


def _summary_build(
    *, roles: dict, places: int, groups: dict, exported: dt.datetime | None
) -> tuple[dict, list[PeriodDay]]:
    """The summary and the days from the job's rows grouped by day ({day or None: _Group}) and the latest
    export date: the same for the figures read back from the table and for those added up while loading."""
    summary: dict = {}
    days: list[PeriodDay] = []
    scale = Decimal(1).scaleb(-places)

    def text(value: Decimal | None) -> str | None:
        # The column's own scale, so both databases give the same text ('4849001.7500').
        return None if value is None else _decimal_text(value.quantize(scale, context=Context(prec=200)))

    if ColumnRole.PERIOD in roles:
        days = sorted(
            (PeriodDay(_as_date(day), g.rows, text(g.amount)) for day, g in groups.items() if day),
            key=lambda d: d.day,
        )
        summary["period_column"] = roles[ColumnRole.PERIOD]
        summary["period_start"] = days[0].day.isoformat() if days else None
        summary["period_end"] = days[-1].day.isoformat() if days else None
    if ColumnRole.AMOUNT in roles:
        amounts = [g.amount for g in groups.values() if g.amount is not None]
        with localcontext(Context(prec=200)):
            total = sum(amounts, Decimal(0)) if amounts else None
        summary["amount_column"] = roles[ColumnRole.AMOUNT]
        summary["amount_total"] = text(total)
    if ColumnRole.EXPORT_DATE in roles:
        summary["export_date"] = exported.isoformat(sep=" ") if exported else None
    return summary, days


class SummaryTally:
    """The summary of an append-only import added up from the rows as they are written, so that no query reads
    them back: the same figures as job_summary_with_days gives from the table (every row the job wrote is a
    row given here, in the canonical text the table stores; the server's warnings fail the file otherwise).

    `add` takes each chunk's written rows (canonical text or None), in Arrow: the day is the first 10
    characters of the period value, the amount is summed exactly as decimal (128 or 256 bits, chosen so that
    a chunk's sum cannot overflow; the chunks' sums are added as Decimals), the export date is the greatest
    canonical text, which sorts as the dates do. Not thread-safe: one thread adds, then another reads."""

    def __init__(self, *, columns: list[ColumnConfig], chunk_rows: int):
        self.roles, self.places, digits = _roles_read(columns)
        self.period = self.roles.get(ColumnRole.PERIOD)
        self.amount = self.roles.get(ColumnRole.AMOUNT)
        self.export = self.roles.get(ColumnRole.EXPORT_DATE)
        width = digits + len(str(max(int(chunk_rows), 1))) + 1  # a chunk's sum has at most this many digits
        self.amount_type = pa.decimal128(38, self.places) if width <= 38 else pa.decimal256(76, self.places)
        self.groups: dict[str | None, _Group] = {}
        self.exported: str | None = None

    def add(self, frame) -> None:
        if not len(frame):
            return
        if self.export is not None:
            latest = pc.max(pa.array(frame[self.export], type=pa.string(), from_pandas=True)).as_py()
            if latest is not None and (self.exported is None or latest > self.exported):
                self.exported = latest
        if self.period is None and self.amount is None:
            return
        count = len(frame)
        day = (
            pc.utf8_slice_codeunits(pa.array(frame[self.period], type=pa.string(), from_pandas=True), 0, 10)
            if self.period is not None
            else pa.nulls(count, type=pa.string())
        )
        amount = (
            pc.cast(pa.array(frame[self.amount], type=pa.string(), from_pandas=True), self.amount_type)
            if self.amount is not None
            else pa.nulls(count, type=self.amount_type)
        )
        grouped = (
            pa.table({"day": day, "amount": amount})
            .group_by("day", use_threads=False)
            .aggregate([([], "count_all"), ("amount", "sum")])
        )
        with localcontext(Context(prec=200)):
            for row in grouped.to_pylist():
                group = self.groups.setdefault(row["day"], _Group())
                group.rows += row["count_all"]
                if row["amount_sum"] is not None and self.amount is not None:
                    group.amount = row["amount_sum"] + (group.amount or 0)

    def result(self) -> tuple[dict, list[PeriodDay]]:
        """(summary, days), as job_summary_with_days returns them."""
        return _summary_build(
            roles=self.roles, places=self.places, groups=self.groups, exported=_as_datetime(self.exported)
        )


def _decimal_text(value: Decimal) -> str:
    """Plain notation with every digit kept ('-0.0001', '12345678901234.5678'), never an exponent."""
    text = f"{value:f}"
    return "0" if text in ("-0", "0") else text


def _decimal_readable(text: str) -> str:
    """'-1234567.5000' -> '-1,234,567.50': grouped for reading, every significant digit kept."""
    sign = "-" if text.startswith("-") else ""
    whole, _, fraction = text.lstrip("-").partition(".")
    # Zeros past the second place carry no value: 4849001.7500 reads 4,849,001.75; other digits all stay.
    fraction = fraction[:2] + fraction[2:].rstrip("0")
    return f"{sign}{int(whole or 0):,}" + (f".{fraction}" if fraction else "")


def job_notes_format(*, outcome, summary: dict) -> str:
    """One readable line, like the older app's: 'Processed 1,234 rows; period: 01/10/2026 to 31/10/2026; ...'."""
    parts = [f"Processed {outcome.success_count:,} rows"]
    if outcome.error_count:
        parts[0] += f" ({outcome.error_count:,} rejected)"
    if outcome.inserted_count and (outcome.updated_count or outcome.skipped_count):
        parts.append(f"{outcome.inserted_count:,} new")
    if outcome.updated_count:
        parts.append(f"{outcome.updated_count:,} updated existing rows")
    if outcome.skipped_count:
        parts.append(f"{outcome.skipped_count:,} skipped (already in the table)")
    if outcome.repeated_count:
        parts.append(f"{outcome.repeated_count:,} repeated a key of an earlier row of the file")
    for column, count in sorted(outcome.rounded.items()):
        parts.append(f"{count:,} {column} values rounded")
    if summary.get("period_start"):
        start = dt.date.fromisoformat(summary["period_start"])
        end = dt.date.fromisoformat(summary["period_end"])
        parts.append(f"{summary['period_column']} period: {_date_text(start)} to {_date_text(end)}")
    if summary.get("amount_total") is not None:
        parts.append(f"Total {summary['amount_column']}: {_decimal_readable(summary['amount_total'])}")
    if summary.get("export_date"):
        exported = dt.datetime.fromisoformat(summary["export_date"])
        parts.append(f"Exported: {_date_text(exported.date())} {exported:%H:%M}")
    return "; ".join(parts)


def _date_text(value: dt.date) -> str:
    # strftime pads years below 1000 inconsistently across platforms: format the parts.
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"
