"""A job's rejected rows: the errors file written while importing, its grouped summary, and its downloads.

The errors file (CSV, UTF-8 with a BOM) keeps every rejected record as the file had it: its row number, its
errors, then the original values. It is stored under MEDIA_ROOT and `ImportJob.errors_file` holds its path
relative to MEDIA_ROOT (older jobs hold an absolute path, still read). Two downloads are made from it:
- CSV, safe to open in a spreadsheet: cells a spreadsheet would run as a formula get a leading `'`, with the
  data exports' own rule (`export.cell_neutralize`);
- XLSX, every cell stored as text: the values exactly as the file had them, to fix and send again.
"""

from __future__ import annotations

import csv
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from django.conf import settings
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from importhub.errors import NotFound

from ..models import ImportJob
from .export import XLSX_SHEET_ROWS, cell_neutralize
from .validation import RowError, column_label

ERRORS_DIR = "errors"
EXAMPLES_KEPT = 3
GROUP_VALUE_CHARS = 200
# What each code means, in the words a group shows ("Qty (qty): not a whole number, 9,677 rows").
PROBLEMS = {
    "missing_value": "a value is required",
    "nul_byte": "the value contains a NUL byte",
    "invalid_int": "not a whole number (or out of range)",
    "invalid_decimal": "not a number (or too many digits)",
    "decimal_out_of_range": "too many digits before the decimal point",
    "too_many_decimals": "too many decimal places",
    "invalid_bool": "not yes or no",
    "invalid_date": "not a date in the expected format",
    "ambiguous_date": "an ambiguous date (two formats read it differently)",
    "time_in_date": "a time of day in a date-only column",
    "invalid_datetime": "not a date and time in the expected format",
    "too_precise_time": "more than 6 digits of fractional seconds",
    "too_long": "longer than the column allows",
    "distributor_mismatch": "does not match the upload's dist_id",
    "ragged_row": "the wrong number of fields",
    "duplicate_key": "a unique key already used",
}
# Control characters XML 1.0 cannot hold, and CR (which an XML reader turns into LF): an XLSX stores them as
# the escape `_xHHHH_`, which Excel reads back as the character; text that looks like such an escape gets its
# own `_` escaped (`_x005F_`), so it reads back as written.
_XLSX_ESCAPED_RE = re.compile(r"[\x00-\x08\x0b-\x0d\x0e-\x1f]")
_ESCAPE_LOOKALIKE_RE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")


class NoRejectedRows(NotFound):
    code = "no_errors"


# --- writing, while importing ------------------------------------------------------------------------------


def job_errors_path(job: ImportJob) -> Path:
    """Where the import writes this job's errors file."""
    return Path(settings.MEDIA_ROOT) / errors_file_name(job)


def errors_file_name(job: ImportJob) -> str:
    """The errors file's path relative to MEDIA_ROOT, as `ImportJob.errors_file` stores it."""
    return f"{ERRORS_DIR}/{job.batch_id}/{job.id}.csv"


def job_errors_file(job: ImportJob) -> Path | None:
    """The job's errors file when it has one on disk: relative to MEDIA_ROOT, or an older absolute path."""
    if not job.errors_file:
        return None
    path = Path(job.errors_file)
    if not path.is_absolute():
        path = Path(settings.MEDIA_ROOT) / path
    return path if path.is_file() else None


class ErrorsFile:
    """Every rejected record: its row number, its errors, and its original values, so it can be fixed and re-sent."""

    def __init__(self, job: ImportJob, headers: list[str]):
        self.name = errors_file_name(job)
        self.path = job_errors_path(job)
        self.tmp = self.path.with_suffix(".partial")
        self.headers = headers
        self.count = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = self.tmp.open("w", encoding="utf-8-sig", newline="")
        self.writer = csv.writer(self.handle)
        self.writer.writerow(["row", "errors", *headers])

    def rows_write(self, rows: list[tuple[int, str, list[str]]]) -> None:
        self.writer.writerows([(row, message, *values) for row, message, values in rows])
        self.count += len(rows)

    def close(self, *, keep: bool) -> str:
        """Close the file; the value for `ImportJob.errors_file` (relative to MEDIA_ROOT), or "" when none."""
        self.handle.close()
        if keep and self.count:
            self.tmp.replace(self.path)
            return self.name
        self.tmp.unlink(missing_ok=True)
        return ""


# --- the grouped summary -----------------------------------------------------------------------------------


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


@dataclass
class _Group:
    column: str
    header: str
    code: str
    count: int = 0
    examples: list[dict] = field(default_factory=list)


