"""Table preview and CSV/XLSX export: the only place that reads physical tables for display.

Identifiers come from the configuration and are checked again here, right before the SQL; values travel as
query parameters. Text cells that a spreadsheet would run as a formula are neutralised (OWASP CSV injection).

The search (`RowFilter.search`) is a contains over the table's text columns, ignoring case and accents alike
on both databases: MySQL/MariaDB compare with the collation utf8mb4_unicode_ci, SQLite with `text_fold` (the
same folding in Python, registered on the connection). LIKE's wildcards in the search text are escaped.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
import tempfile
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import IO

from django.db import connection
from django.db.models import Q
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from tableconfig.models import ColumnRole, DataType, ImportTable
from tableconfig.naming import identifier_validate

from ..models import ImportJob

# OWASP: a cell starting with one of these is run as a formula by spreadsheet programs; a leading "-" only
# when what follows is not a plain number ("-2" and "-1,234.50" stay as they are, "-x" is neutralised).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_NEGATIVE_NUMBER_RE = re.compile(r"-\d+(?:[.,]\d+)*")
PREVIEW_ROWS = 100
PAGE_SIZES = (50, 100, 200)
FETCH_ROWS = 2_000
# LIKE's escape character in the search: one that needs no quoting in SQL or in Python's %-formatting.
LIKE_ESCAPE = "!"
SEARCH_COLLATION = "utf8mb4_unicode_ci"
# An XLSX sheet holds at most 1,048,576 rows: the header and this many data rows.
XLSX_SHEET_ROWS = 1_048_575


@dataclass(frozen=True)
class RowFilter:
    """Which rows of a table to show or export; empty fields do not filter."""

    batch_id: uuid.UUID | None = None
    job_id: int | None = None
    dist_id: str = ""
    search: str = ""  # contained in one of the text columns, ignoring case and accents

    @property
    def active(self) -> bool:
        return bool(self.batch_id or self.job_id or self.dist_id or self.search)

    def as_json(self) -> dict:
        """The filter as stored with a background export (and read back by `from_json`)."""
        return {
            "batch": str(self.batch_id) if self.batch_id else "",
            "job": self.job_id,
            "dist_id": self.dist_id,
            "q": self.search,
        }

    @classmethod
    def from_json(cls, data: dict) -> RowFilter:
        return cls(
            batch_id=uuid.UUID(data["batch"]) if data.get("batch") else None,
            job_id=data.get("job") or None,
            dist_id=data.get("dist_id") or "",
            search=data.get("q") or "",
        )


@dataclass(frozen=True)
class ExportColumn:
    name: str
    data_type: str
    decimal_places: int = 4
    configured: bool = True


@dataclass
class TablePreview:
    """One page of the matching rows, newest first, and how many rows match in all."""

    columns: list[ExportColumn]
    rows: list[list]
    limit: int  # rows per page
    total: int = 0
    page: int = 1

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.limit))

    @property
    def first_row(self) -> int:
        return (self.page - 1) * self.limit + 1 if self.rows else 0

    @property
    def last_row(self) -> int:
        return (self.page - 1) * self.limit + len(self.rows)

    @property
    def truncated(self) -> bool:
        """More rows match than this page shows."""
        return self.total > len(self.rows)

    @property
    def page_links(self) -> list[int | None]:
        """The page numbers to link: the first, the last and two either side of this one (None: a gap)."""
        wanted = {1, self.pages, *range(self.page - 2, self.page + 3)}
        shown = sorted(p for p in wanted if 1 <= p <= self.pages)
        links: list[int | None] = []
        for number in shown:
            if links and number - links[-1] > 1:
                links.append(None)
            links.append(number)
        return links

    @property
    def cells(self) -> list[list[tuple[ExportColumn, object]]]:
        """Each row's values paired with their columns, for templates: None, a bool, or the exact text the
        CSV export writes (every decimal digit, microseconds, years below 1000 padded)."""
        return [
            [
                (c, v if v is None or c.data_type == DataType.BOOL else value_text(c, v))
                for c, v in zip(self.columns, row, strict=True)
            ]
            for row in self.rows
        ]


ENGINE_COLUMNS = (
    ExportColumn("import_job_id", DataType.INT, configured=False),
    ExportColumn("imported_at", DataType.DATETIME, configured=False),
)


def export_columns(table: ImportTable) -> list[ExportColumn]:
    """The table's configured columns in order, then the two the engine adds (which job, when)."""
    configured = [
        ExportColumn(c.column_name, c.data_type, c.decimal_places)
        for c in table.columns.order_by("position", "id")
    ]
    return [*configured, *ENGINE_COLUMNS]


