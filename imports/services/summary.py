"""Summaries of an imported file from its columns' roles: period, amount, export date; and readable notes."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from decimal import Context, Decimal, localcontext

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
    return dt.datetime.fromisoformat(str(value)[:19])


def _amount_total(table_sql: str, column_sql: str, job_id: int, places: int, digits: int) -> Decimal | None:
    """The exact sum of the job's amounts. MySQL sums DECIMAL exactly. SQLite's SUM() would turn the stored
    text into binary floats; but the rows this job wrote hold canonical text with exactly `places` decimals, so
    without the point they are whole numbers that SQLite adds exactly in 64 bits, as long as each fits (at most
    18 digits: a longer CAST would be clamped). Past 64 bits SQLite raises "integer overflow" rather than lose
    digits; then, as for wider columns, the values are added here as Decimals, streamed."""
    with connection.cursor() as cursor:
        if connection.vendor == "mysql":
            cursor.execute(f"SELECT SUM({column_sql}) FROM {table_sql} WHERE import_job_id = %s", [job_id])
            total = cursor.fetchone()[0]
            return None if total is None else Decimal(str(total))
        if digits <= 18:
            try:
                # A savepoint keeps the caller's transaction usable after an overflow; outside one, an
                # atomic block would take SQLite's write lock for a read.
                guard = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
                with guard:
                    cursor.execute(
                        f"SELECT SUM(CAST(REPLACE({column_sql}, '.', '') AS INTEGER)) FROM {table_sql} "
                        "WHERE import_job_id = %s",
                        [job_id],
                    )
                    scaled = cursor.fetchone()[0]
                return None if scaled is None else Decimal(scaled).scaleb(-places)
            except OperationalError:
                logger.debug("Job %s: the amounts add up past 64 bits; adding them as Decimals", job_id)
        cursor.execute(
            f"SELECT CAST({column_sql} AS TEXT) FROM {table_sql} WHERE import_job_id = %s AND {column_sql} IS NOT NULL",
            [job_id],
        )
        total, seen = Decimal(0), False
        # Decimal's default context keeps 28 digits: a 38-digit column would be rounded.
        with localcontext(Context(prec=200)):
            while batch := cursor.fetchmany(10_000):
                total += sum(map(Decimal, (value for (value,) in batch)), Decimal(0))
                seen = True
        return total if seen else None


def job_summary_compute(
    *, table_name: str, columns: list[ColumnConfig], job_id: int, schema: str = ""
) -> dict:
    """Aggregate the rows this job wrote (the rows carrying its id: inserted or updated), exactly; from the
    table, or from the same-named table of an attached `schema` (a job's private rows file)."""
    roles = {c.role: c.column_name for c in columns if c.role}
    table_sql = _quote(table_name, "table")
    if schema:
        table_sql = f"{_quote(schema, 'table')}.{table_sql}"
    selects, keys = [], []
    if ColumnRole.PERIOD in roles:
        column = _quote(roles[ColumnRole.PERIOD], "column")
        selects += [f"MIN({column})", f"MAX({column})"]
        keys += ["period_start", "period_end"]
    if ColumnRole.EXPORT_DATE in roles:
        selects.append(f"MAX({_quote(roles[ColumnRole.EXPORT_DATE], 'column')})")
        keys.append("export_date")
    row: dict = {}
    if selects:
        sql = f"SELECT {', '.join(selects)} FROM {table_sql} WHERE import_job_id = %s"
        with connection.cursor() as cursor:
            cursor.execute(sql, [job_id])
            row = dict(zip(keys, cursor.fetchone(), strict=True))
    summary: dict = {}
    if "period_start" in row:
        start, end = _as_date(row["period_start"]), _as_date(row["period_end"])
        summary["period_column"] = roles[ColumnRole.PERIOD]
        summary["period_start"] = start.isoformat() if start else None
        summary["period_end"] = end.isoformat() if end else None
    if ColumnRole.AMOUNT in roles:
        amount = next(c for c in columns if c.column_name == roles[ColumnRole.AMOUNT])
        places, digits = (
            (amount.decimal_places, amount.decimal_digits) if amount.data_type == "decimal" else (0, 18)
        )
        total = _amount_total(table_sql, _quote(roles[ColumnRole.AMOUNT], "column"), job_id, places, digits)
        if total is not None:
            # The column's own scale, so both databases give the same text ('4849001.7500').
            total = total.quantize(Decimal(1).scaleb(-places), context=Context(prec=200))
        summary["amount_column"] = roles[ColumnRole.AMOUNT]
        summary["amount_total"] = None if total is None else _decimal_text(total)
    if "export_date" in row:
        exported = _as_datetime(row["export_date"])
        summary["export_date"] = exported.isoformat(sep=" ") if exported else None
    return summary


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