class ErrorGroups:
    """Row errors grouped by (column, code) over every rejected row of a job: a count and the first examples.

    Fed chunk by chunk while importing (no second pass over the file); `as_list()` is what
    `ImportJob.error_summary` stores, the biggest groups first."""

    def __init__(self, *, headers: dict[str, str] | None = None):
        self.headers = headers or {}  # column -> the file's own header
        self.groups: dict[tuple[str, str], _Group] = {}

    def add(self, errors: Iterable[RowError]) -> None:
        for error in errors:
            key = (error.column, error.code)
            group = self.groups.get(key)
            if group is None:
                header = self.headers.get(error.column, "")
                group = self.groups[key] = _Group(column=error.column, header=header, code=error.code)
            group.count += 1
            if len(group.examples) < EXAMPLES_KEPT:
                group.examples.append({"row": error.row, "value": _cut(error.value, GROUP_VALUE_CHARS)})

    def as_list(self) -> list[dict]:
        ordered = sorted(self.groups.values(), key=lambda g: (-g.count, g.examples[0]["row"]))
        return [
            {
                "column": g.column,
                "header": g.header,
                "code": g.code,
                "problem": PROBLEMS.get(g.code, g.code.replace("_", " ")),
                "count": g.count,
                "examples": g.examples,
            }
            for g in ordered
        ]


def error_group_label(group: dict) -> str:
    """'Qty (qty)', just 'qty' when the header is the column's name, or 'Whole row' for ragged rows."""
    column = group.get("column") or ""
    return column_label(column, group.get("header") or "") if column else "Whole row"


# --- downloads ---------------------------------------------------------------------------------------------


def _errors_rows(job: ImportJob) -> Iterator[list[str]]:
    path = job_errors_file(job)
    if path is None:
        raise NoRejectedRows("This file has no rejected rows.")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        yield from csv.reader(handle)


class _Line:
    """A file-like object whose write() hands back the line, for csv.writer."""

    def write(self, value: str) -> str:
        return value


def rejects_csv_stream(*, job: ImportJob, batch_rows: int = 2_000) -> Iterator[bytes]:
    """The job's rejected rows as UTF-8 CSV with a BOM, formula-like cells neutralised (a leading `'`).

    Raises NoRejectedRows before the first byte when the job has no errors file."""
    rows = _errors_rows(job)
    header = next(rows, None)
    if header is None:
        raise NoRejectedRows("This file has no rejected rows.")
    writer = csv.writer(_Line())

    def stream() -> Iterator[bytes]:
        yield ("\ufeff" + writer.writerow([cell_neutralize(c) for c in header])).encode()
        lines: list[str] = []
        for row in rows:
            lines.append(writer.writerow([cell_neutralize(c) for c in row]))
            if len(lines) >= batch_rows:
                yield "".join(lines).encode()
                lines = []
        if lines:
            yield "".join(lines).encode()

    return stream()


def xlsx_text(value: str) -> str:
    """The text an XLSX cell stores so that Excel reads `value` back exactly (OOXML's `_xHHHH_` escapes)."""
    value = _ESCAPE_LOOKALIKE_RE.sub(r"_x005F_\1", value)
    return _XLSX_ESCAPED_RE.sub(lambda m: f"_x{ord(m.group()):04X}_", value)


def _text_cell(sheet, value: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=xlsx_text(value))
    cell.data_type = "s"  # after binding: openpyxl would store text starting with "=" as a formula
    return cell


def rejects_xlsx_file(*, job: ImportJob) -> IO[bytes]:
    """The job's rejected rows as an XLSX workbook in a temporary file (rewound; deleted when closed), every
    cell stored as text with its value as the file had it; past one sheet's row limit, on another sheet."""
    rows = _errors_rows(job)
    header = next(rows, None)
    if header is None:
        raise NoRejectedRows("This file has no rejected rows.")
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title="rejected rows")
    sheet.append([_text_cell(sheet, c) for c in header])
    in_sheet = 0
    for row in rows:
        if in_sheet == XLSX_SHEET_ROWS:
            sheet = workbook.create_sheet(title=f"rejected rows ({len(workbook.worksheets) + 1})")
            sheet.append([_text_cell(sheet, c) for c in header])
            in_sheet = 0
        sheet.append([_text_cell(sheet, c) for c in row])
        in_sheet += 1
    output = tempfile.TemporaryFile(suffix=".xlsx")
    try:
        workbook.save(output)
    except BaseException:
        output.close()
        raise
    output.seek(0)
    return output


def rejects_filename(*, job: ImportJob, extension: str) -> str:
    stem = Path(job.original_filename).stem or f"job-{job.id}"
    return f"{stem}-errors.{extension}"