def cell_neutralize(value: str) -> str:
    """Prefix a quote to text a spreadsheet would treat as a formula (OWASP CSV injection): the one rule of the
    data exports and the rejected-rows CSV."""
    if not value.startswith(FORMULA_PREFIXES) or _NEGATIVE_NUMBER_RE.fullmatch(value):
        return value
    return "'" + value


def _quote(name: str, kind: str) -> str:
    return connection.ops.quote_name(identifier_validate(name, kind=kind))


def _column_sql(column: ExportColumn) -> str:
    # The engine's own columns are constants here; configured names are checked like any identifier.
    return _quote(column.name, "column") if column.configured else connection.ops.quote_name(column.name)


def text_fold(value: str | None) -> str | None:
    """Text as the search compares it: without accents (NFKD, combining marks dropped) and case-folded."""
    if value is None:
        return None
    decomposed = unicodedata.normalize("NFKD", str(value))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def like_escape(text: str) -> str:
    """`text` as a LIKE pattern matching it literally (its % and _ are not wildcards)."""
    for char in (LIKE_ESCAPE, "%", "_"):
        text = text.replace(char, LIKE_ESCAPE + char)
    return text


def _search_clause(table: ImportTable, search: str) -> tuple[str, list]:
    names = [c.name for c in export_columns(table) if c.configured and c.data_type == DataType.STR]
    if not names:
        return "1 = 0", []  # nothing to search in: no row contains the text
    if connection.vendor == "mysql":
        pattern = f"%{like_escape(search)}%"
        template = "{} COLLATE " + SEARCH_COLLATION + f" LIKE %s ESCAPE '{LIKE_ESCAPE}'"
    else:
        connection.ensure_connection()
        connection.connection.create_function("importhub_fold", 1, text_fold, deterministic=True)
        pattern = f"%{like_escape(text_fold(search))}%"
        template = f"importhub_fold({{}}) LIKE %s ESCAPE '{LIKE_ESCAPE}'"
    parts = [template.format(_quote(name, "column")) for name in names]
    return "(" + " OR ".join(parts) + ")", [pattern] * len(parts)


def _where(table: ImportTable, filters: RowFilter) -> tuple[str, list]:
    clauses: list[str] = []
    params: list = []
    if filters.search:
        clause, values = _search_clause(table, filters.search)
        clauses.append(clause)
        params.extend(values)
    if filters.job_id:
        clauses.append(f"{connection.ops.quote_name('import_job_id')} = %s")
        params.append(filters.job_id)
    distributor = None
    if filters.dist_id:
        distributor = table.columns.filter(role=ColumnRole.DISTRIBUTOR).first()
        if distributor is not None:
            clauses.append(f"{_quote(distributor.column_name, 'column')} = %s")
            params.append(filters.dist_id)
    if filters.batch_id or (filters.dist_id and distributor is None):
        # Without a distributor column, a row's distributor is the one its upload declared.
        jobs = ImportJob.objects.filter(Q(table=table) | Q(table_name=table.table_name))
        if filters.batch_id:
            jobs = jobs.filter(batch_id=filters.batch_id)
        if filters.dist_id and distributor is None:
            jobs = jobs.filter(dist_id=filters.dist_id)
        job_ids = list(jobs.values_list("id", flat=True))
        if not job_ids:
            return " WHERE 1 = 0", []
        marks = ", ".join(["%s"] * len(job_ids))
        clauses.append(f"{connection.ops.quote_name('import_job_id')} IN ({marks})")
        params.extend(job_ids)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _select(table: ImportTable, columns: list[ExportColumn], filters: RowFilter, *, newest_first: bool):
    names = ", ".join(_column_sql(c) for c in columns)
    where, params = _where(table, filters)
    order = "DESC" if newest_first else "ASC"
    return (
        f"SELECT {names} FROM {_quote(table.table_name, 'table')}{where} ORDER BY {connection.ops.quote_name('id')} {order}",
        params,
    )


