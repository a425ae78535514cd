"""Which table a file belongs to, and which of its headers feed which configured column."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import PurePath

from importhub.errors import FileRejected
from tableconfig.models import ColumnConfig, ColumnRole, ImportTable
from tableconfig.naming import normalize_name

from .validation import ColumnRule, DistributorRule


class MatchError(FileRejected):
    code = "table_not_matched"


def filename_stem(original_name: str) -> str:
    return PurePath(original_name.replace("\\", "/")).stem.strip().lower()


def table_entry_matches(entry: str, stem: str) -> bool:
    """An entry matches the whole name, or is a glob such as `sales_*`."""
    return fnmatch.fnmatchcase(stem, entry) if any(c in entry for c in "*?[") else stem == entry


def table_for_filename(*, original_name: str, tables: list[ImportTable] | None = None) -> ImportTable:
    """The one active table whose allowed_filename entries match this file's name (without extension)."""
    stem = filename_stem(original_name)
    tables = tables if tables is not None else list(ImportTable.objects.filter(is_active=True))
    matches = [t for t in tables if any(table_entry_matches(e, stem) for e in t.filename_entries)]
    if not matches:
        expected = sorted({e for t in tables for e in t.filename_entries})
        raise MatchError(
            f"Filename not recognized: {original_name}. Expected one of: {', '.join(expected) or '(no tables)'}",
            code="filename_not_recognized",
        )
    if len(matches) > 1:
        raise MatchError(
            f"Filename matches several tables: {', '.join(t.table_name for t in matches)}",
            code="filename_ambiguous",
        )
    return matches[0]


def table_by_name(*, table_name: str) -> ImportTable:
    table = ImportTable.objects.filter(table_name=table_name).first()
    if table is None:
        raise MatchError(f"Table '{table_name}' does not exist.", code="table_not_found")
    if not table.is_active:
        raise MatchError(f"Table '{table_name}' is not active.", code="table_inactive")
    return table


def column_headers(column: ColumnConfig) -> list[str]:
    """The normalised headers accepted for a column: its name first, then its aliases."""
    headers = [normalize_name(column.column_name)]
    headers += [normalize_name(a.alias_name) for a in column.aliases.all()]
    return list(dict.fromkeys(h for h in headers if h))


@dataclass
class HeaderMapping:
    rules: list[ColumnRule]
    missing_mandatory: list[tuple[ColumnConfig, list[str]]]
    ignored_headers: list[str]

    def missing_message(self) -> str:
        names = ", ".join(c.column_name for c, _ in self.missing_mandatory)
        accepted = "; ".join(f"{c.column_name}: {', '.join(h)}" for c, h in self.missing_mandatory)
        return f"Missing mandatory columns: {names} (accepted headers: {accepted})"

    def ignored_message(self) -> str:
        # One wording for quick validation and the import, so the job's warnings name the columns once.
        return f"Columns not in the configuration are ignored: {', '.join(self.ignored_headers)}"


def headers_map(
    *,
    columns: list[ColumnConfig],
    headers: list[str],
    table: ImportTable | None = None,
    dist_id: str = "",
    file_headers: list[str] | None = None,
) -> HeaderMapping:
    """Map the file's normalised headers to the table's columns (by name, then by alias), with their rules.

    The table's number separators apply to every int and decimal rule; with a dist_id, the column with the
    role "distributor" gets the table's DistributorRule. Without a table, the defaults apply ('.' decimals,
    no thousands separator, prefix match on 2 characters). `file_headers` (the headers as the file spells
    them, in the order of `headers`) give each rule its `header`, which row-error messages name.
    """
    present = set(headers)
    spelled = dict(zip(headers, file_headers, strict=False)) if file_headers else {}
    decimal_separator = table.decimal_separator if table is not None else "."
    thousands_separator = table.thousands_separator if table is not None else ""
    distributor = distributor_rule(table=table, dist_id=dist_id)
    used: set[str] = set()
    rules, missing = [], []
    for column in columns:
        accepted = column_headers(column)
        source = next((h for h in accepted if h in present), None)
        if source:
            used.add(source)
        elif column.is_mandatory:
            missing.append((column, accepted))
        numeric = column.data_type in ("int", "decimal")
        rules.append(
            ColumnRule(
                name=column.column_name,
                data_type=column.data_type,
                is_mandatory=column.is_mandatory,
                max_length=column.max_length,
                decimal_digits=column.decimal_digits,
                decimal_places=column.decimal_places,
                date_formats=tuple(column.date_formats),
                source=source,
                round_decimals=column.round_decimals,
                decimal_separator=decimal_separator if numeric else ".",
                thousands_separator=thousands_separator if numeric else "",
                distributor=distributor if column.role == ColumnRole.DISTRIBUTOR else None,
                header=spelled.get(source) if source else None,
            )
        )
    ignored = [h for h in headers if h not in used]
    return HeaderMapping(rules=rules, missing_mandatory=missing, ignored_headers=ignored)


def distributor_rule(*, table: ImportTable | None, dist_id: str) -> DistributorRule | None:
    """The table's rule for the upload's dist_id (stripped); None when no dist_id was given."""
    dist_id = dist_id.strip()
    if not dist_id:
        return None
    if table is None:
        return DistributorRule(dist_id=dist_id, match="prefix")
    return DistributorRule(
        dist_id=dist_id, match=table.distributor_match, prefix_length=table.distributor_prefix_length
    )


def table_columns(table: ImportTable) -> list[ColumnConfig]:
    return list(table.columns.prefetch_related("aliases").order_by("position", "id"))
