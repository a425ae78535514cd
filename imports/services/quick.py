"""Quick validation of one file, in the seven documented steps; the first file-level failure is the file's
error. Bad values in the first data rows are row errors (`row_errors`), not a refusal of the file: the import
rejects just those rows, as it does the same value further down.

Its cost does not grow with the file: it reads only the head, except one streaming pass over the bytes that
counts the rows and checks that the whole file decodes in the encoding the import will use (the same check
as file_format_detect(whole_file=True), so both settle on the same encoding).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath

from importhub.errors import FileRejected
from tableconfig.models import ColumnRole, ImportTable

from .matching import HeaderMapping, headers_map, table_by_name, table_columns, table_for_filename
from .reading import FileFormat, file_open_head, file_scan
from .validation import ColumnRule, values_check, values_validate, workbook_rules

DATA_EXTENSIONS = (".csv", ".txt", ".xlsx", ".xlsm", ".xls", ".ods")
SAMPLE_ROWS = 2
DIST_PREFIX_VALUES = 5
# How many head records are read to find the first 5 non-empty distributor values.
HEAD_RECORDS = 50


@dataclass
class QuickResult:
    filename: str
    table_name: str | None = None
    valid: bool = False
    rows: int = 0
    error: str | None = None
    error_code: str = ""
    warnings: list[str] = field(default_factory=list)
    row_errors: list[dict] = field(default_factory=list)
    table: ImportTable | None = None
    mapping: HeaderMapping | None = None
    file_format: FileFormat | None = None

    def as_dict(self) -> dict:
        body = {
            "filename": self.filename,
            "table_name": self.table_name,
            "valid": self.valid,
            "rows": self.rows,
            "error": self.error,
        }
        if self.warnings:
            body["warnings"] = self.warnings
        if self.row_errors:
            body["row_errors"] = self.row_errors
        return body


class QuickValidationError(FileRejected):
    code = "validation_failed"


def file_quick_validate(
    *, path: Path, original_name: str, table_name: str = "auto", dist_id: str = ""
) -> QuickResult:
    """Run the seven steps on one stored file; never raises for a bad file, the result says why."""
    result = QuickResult(filename=original_name)
    try:
        _steps(result, path=path, original_name=original_name, table_name=table_name, dist_id=dist_id.strip())
    except FileRejected as exc:
        result.valid = False
        result.error = exc.message
        result.error_code = exc.code
    return result


def _steps(result: QuickResult, *, path: Path, original_name: str, table_name: str, dist_id: str) -> None:
    # 1. Extension.
    ext = PurePath(original_name).suffix.lower()
    if ext not in DATA_EXTENSIONS:
        raise QuickValidationError(
            f"{original_name}: Unsupported file type '{ext or '(none)'}'. "
            f"Expected {', '.join(DATA_EXTENSIONS[:-1])} or {DATA_EXTENSIONS[-1]}.",
            code="unsupported_type",
        )
    # 2-3. Readable, not empty, headers normalised and unique (the reader refuses duplicates).
    fmt, head = file_open_head(path=path, sample_rows=HEAD_RECORDS, name=original_name)
    result.file_format = fmt
    # 4. The table.
    if not table_name or table_name == "auto":
        table = table_for_filename(original_name=original_name)
    else:
        table = table_by_name(table_name=table_name)
    result.table = table
    result.table_name = table.table_name
    if fmt.workbook is not None and table.sheet_name:  # a workbook is read from the sheet its table names
        fmt, head = file_open_head(
            path=path, sample_rows=HEAD_RECORDS, name=original_name, sheet=table.sheet_name
        )
        result.file_format = fmt
    # 5. Its columns.
    columns = table_columns(table)
    if not columns:
        raise QuickValidationError(f"No column config found for {table.table_name}", code="no_columns")
    # 6. Mandatory columns, by name or alias.
    mapping = headers_map(
        columns=columns, headers=head.normalized, table=table, dist_id=dist_id, file_headers=head.headers
    )
    result.mapping = mapping
    if mapping.missing_mandatory:
        raise QuickValidationError(mapping.missing_message(), code="missing_columns")
    records = [dict(zip(head.normalized, row, strict=False)) for row in head.sample]
    # 7a. Distributor prefix.
    if dist_id:
        _distributor_head_check(result, records=records, mapping=mapping, columns=columns, dist_id=dist_id)
    # 7b. The first data rows, with the same checks as the full import: row errors, the file stays valid.
    sample = records[:SAMPLE_ROWS]
    rules = workbook_rules(mapping.rules) if fmt.workbook is not None else mapping.rules
    errors = values_validate(records=sample, row_numbers=list(range(2, 2 + len(sample))), rules=rules)
    result.row_errors = [e.as_dict() for e in errors]
    if mapping.ignored_headers:
        result.warnings.append(mapping.ignored_message())
    # The count's pass also settles the encoding for the whole file (or refuses it, with the byte offset).
    scan = file_scan(path=path, fmt=fmt, name=original_name)
    result.file_format = scan.fmt
    result.rows = scan.records
    result.valid = True


def _distributor_head_check(result: QuickResult, *, records, mapping, columns, dist_id: str) -> None:
    """The first non-empty distributor values of the head, checked with the import's own DistributorRule."""
    distributor = next((c for c in columns if c.role == ColumnRole.DISTRIBUTOR), None)
    if distributor is None:
        result.warnings.append(
            f"dist_id {dist_id} was not checked: table {result.table_name} has no distributor column."
        )
        return
    rule: ColumnRule = next(r for r in mapping.rules if r.name == distributor.column_name)
    if rule.source is None or rule.distributor is None:
        return
    # Values as the import compares them: stripped, canonical; values of the wrong type are left to 7b.
    checked = values_check(
        records=records,
        row_numbers=list(range(2, 2 + len(records))),
        rules=[replace(rule, distributor=None, is_mandatory=False)],
    )
    values = [
        (int(row), value)
        for row, value in zip(checked.row_numbers, checked.frame[rule.name], strict=True)
        if value is not None
    ]
    match = rule.distributor
    for row, value in values[:DIST_PREFIX_VALUES]:
        if not match.mismatch(value):
            continue
        if match.match == "exact":
            message = f"DistID mismatch: expected {match.dist_id}, found {value} (row {row})"
        else:
            width = len(match.expected)
            message = (
                f"DistID prefix mismatch: expected {match.expected}.., found {value[:width]}.. (row {row})"
            )
        # One code for both rules, as clients already know it.
        raise QuickValidationError(message, code="dist_prefix_mismatch")