def _value(column: ExportColumn, value):
    """The database's value as Python, alike on SQLite and MySQL (decimals exact, dates as dates)."""
    if value is None:
        return None
    kind = column.data_type
    if kind == DataType.DECIMAL:
        try:
            return Decimal(str(value)).quantize(Decimal(1).scaleb(-column.decimal_places))
        except InvalidOperation:
            return Decimal(str(value))
    if kind == DataType.INT:
        return int(value)
    if kind == DataType.BOOL:
        return value in (True, 1, "1", b"1")
    if kind == DataType.DATE:
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
    if kind == DataType.DATETIME:
        if not isinstance(value, dt.datetime):
            value = dt.datetime.fromisoformat(str(value))
        if not column.configured and timezone.is_naive(value):
            # The engine stamps imported_at in UTC: show it in the site's time zone.
            value = timezone.localtime(value.replace(tzinfo=dt.UTC))
        return timezone.make_naive(value) if timezone.is_aware(value) else value
    return str(value)


def _row(columns: list[ExportColumn], raw) -> list:
    return [_value(c, v) for c, v in zip(columns, raw, strict=True)]


@contextmanager
def _streaming_cursor():
    """A cursor that does not hold the whole result in memory.

    MySQL's default cursor buffers every row on the client, so an unbuffered server-side cursor is used;
    SQLite's cursor already steps through the result as it is fetched.
    """
    if connection.vendor == "mysql":
        from MySQLdb.cursors import SSCursor

        connection.ensure_connection()
        cursor = connection.connection.cursor(SSCursor)
    else:
        cursor = connection.cursor()
    try:
        yield cursor
    finally:
        cursor.close()


def table_rows_iter(*, table: ImportTable, filters: RowFilter) -> Iterator[list[list]]:
    """Every matching row, oldest first, in batches of FETCH_ROWS (constant memory on any table size)."""
    columns = export_columns(table)
    sql, params = _select(table, columns, filters, newest_first=False)
    with _streaming_cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(FETCH_ROWS):
            yield [_row(columns, raw) for raw in batch]


def table_rows_count(*, table: ImportTable, filters: RowFilter) -> int:
    """How many rows match the filter."""
    where, params = _where(table, filters)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {_quote(table.table_name, 'table')}{where}", params)
        return cursor.fetchone()[0]


def table_preview(
    *, table: ImportTable, filters: RowFilter, limit: int = PREVIEW_ROWS, page: int = 1
) -> TablePreview:
    """Page `page` of the matching rows, `limit` a page, newest first (past the last page: the last page)."""
    columns = export_columns(table)
    total = table_rows_count(table=table, filters=filters)
    page = max(1, min(page, math.ceil(total / limit) or 1))
    sql, params = _select(table, columns, filters, newest_first=True)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} LIMIT %s OFFSET %s", [*params, limit, (page - 1) * limit])
        rows = [_row(columns, raw) for raw in cursor.fetchall()]
    return TablePreview(columns=columns, rows=rows, limit=limit, total=total, page=page)


