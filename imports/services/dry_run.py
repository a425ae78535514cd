"""The dry run's writer: the import engine's TableWriter interface, writing nothing.

A dry run reads and validates every row exactly as the import does (same reader, same chunk_validate, same
errors file) and hands the valid rows to this writer instead of a table writer. For a table with unique
columns it answers what the table writer would have done, with read-only queries: a key repeating an earlier
row of the file, and a key already in the table (refused with on_duplicate=reject, counted as an update or a
skip otherwise), with the table writer's own messages.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

import numpy as np
import pandas as pd
from django.db import connection

from .loading import ChunkWriteResult, RowRefusal

KEYS_PER_QUERY = 500


def _present(value) -> bool:
    return value is not None and not (isinstance(value, float) and np.isnan(value))


def _number_key(value) -> str | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return format(number.normalize(), "f") if number.is_finite() else None


def _db_key(value) -> tuple[str, bool]:
    """A key read back from the table as text comparable to the file's canonical text; True for a number."""
    if isinstance(value, bool):
        return str(int(value)), True
    if isinstance(value, int | float | Decimal):
        return _number_key(value) or str(value), True
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" "), False
    if isinstance(value, dt.date):
        return value.isoformat(), False
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace"), False
    return str(value), False


class DryRunWriter:
    """Counts what a table writer would do with each chunk; nothing is written anywhere."""

    method = "dry run: nothing written"
    stage = "server_load"  # its checks of keys against the table are the dry run's part of the load

    def __init__(self, *, table_name: str, columns: list[str], unique_columns: list[str], on_duplicate: str):
        self.table_name = table_name
        self.columns = list(columns)
        self.unique_columns = list(unique_columns)
        self.on_duplicate = on_duplicate
        self.quote = connection.ops.quote_name
        # column -> key -> the file's row that had it first (kept rows only)
        self.seen: dict[str, dict[str, int]] = {c: {} for c in self.unique_columns}

    def job_rows_delete(self) -> int:
        return 0

    def close(self) -> None:
        self.seen = {}

    def chunk_write(self, *, frame: pd.DataFrame, row_numbers=None) -> ChunkWriteResult:
        if frame.empty:
            return ChunkWriteResult(inserted=0)
        if not self.unique_columns:
            return ChunkWriteResult(inserted=len(frame))
        rows = (
            np.arange(2, 2 + len(frame)) if row_numbers is None else np.asarray(row_numbers, dtype=np.int64)
        )
        existing = {column: self._existing(column, frame[column]) for column in self.unique_columns}
        inserted = updated = skipped = repeated = 0
        refused: list[RowRefusal] = []
        values = {column: frame[column].tolist() for column in self.unique_columns}
        for position in range(len(frame)):
            keys = [(c, values[c][position]) for c in self.unique_columns if _present(values[c][position])]
            earlier = next(((c, v) for c, v in keys if v in self.seen[c]), None)
            if earlier is not None:
                column, value = earlier
                if self.on_duplicate == "reject":
                    refused.append(
                        RowRefusal(
                            position,
                            column,
                            value,
                            "duplicate_key",
                            f"{column}: '{value}' repeats row {self.seen[column][value]} of this file",
                        )
                    )
                else:
                    repeated += 1
                continue
            found = next(((c, v, existing[c](v)) for c, v in keys if existing[c](v) is not None), None)
            if found is not None:
                column, value, target = found
                if self.on_duplicate == "reject":
                    refused.append(
                        RowRefusal(
                            position,
                            column,
                            value,
                            "duplicate_key",
                            f"{column}: '{value}' is already in {self.table_name} (row id {target})",
                        )
                    )
                    continue
                if self.on_duplicate == "update":
                    updated += 1
                else:
                    skipped += 1
            else:
                inserted += 1
            for column, value in keys:
                self.seen[column][value] = int(rows[position])
        return ChunkWriteResult(
            inserted=inserted, updated=updated, skipped=skipped, repeated=repeated, refused=tuple(refused)
        )

    def _existing(self, column: str, values: pd.Series):
        """A lookup: the file's key -> the id of the table's row holding it (None when there is none)."""
        keys = sorted({v for v in values.tolist() if _present(v)})
        texts: dict[str, int] = {}
        numbers: dict[str, int] = {}
        sql_column = self.quote(column)
        for start in range(0, len(keys), KEYS_PER_QUERY):
            batch = keys[start : start + KEYS_PER_QUERY]
            marks = ", ".join(["%s"] * len(batch))
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT {sql_column}, {self.quote('id')} FROM {self.quote(self.table_name)} "
                    f"WHERE {sql_column} IN ({marks})",
                    batch,
                )
                for value, row_id in cursor.fetchall():
                    key, numeric = _db_key(value)
                    (numbers if numeric else texts).setdefault(key, int(row_id))

        # MySQL's collations compare text without case (and trailing spaces): the table writer's join would match.
        folded = {k.casefold().rstrip(): v for k, v in texts.items()} if connection.vendor == "mysql" else {}

        def lookup(value: str) -> int | None:
            if value in texts:
                return texts[value]
            if folded and value.casefold().rstrip() in folded:
                return folded[value.casefold().rstrip()]
            if numbers:
                key = _number_key(value)
                return numbers.get(key) if key is not None else None
            return None

        return lookup
