"""Summaries of an imported file from its columns' roles: period, amount, export date; and readable notes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection

from tableconfig.models import ColumnConfig, ColumnRole
from tableconfig.naming import identifier_validate


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


def job_summary_compute(*, table_name: str, columns: list[ColumnConfig], job_id: int) -> dict:
    """Aggregate the rows this job wrote, in the database (exact decimals, one query)."""
    roles = {c.role: c.column_name for c in columns if c.role}
    selects, keys = [], []
    if ColumnRole.PERIOD in roles:
        column = _quote(roles[ColumnRole.PERIOD], "column")
        selects += [f"MIN({column})", f"MAX({column})"]
        keys += ["period_start", "period_end"]
    if ColumnRole.AMOUNT in roles:
        selects.append(f"SUM({_quote(roles[ColumnRole.AMOUNT], 'column')})")
        keys.append("amount_total")
    if ColumnRole.EXPORT_DATE in roles:
        selects.append(f"MAX({_quote(roles[ColumnRole.EXPORT_DATE], 'column')})")
        keys.append("export_date")
    if not selects:
        return {}
    sql = f"SELECT {', '.join(selects)} FROM {_quote(table_name, 'table')} WHERE import_job_id = %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [job_id])
        row = dict(zip(keys, cursor.fetchone(), strict=True))
    summary: dict = {}
    if "period_start" in row:
        start, end = _as_date(row["period_start"]), _as_date(row["period_end"])
        summary["period_column"] = roles[ColumnRole.PERIOD]
        summary["period_start"] = start.isoformat() if start else None
        summary["period_end"] = end.isoformat() if end else None
    if "amount_total" in row:
        total = row["amount_total"]
        summary["amount_column"] = roles[ColumnRole.AMOUNT]
        summary["amount_total"] = (
            str(Decimal(str(total)).quantize(Decimal("0.01"))) if total is not None else None
        )
    if "export_date" in row:
        exported = _as_datetime(row["export_date"])
        summary["export_date"] = exported.isoformat(sep=" ") if exported else None
    return summary


def job_notes_format(*, success: int, rejected: int, duplicates: int, summary: dict) -> str:
    """One readable line, like the older app's: 'Processed 1,234 rows; period: 01/10/2026 to 31/10/2026; ...'."""
    parts = [f"Processed {success:,} rows"]
    if rejected:
        parts[0] += f" ({rejected:,} rejected)"
    if duplicates:
        parts.append(f"{duplicates:,} updated existing rows")
    if summary.get("period_start"):
        start = dt.date.fromisoformat(summary["period_start"])
        end = dt.date.fromisoformat(summary["period_end"])
        parts.append(f"{summary['period_column']} period: {start:%d/%m/%Y} to {end:%d/%m/%Y}")
    if summary.get("amount_total") is not None:
        parts.append(f"Total {summary['amount_column']}: {Decimal(summary['amount_total']):,.2f}")
    if summary.get("export_date"):
        parts.append(f"Exported: {dt.datetime.fromisoformat(summary['export_date']):%d/%m/%Y %H:%M}")
    return "; ".join(parts)