def value_text(column: ExportColumn, value) -> str:
    """A stored value as exact text: decimals in plain notation with every digit, dates ISO (0001-01-01),
    times with their microseconds when they have any."""
    if column.data_type == DataType.DECIMAL:
        return f"{value:f}"
    if column.data_type == DataType.DATE:
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    if column.data_type == DataType.DATETIME:
        return f"{value.year:04d}-{value:%m-%d %H:%M:%S}" + (
            f".{value.microsecond:06d}" if value.microsecond else ""
        )
    return str(value)


def _csv_text(column: ExportColumn, value) -> str:
    if value is None:
        return ""
    if column.data_type == DataType.BOOL:
        return "true" if value else "false"
    if column.data_type == DataType.STR:
        return cell_neutralize(value)
    return value_text(column, value)


class _Line:
    """A file-like object whose write() hands back the line, for csv.writer."""

    def write(self, value: str) -> str:
        return value


RowsDone = Callable[[int], None]  # told how many rows were written so far, after each fetched batch


def table_csv_stream(
    *, table: ImportTable, filters: RowFilter, on_rows: RowsDone | None = None
) -> Iterator[bytes]:
    """The matching rows as UTF-8 CSV (with a BOM, for spreadsheet programs), one chunk per fetched batch."""
    columns = export_columns(table)
    writer = csv.writer(_Line())
    yield ("\ufeff" + writer.writerow([c.name for c in columns])).encode()
    done = 0
    for batch in table_rows_iter(table=table, filters=filters):
        lines = [
            writer.writerow([_csv_text(c, v) for c, v in zip(columns, row, strict=True)]) for row in batch
        ]
        yield "".join(lines).encode()
        done += len(batch)
        if on_rows:
            on_rows(done)


def _xlsx_value(column: ExportColumn, value):
    if column.data_type == DataType.STR and value is not None:
        # openpyxl would store text starting with '=' as a formula, and refuses control characters.
        return cell_neutralize(ILLEGAL_CHARACTERS_RE.sub("", value))
    if column.data_type == DataType.DECIMAL and value is not None and Decimal(repr(float(value))) != value:
        # A spreadsheet number is a binary float (15-17 digits): a decimal it cannot hold goes as exact text.
        return value_text(column, value)
    return value


def table_xlsx_file(*, table: ImportTable, filters: RowFilter) -> IO[bytes]:
    """The matching rows as an XLSX workbook in a temporary file (rewound; deleted when closed)."""
    output = tempfile.TemporaryFile(suffix=".xlsx")
    try:
        table_xlsx_write(table=table, filters=filters, output=output)
    except BaseException:
        output.close()
        raise
    output.seek(0)
    return output


def table_xlsx_write(
    *, table: ImportTable, filters: RowFilter, output: IO[bytes], on_rows: RowsDone | None = None
) -> None:
    """Write the matching rows as an XLSX workbook to `output`.

    openpyxl's write-only mode streams rows to disk, so memory stays flat; past one sheet's row limit the
    rows continue on another sheet.
    """
    columns = export_columns(table)
    header = [c.name for c in columns]
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=table.table_name[:31])
    sheet.append(header)
    rows_in_sheet = done = 0
    for batch in table_rows_iter(table=table, filters=filters):
        for row in batch:
            if rows_in_sheet == XLSX_SHEET_ROWS:
                sheet = workbook.create_sheet(
                    title=f"{table.table_name[:25]} ({len(workbook.worksheets) + 1})"
                )
                sheet.append(header)
                rows_in_sheet = 0
            sheet.append([_xlsx_value(c, v) for c, v in zip(columns, row, strict=True)])
            rows_in_sheet += 1
        done += len(batch)
        if on_rows:
            on_rows(done)
    workbook.save(output)


def export_filename(*, table: ImportTable, extension: str) -> str:
    """`sales-20261031-2300.csv`: the table and the local time of the export."""
    return f"{table.table_name}-{timezone.localtime():%Y%m%d-%H%M}.{extension}"
