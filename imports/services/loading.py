"""Bulk writes of validated chunks into a physical table: MySQL LOAD DATA LOCAL INFILE or multi-row
INSERT, SQLite executemany. Every path runs inside the caller's transaction and gives the same rows."""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import re
import shutil
import tempfile
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, DataError, IntegrityError, OperationalError, connection
from django.utils import timezone

from importhub.errors import FileRejected, ImportHubError
from tableconfig.naming import identifier_problem

from .timings import stage_timed

logger = logging.getLogger(__name__)

METHOD_LOAD_DATA = "mysql LOAD DATA LOCAL INFILE"
METHOD_MYSQL_INSERT = "mysql multi-row INSERT"
METHOD_SQLITE = "sqlite executemany"
LOAD_DATA_MODES = ("auto", "on", "off")
# "Not allowed" answers to LOAD DATA LOCAL: 1148 server local_infile=OFF, 2068 refused by libmysqlclient,
# 3948 disabled on one side (MySQL 8), 4166 disabled on one side (MariaDB server / Connector/C).
LOAD_DATA_REFUSED_CODES = frozenset({1148, 2068, 3948, 4166})
INSERT_MAX_ROWS = 5_000
DUPLICATE_POLICIES = ("update", "skip", "reject")
INSERT_MAX_STATEMENT_BYTES = 4 * 1024**2

NULL_FIELD = "\\N"
_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"), ("\x00", "\\0"))
# A column is escaped in one pass over its values joined by a character absent from the column.
_JOINERS = ("\x1f", "\x1e", "\x1d", "\x1c", "\ufdd0")
_INFO_RE = re.compile(r"Records:\s*(\d+)\s+Deleted:\s*(\d+)\s+Skipped:\s*(\d+)\s+Warnings:\s*(\d+)")

# Under IMPORT_LOAD_DATA_LOCAL=auto: None until this process has asked the server, False once the
# server or the client refused, so every later writer goes straight to INSERT.
_load_data_allowed: bool | None = None


class LoadDataRefused(ImportHubError):
    """IMPORT_LOAD_DATA_LOCAL is "on" but the server or the client does not allow LOAD DATA LOCAL."""

    code = "load_data_refused"
    http_status = 500


@dataclass(frozen=True)
class RowRefusal:
    """A valid row the table refused (on_duplicate=reject, or a key matching two existing rows)."""

    position: int  # in the frame given to chunk_write
    column: str
    value: str
    code: str
    message: str


@dataclass(frozen=True)
class PreparedChunk:
    """A chunk made ready for the database away from it (in the import's reader thread): for LOAD DATA, its
    file already written. `frame` stays for the fallback to INSERT should the server refuse LOAD DATA."""

    frame: pd.DataFrame
    row_numbers: np.ndarray
    path: str


@dataclass(frozen=True)
class ChunkWriteResult:
    """What one chunk did to the table. Every row of the chunk is counted exactly once:
    inserted + updated + skipped + repeated + len(refused) == rows given."""

    inserted: int
    updated: int = 0  # rows already in the table before this job, updated in place
    skipped: int = 0  # rows whose key was already in the table before this job (on_duplicate=skip)
    repeated: int = (
        0  # rows whose key repeats an earlier row of the same file (update: last wins; skip: first)
    )
    refused: tuple[RowRefusal, ...] = ()

    @property
    def written(self) -> int:
        return self.inserted + self.updated


def _load_data_mode() -> str:
    mode = str(getattr(settings, "IMPORT_LOAD_DATA_LOCAL", "auto")).strip().lower()
    if mode not in LOAD_DATA_MODES:
        raise ImproperlyConfigured(
            f"IMPORT_LOAD_DATA_LOCAL must be one of {', '.join(LOAD_DATA_MODES)}, not '{mode}'."
        )
    return mode


def _server_local_infile() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@local_infile")
        return bool(int(cursor.fetchone()[0] or 0))


def mysql_load_data_available() -> bool:
    """Whether a writer opened now on the default connection loads with LOAD DATA LOCAL INFILE."""
    global _load_data_allowed
    if connection.vendor != "mysql":
        return False
    mode = _load_data_mode()
    if mode != "auto":
        return mode == "on"
    if _load_data_allowed is None:
        _load_data_allowed = _server_local_infile()
        if not _load_data_allowed:
            logger.info("The MySQL server has local_infile OFF: loading with multi-row INSERT.")
    return _load_data_allowed


def load_method_describe() -> str:
    """How a writer opened now would write rows, for logs and the benchmark."""
    if connection.vendor == "sqlite":
        return METHOD_SQLITE
    if connection.vendor == "mysql":
        return METHOD_LOAD_DATA if mysql_load_data_available() else METHOD_MYSQL_INSERT
    return f"{connection.vendor} (not supported)"


def _identifiers_check(table_name: str, columns: list[str], unique_columns: list[str]) -> None:
    problems = [identifier_problem(table_name, kind="table")]
    problems += [identifier_problem(name, kind="column") for name in [*columns, *unique_columns]]
    problem = next((p for p in problems if p), None)
    if problem:
        raise ValueError(problem)
    if not columns:
        raise ValueError(f"No columns to write into table {table_name}.")
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise ValueError(f"Columns repeat: {', '.join(duplicates)}.")


def _escape(text: str) -> str:
    for char, escaped in _ESCAPES:
        text = text.replace(char, escaped)
    return text


def _escape_column(items: list[str], joined: str) -> list[str]:
    """Escape backslash, tab, newline, CR and NUL for LOAD DATA (ESCAPED BY '\\'), a column at a time.

    `joined` is the column joined by the first joiner: escaping it and splitting it back is one pass in C,
    valid when the joiner does not occur in any value."""
    if not any(char in joined for char, _ in _ESCAPES):
        return items
    for joiner in _JOINERS:
        if joiner != _JOINERS[0]:
            joined = joiner.join(items)
        if joined.count(joiner) == len(items) - 1:
            return _escape(joined).split(joiner)
    return [_escape(item) for item in items]


def _column_strings(frame: pd.DataFrame, column: str) -> tuple[list[str], str, np.ndarray]:
    """The column's values as str ("" where null), the same joined for escaping, and the null mask.

    Anything but text or a missing value is refused."""
    series = frame[column]
    nulls = series.isna().to_numpy()
    values = series.to_numpy(dtype=object, copy=True)
    if nulls.any():
        values[nulls] = ""
    items = values.tolist()
    try:
        joined = _JOINERS[0].join(items)
    except TypeError:
        found = next(type(v).__name__ for v in items if not isinstance(v, str))
        raise TypeError(
            f"Column '{column}' holds a {found}: chunks must hold canonical strings or None."
        ) from None
    return items, joined, nulls


def _with_nulls(items: list, nulls: np.ndarray, null) -> list:
    for index in np.flatnonzero(nulls).tolist():
        items[index] = null
    return items


class ServerChangedValues(FileRejected):
    """The database warned about a value it stored (truncated, rounded, converted): the file is not kept."""

    code = "server_changed_values"


class KeyConflict(FileRejected):
    """Rows whose unique keys clash in a way no duplicate policy can settle (e.g. a swap of keys)."""

    code = "key_conflict"


def _rows_numbered(row_numbers, count: int) -> np.ndarray:
    return np.arange(2, count + 2, dtype=np.int64) if row_numbers is None else np.asarray(row_numbers)


class TableWriter:
    """Writes the chunks of one file into one physical table, inside the caller's transaction.

    A table without unique columns gets every row appended. A table with unique columns applies its
    `on_duplicate` policy, to keys already in the table and to keys repeated inside the file alike:
    each chunk is loaded into a per-job temporary staging table, matched against the table by its keys
    in SQL, then existing rows are updated in place (their id kept, only `update_columns` changed, their
    previous values saved as RowVersions for revert) or skipped or refused, and the rest inserted."""

    method = ""
    stage = "server_load"  # the import's stage its chunk writes are counted to (services/timings.py)

    def __init__(
        self,
        *,
        table_name: str,
        columns: list[str],
        unique_columns: list[str],
        job_id: int,
        imported_at: datetime,
        on_duplicate: str = "update",
        update_columns: list[str] | None = None,
    ):
        self.table_name = table_name
        self.columns = columns
        self.unique_columns = unique_columns
        self.job_id = job_id
        self.imported_at = imported_at
        self.on_duplicate = on_duplicate
        self.update_columns = list(
            columns if update_columns is None else [c for c in columns if c in update_columns]
        )
        quote = connection.ops.quote_name
        self.quote = quote
        self.table_sql = quote(table_name)
        self.columns_sql = ", ".join(quote(c) for c in columns)
        self.engine_columns_sql = f"{quote('import_job_id')}, {quote('imported_at')}"
        self.imported_at_db = connection.ops.adapt_datetimefield_value(imported_at)
        # The job id is an integer, so the staging table's name is a safe identifier.
        self.stage_sql = quote(f"ih_stage_{int(job_id)}")
        self._stage_ready = False

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _transaction_check(self) -> None:
        if not connection.in_atomic_block:
            raise RuntimeError("Table writes must run inside transaction.atomic(): one transaction per file.")

    def job_rows_delete(self) -> int:
        """Undo what an earlier run of this job wrote (restore the rows it updated, delete the rows it
        inserted), so a re-run replaces them; return how many rows were deleted."""
        self._transaction_check()
        _restored, deleted = job_rows_undo(table_name=self.table_name, job_id=self.job_id)
        if deleted:
            logger.info(
                "Removed %s rows of job %s from %s before re-writing", deleted, self.job_id, self.table_name
            )
        return deleted

    def chunk_prepare(self, *, frame: pd.DataFrame, row_numbers=None) -> PreparedChunk | None:
        """What of a chunk's write can be done without the database, done now, from any thread; None when
        nothing can (see MysqlWriter). Give the result to chunk_write(prepared=...)."""
        return None

    def _frame_ordered(self, frame: pd.DataFrame) -> pd.DataFrame:
        if list(frame.columns) != self.columns:
            missing = [c for c in self.columns if c not in frame.columns]
            extra = [str(c) for c in frame.columns if c not in self.columns]
            if missing or extra or len(frame.columns) != len(self.columns):
                raise ValueError(
                    f"Chunk columns do not match the writer's: missing {missing or 'none'}, "
                    f"unexpected {extra or 'none'}."
                )
            frame = frame[self.columns]
        return frame

    def chunk_write(
        self, *, frame: pd.DataFrame | None = None, row_numbers=None, prepared: PreparedChunk | None = None
    ) -> ChunkWriteResult:
        """Write one chunk (columns as configured, canonical strings or None), or the chunk chunk_prepare made
        ready. `row_numbers` (the file's row of each frame row) only words the messages."""
        self._transaction_check()
        if prepared is not None:
            return self._prepared_write(prepared)
        frame = self._frame_ordered(frame)
        if frame.empty:
            return ChunkWriteResult(inserted=0)
        rows = _rows_numbered(row_numbers, len(frame))
        if not self.unique_columns:
            self._load(frame, into=self.table_sql, lines=None, row_numbers=rows)
            return ChunkWriteResult(inserted=len(frame))
        try:
            return self._upsert(frame, rows)
        except IntegrityError as exc:
            raise KeyConflict(
                f"Rows of this file clash on the unique columns {', '.join(self.unique_columns)} of "
                f"{self.table_name} in a way that cannot be settled row by row ({exc}). Nothing was kept.",
            ) from exc

    # --- Unique tables: in-file repeats, staging, matching ------------------------------------------

    def _upsert(self, frame: pd.DataFrame, rows: np.ndarray) -> ChunkWriteResult:
        keep, refused, repeated = self._chunk_repeats(frame, rows)
        self._stage_prepare()
        positions = np.flatnonzero(keep)
        self._load(frame.iloc[positions], into=self.stage_sql, lines=positions, row_numbers=rows[positions])
        matched, conflicts = self._stage_match()
        refused.extend(self._conflict_refusals(frame, conflicts))
        existing = [(line, target) for line, target, previous in matched if previous != self.job_id]
        again = [(line, target) for line, target, previous in matched if previous == self.job_id]
        updated = skipped = 0
        if self.on_duplicate == "update":
            self._versions_save()
            self._stage_apply()
            updated, repeated = len(existing), repeated + len(again)
        else:
            if self.on_duplicate == "skip":
                skipped, repeated = len(existing), repeated + len(again)
            else:
                refused.extend(self._match_refusals(frame, existing, again))
            self._execute(f"DELETE FROM {self.stage_sql} WHERE target_id IS NOT NULL")
        inserted = self._execute(
            f"INSERT INTO {self.table_sql} ({self.columns_sql}, {self.engine_columns_sql}) "
            f"SELECT {self.columns_sql}, %s, %s FROM {self.stage_sql} WHERE target_id IS NULL ORDER BY line",
            [self.job_id, self.imported_at_db],
        )
        refused.sort(key=lambda r: r.position)
        return ChunkWriteResult(
            inserted=inserted, updated=updated, skipped=skipped, repeated=repeated, refused=tuple(refused)
        )

    def _chunk_repeats(self, frame: pd.DataFrame, rows: np.ndarray) -> tuple[np.ndarray, list, int]:
        """Keys repeated inside the chunk: update keeps the last row, skip the first, reject refuses the repeats."""
        keep = np.ones(len(frame), dtype=bool)
        refused: list[RowRefusal] = []
        keep_which = "last" if self.on_duplicate == "update" else "first"
        for column in self.unique_columns:
            values = frame[column]
            present = values.notna().to_numpy()
            repeats = values.duplicated(keep=keep_which).to_numpy() & present & keep
            if not repeats.any():
                continue
            if self.on_duplicate == "reject":
                firsts = present & ~values.duplicated(keep="first").to_numpy()
                first_row = dict(zip(values[firsts].tolist(), rows[firsts].tolist(), strict=True))
                for position in np.flatnonzero(repeats).tolist():
                    value = values.iat[position]
                    refused.append(
                        RowRefusal(
                            position=position,
                            column=column,
                            value=value,
                            code="duplicate_key",
                            message=f"{column}: '{value}' repeats row {first_row[value]} of this file",
                        )
                    )
            keep &= ~repeats
        repeated = 0 if self.on_duplicate == "reject" else int((~keep).sum())
        return keep, refused, repeated

    def _stage_prepare(self) -> None:
        if self._stage_ready:
            self._execute(f"DELETE FROM {self.stage_sql}")
            return
        self._stage_drop()
        if connection.vendor == "mysql":
            # The staging table copies the configured columns' types and collations, without their indexes.
            sql = (
                f"CREATE TEMPORARY TABLE {self.stage_sql} (line BIGINT NOT NULL DEFAULT 0 PRIMARY KEY, "
                f"target_id BIGINT NULL, prev_job BIGINT NULL, KEY (target_id)) "
                f"SELECT {self.columns_sql} FROM {self.table_sql} LIMIT 0"
            )
        else:
            sql = (
                f"CREATE TEMP TABLE {self.stage_sql} AS SELECT 0 AS line, NULL AS target_id, NULL AS prev_job, "
                f"{self.columns_sql} FROM {self.table_sql} LIMIT 0"
            )
        self._execute(sql)
        self._stage_ready = True

    def _stage_drop(self) -> None:
        temporary = "TEMPORARY " if connection.vendor == "mysql" else ""
        self._execute(f"DROP {temporary}TABLE IF EXISTS {self.stage_sql}", check=False)
        self._stage_ready = False

    def _stage_match(self) -> tuple[list[tuple[int, int, int | None]], list[tuple[int, str]]]:
        """Point each staged row at the existing row its keys name; return (line, row id, its job) of the
        matched rows, and (line, column) of rows whose keys name two different existing rows."""
        quote = self.quote
        conflicts: list[tuple[int, str]] = []
        for index, column in enumerate(self.unique_columns):
            key = quote(column)
            if index:
                found = self._fetch(
                    f"SELECT s.line FROM {self.stage_sql} s JOIN {self.table_sql} t ON t.{key} = s.{key} "
                    "WHERE s.target_id IS NOT NULL AND s.target_id <> t.id"
                )
                conflicts += [(line, column) for (line,) in found]
            if connection.vendor == "mysql":
                sql = (
                    f"UPDATE {self.stage_sql} s JOIN {self.table_sql} t ON t.{key} = s.{key} "
                    f"SET s.target_id = t.id, s.prev_job = t.{quote('import_job_id')} WHERE s.target_id IS NULL"
                )
            else:
                sql = (
                    f"UPDATE {self.stage_sql} SET target_id = t.id, prev_job = t.{quote('import_job_id')} "
                    f"FROM {self.table_sql} AS t WHERE t.{key} = {self.stage_sql}.{key} "
                    f"AND {self.stage_sql}.target_id IS NULL"
                )
            self._execute(sql)
        matched = self._fetch(
            f"SELECT line, target_id, prev_job FROM {self.stage_sql} WHERE target_id IS NOT NULL ORDER BY line"
        )
        # Two rows of the chunk naming the same existing row through different unique columns: the later one
        # is a conflict too (one row cannot take both).
        seen: set[int] = set()
        refused_lines = {line for line, _ in conflicts}
        kept = []
        for line, target, previous in matched:
            if line in refused_lines:
                continue
            if target in seen:
                conflicts.append((line, self.unique_columns[-1]))
                refused_lines.add(line)
                continue
            seen.add(target)
            kept.append((int(line), int(target), None if previous is None else int(previous)))
        if refused_lines:
            self._lines_unstage(sorted(refused_lines))
        return kept, conflicts

    def _lines_unstage(self, lines: list[int]) -> None:
        for start in range(0, len(lines), 1000):
            batch = lines[start : start + 1000]
            marks = ", ".join(["%s"] * len(batch))
            self._execute(f"DELETE FROM {self.stage_sql} WHERE line IN ({marks})", batch)

    def _conflict_refusals(self, frame, conflicts) -> list[RowRefusal]:
        keys = ", ".join(self.unique_columns)
        return [
            RowRefusal(
                position=line,
                column=column,
                value=str(frame[column].iat[line]),
                code="duplicate_key",
                message=f"{column}: its unique columns ({keys}) name different rows already in "
                f"{self.table_name}, or the same row as another row of this file",
            )
            for line, column in conflicts
        ]

    def _match_refusals(self, frame, existing, again) -> list[RowRefusal]:
        """Rows whose key is in the table already (from before this job), or repeats a row of an earlier chunk."""
        refusals = []
        for matches, earlier_in_file in ((existing, False), (again, True)):
            for line, target in matches:
                column, value = self._key_of(frame, line)
                if earlier_in_file:
                    where = "repeats an earlier row of this file"
                else:
                    where = f"is already in {self.table_name} (row id {target})"
                refusals.append(
                    RowRefusal(line, column, value, "duplicate_key", f"{column}: '{value}' {where}")
                )
        refusals.sort(key=lambda r: r.position)
        return refusals

    def _key_of(self, frame, line: int) -> tuple[str, str]:
        for column in self.unique_columns:
            value = frame[column].iat[line]
            if value is not None and not (isinstance(value, float) and np.isnan(value)):
                return column, str(value)
        return self.unique_columns[0], ""

    def _versions_save(self) -> None:
        """Keep the previous values of the rows about to be updated (once per job and row), in one statement."""
        from ..models import RowVersion

        cast = "CHAR" if connection.vendor == "mysql" else "TEXT"
        function = "JSON_OBJECT" if connection.vendor == "mysql" else "json_object"
        pairs = ", ".join(f"%s, CAST(t.{self.quote(c)} AS {cast})" for c in self.columns)
        quote = self.quote
        self._execute(
            f"INSERT INTO {quote(RowVersion._meta.db_table)} "
            f"({quote('job_id')}, {quote('table_name')}, {quote('row_id')}, {quote('previous_job_id')}, "
            f"{quote('previous_imported_at')}, {quote('data')}) "
            f"SELECT %s, %s, t.id, t.{quote('import_job_id')}, t.{quote('imported_at')}, {function}({pairs}) "
            f"FROM {self.stage_sql} s JOIN {self.table_sql} t ON t.id = s.target_id "
            "WHERE s.prev_job IS NULL OR s.prev_job <> %s",
            [self.job_id, self.table_name, *self.columns, self.job_id],
        )

    def _stage_apply(self) -> None:
        """Update the matched rows in place: the file's columns only, the row keeps its id."""
        quote = self.quote
        if connection.vendor == "mysql":
            sets = [f"t.{quote(c)} = s.{quote(c)}" for c in self.update_columns]
            sets += [f"t.{quote('import_job_id')} = %s", f"t.{quote('imported_at')} = %s"]
            sql = f"UPDATE {self.table_sql} t JOIN {self.stage_sql} s ON t.id = s.target_id SET {', '.join(sets)}"
        else:
            sets = [f"{quote(c)} = s.{quote(c)}" for c in self.update_columns]
            sets += [f"{quote('import_job_id')} = %s", f"{quote('imported_at')} = %s"]
            sql = (
                f"UPDATE {self.table_sql} SET {', '.join(sets)} FROM {self.stage_sql} AS s "
                f"WHERE s.target_id = {self.table_sql}.id"
            )
        self._execute(sql, [self.job_id, self.imported_at_db])
        self._execute(f"DELETE FROM {self.stage_sql} WHERE target_id IS NOT NULL")

    # --- Statements ----------------------------------------------------------------------------------

    def _execute(self, sql: str, params=None, *, check: bool = True) -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            count = cursor.rowcount
            if check:
                self._warnings_check(cursor, context=None)
        return count

    def _fetch(self, sql: str, params=None) -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [tuple(r) for r in cursor.fetchall()]

    def _warnings_check(self, cursor, *, context) -> None:
        """SQLite has no warnings; MySQL's are read in MysqlWriter."""

    def _load(self, frame: pd.DataFrame, *, into: str, lines, row_numbers: np.ndarray) -> None:
        raise NotImplementedError

    def _row_tuples(self, frame: pd.DataFrame, lines) -> list[tuple]:
        columns = []
        for column in self.columns:
            items, _, nulls = _column_strings(frame, column)
            columns.append(_with_nulls(items, nulls, None))
        if lines is None:
            return list(zip(*columns, repeat(self.job_id), repeat(self.imported_at_db), strict=False))
        return list(zip(np.asarray(lines).tolist(), *columns, strict=True))

    def _insert_sql(self, into: str, lines, rows: int = 1) -> str:
        if lines is None:
            names = f"{self.columns_sql}, {self.engine_columns_sql}"
            width = len(self.columns) + 2
        else:
            names = f"line, {self.columns_sql}"
            width = len(self.columns) + 1
        group = "(" + ", ".join(["%s"] * width) + ")"
        return f"INSERT INTO {into} ({names}) VALUES " + ", ".join([group] * rows)

    def close(self) -> None:
        """Release what the writer holds (temporary files, the staging table); safe to call twice."""
        if self._stage_ready and connection.in_atomic_block:
            try:
                self._stage_drop()
            except DatabaseError:
                logger.debug("Could not drop the staging table of job %s", self.job_id, exc_info=True)


class SqliteWriter(TableWriter):
    """executemany on SQLite; unique tables go through the staging table (UPDATE ... FROM, INSERT ... SELECT)."""

    method = METHOD_SQLITE

    def _load(self, frame: pd.DataFrame, *, into: str, lines, row_numbers: np.ndarray) -> None:
        with stage_timed("load_file"):
            rows = self._row_tuples(frame, lines)
        with connection.cursor() as cursor:
            cursor.executemany(self._insert_sql(into, lines), rows)


# MySQL notes about the statement itself, never about a value: 1287 deprecated syntax, 1592 unsafe for
# statement-based binary logging. Every other warning or note means a value was changed.
HARMLESS_WARNINGS = frozenset({1287, 1592})
_WARNING_ROW_RE = re.compile(r"\bat row (\d+)")
# MySQL names the column 'name'; MariaDB `schema`.`table`.`name`.
_WARNING_COLUMN_RE = re.compile(r"column (?:'([^']+)'|(?:`[^`]*`\.)*`([^`]+)`)")


class MysqlWriter(TableWriter):
    """MySQL/MariaDB: LOAD DATA LOCAL INFILE from the engine's own temp file, or multi-row INSERT.

    Every statement's warnings are read, all of them (max_error_count is raised for the session): a warning
    means the server stored something else than the file said, so the file fails, naming the row and column."""

    def __init__(self, *, load_data: bool, mode: str, **kwargs):
        super().__init__(**kwargs)
        self.mode = mode
        self.load_data = load_data
        self.method = METHOD_LOAD_DATA if load_data else METHOD_MYSQL_INSERT
        with connection.cursor() as cursor:
            cursor.execute("SELECT @@max_allowed_packet")
            packet = int(cursor.fetchone()[0])
            cursor.execute("SET SESSION max_error_count = 65535")
            cursor.execute("SELECT @@max_error_count")
            self.max_warnings = int(cursor.fetchone()[0])
        # Headroom under max_allowed_packet for the packet header and the statement's own text.
        self.statement_bytes = max(16 * 1024, min(INSERT_MAX_STATEMENT_BYTES, packet - 64 * 1024))
        self.directory = None
        self._cleanup = None
        self._files = itertools.count()
        if load_data:
            self.directory = tempfile.mkdtemp(prefix="importhub-load-")
            self._cleanup = weakref.finalize(self, shutil.rmtree, self.directory, True)

    def close(self) -> None:
        super().close()
        if self._cleanup is not None:
            self._cleanup()

    def _load(self, frame: pd.DataFrame, *, into: str, lines, row_numbers: np.ndarray) -> None:
        if self.load_data:
            try:
                return self._load_data(frame, into=into, lines=lines, row_numbers=row_numbers)
            except OperationalError as exc:
                if not exc.args or exc.args[0] not in LOAD_DATA_REFUSED_CODES:
                    raise
                self._refused(exc)
        return self._insert(frame, into=into, lines=lines, row_numbers=row_numbers)

    def chunk_prepare(self, *, frame: pd.DataFrame, row_numbers=None) -> PreparedChunk | None:
        """An append-only table on LOAD DATA: the chunk's file written now, so that the import's reader thread
        writes it while the previous chunk loads. Touches no connection and no state but a file of its own."""
        if self.unique_columns or not self.load_data or frame.empty:
            return None
        frame = self._frame_ordered(frame)
        return PreparedChunk(
            frame=frame,
            row_numbers=_rows_numbered(row_numbers, len(frame)),
            path=self._chunk_file(frame, None),
        )

    def _prepared_write(self, prepared: PreparedChunk) -> ChunkWriteResult:
        rows = len(prepared.frame)
        if self.load_data:
            try:
                self._file_load(
                    prepared.path,
                    into=self.table_sql,
                    lines=None,
                    rows=rows,
                    row_numbers=prepared.row_numbers,
                )
                return ChunkWriteResult(inserted=rows)
            except OperationalError as exc:
                if not exc.args or exc.args[0] not in LOAD_DATA_REFUSED_CODES:
                    raise
                self._refused(exc)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(prepared.path)
        self._insert(prepared.frame, into=self.table_sql, lines=None, row_numbers=prepared.row_numbers)
        return ChunkWriteResult(inserted=rows)

    def _refused(self, exc: OperationalError) -> None:
        global _load_data_allowed
        if self.mode == "on":
            raise LoadDataRefused(
                f"IMPORT_LOAD_DATA_LOCAL is 'on' but LOAD DATA LOCAL INFILE was refused ({exc}). Enable "
                "local_infile on the server and the client, or set IMPORT_LOAD_DATA_LOCAL to auto or off."
            ) from exc
        _load_data_allowed = False
        logger.warning("LOAD DATA LOCAL INFILE refused (%s): loading with multi-row INSERT from now on.", exc)
        self.load_data = False
        self.method = METHOD_MYSQL_INSERT
        if self._cleanup is not None:
            self._cleanup()
            self._cleanup = None

    def _chunk_file(self, frame: pd.DataFrame, lines) -> str:
        columns = [] if lines is None else [[str(n) for n in np.asarray(lines).tolist()]]
        for column in self.columns:
            items, joined, nulls = _column_strings(frame, column)
            columns.append(_with_nulls(_escape_column(items, joined), nulls, NULL_FIELD))
        path = os.path.join(self.directory, f"chunk-{next(self._files)}.tsv")  # one file per chunk in flight
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write("\n".join(map("\t".join, zip(*columns, strict=True))))
            handle.write("\n")
        return path

    def _load_data(self, frame: pd.DataFrame, *, into: str, lines, row_numbers: np.ndarray) -> None:
        with stage_timed("load_file"):
            path = self._chunk_file(frame, lines)
        self._file_load(path, into=into, lines=lines, rows=len(frame), row_numbers=row_numbers)

    def _file_load(self, path: str, *, into: str, lines, rows: int, row_numbers: np.ndarray) -> None:
        """LOAD DATA of one chunk's file (removed after), its counts and every warning checked."""
        quote = connection.ops.quote_name
        if lines is None:
            names = self.columns_sql
            tail = f" SET {quote('import_job_id')} = %s, {quote('imported_at')} = %s"
            params = [path, self.job_id, self.imported_at_db]
        else:
            names, tail, params = f"line, {self.columns_sql}", "", [path]
        sql = (
            f"LOAD DATA LOCAL INFILE %s INTO TABLE {into} CHARACTER SET utf8mb4 "
            r"FIELDS TERMINATED BY '\t' ESCAPED BY '\\' LINES TERMINATED BY '\n' "
            f"({names}){tail}"
        )
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                info = connection.connection.info() or ""
                match = _INFO_RE.search(info)
                if not match:
                    raise DataError(f"LOAD DATA into {self.table_name} gave no row counts ({info!r}).")
                records, _deleted, skipped, _warnings = (int(g) for g in match.groups())
                self._warnings_check(cursor, context=row_numbers)
        finally:
            os.unlink(path)
        if records != rows:
            raise DataError(f"LOAD DATA read {records} rows into {self.table_name}, expected {rows}.")
        if skipped:
            raise IntegrityError(
                f"LOAD DATA skipped {skipped} rows of {self.table_name} that repeat a unique value; "
                "the table has a unique column the writer was not told about."
            )

    def _insert(self, frame: pd.DataFrame, *, into: str, lines, row_numbers: np.ndarray) -> None:
        """Multi-row INSERTs sized under max_allowed_packet, one statement per execute, so that each
        statement's warnings (and their row numbers) are read."""
        rows = self._row_tuples(frame, lines)
        start = 0
        with connection.cursor() as cursor:
            while start < len(rows):
                end, size = start, 0
                while end < len(rows) and end - start < INSERT_MAX_ROWS:
                    size += sum(len(v) + 4 if isinstance(v, str) else 24 for v in rows[end]) + 4
                    if size > self.statement_bytes and end > start:
                        break
                    end += 1
                batch = rows[start:end]
                cursor.execute(self._insert_sql(into, lines, len(batch)), [v for row in batch for v in row])
                self._warnings_check(cursor, context=row_numbers[start:end])
                start = end

    def _warnings_check(self, cursor, *, context) -> None:
        count = connection.connection.warning_count()
        if not count:
            return
        cursor.execute(f"SHOW WARNINGS LIMIT {int(min(count, self.max_warnings))}")
        problems = [
            (level, code, message)
            for level, code, message in cursor.fetchall()
            if code not in HARMLESS_WARNINGS
        ]
        if not problems:
            return
        described = []
        for level, code, message in problems[:10]:
            where = ""
            row = _WARNING_ROW_RE.search(message)
            column = _WARNING_COLUMN_RE.search(message)
            if row and context is not None and 0 < int(row.group(1)) <= len(context):
                where = f"row {int(context[int(row.group(1)) - 1]):,}"
            if column:
                name = column.group(1) or column.group(2)
                where = f"{where}, column {name}" if where else f"column {name}"
            described.append(f"{where + ': ' if where else ''}{message} ({level} {code})")
        more = f" (and {len(problems) - 10:,} more)" if len(problems) > 10 else ""
        if count > self.max_warnings:
            more += f" ({count:,} warnings in all, more than the server lets a client read)"
        raise ServerChangedValues(
            f"The database did not store every value as sent into {self.table_name}: "
            f"{'; '.join(described)}{more}. Nothing of this file was kept."
        )


def job_rows_undo(*, table_name: str, job_id: int) -> tuple[int, int]:
    """Restore the rows `job_id` updated to their previous values (and previous job), delete the rows it
    inserted, forget its RowVersions; inside the caller's transaction. Returns (restored, deleted)."""
    from ..models import RowVersion

    problem = identifier_problem(table_name, kind="table")
    if problem:
        raise ValueError(problem)
    quote = connection.ops.quote_name
    table_sql = quote(table_name)
    versions = RowVersion.objects.filter(job_id=job_id, table_name=table_name)
    restored = 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote('row_id')}, {quote('previous_job_id')}, {quote('previous_imported_at')}, {quote('data')} "
            f"FROM {quote(RowVersion._meta.db_table)} WHERE {quote('job_id')} = %s AND {quote('table_name')} = %s "
            f"ORDER BY {quote('id')}",
            [job_id, table_name],
        )
        batches: dict[tuple[str, ...], list[tuple]] = {}
        while fetched := cursor.fetchmany(1000):
            for row_id, previous_job, previous_at, data in fetched:
                values = json.loads(data)
                names = tuple(sorted(values))
                batches.setdefault(names, []).append(
                    (*[values[n] for n in names], previous_job, previous_at, row_id)
                )
    with connection.cursor() as cursor:
        for names, rows in batches.items():
            problems = [identifier_problem(n, kind="column") for n in names]
            if any(problems):
                raise ValueError(next(p for p in problems if p))
            sets = ", ".join(
                [
                    *(f"{quote(n)} = %s" for n in names),
                    f"{quote('import_job_id')} = %s",
                    f"{quote('imported_at')} = %s",
                ]
            )
            cursor.executemany(f"UPDATE {table_sql} SET {sets} WHERE {quote('id')} = %s", rows)
            restored += len(rows)
    versions.delete()
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table_sql} WHERE {quote('import_job_id')} = %s", [job_id])
        deleted = cursor.rowcount
    return restored, deleted


def table_writer_open(
    *,
    table_name: str,
    columns: list[str],
    unique_columns: list[str] | tuple[str, ...] = (),
    job_id: int,
    imported_at: datetime | None = None,
    on_duplicate: str = "update",
    update_columns: list[str] | None = None,
) -> TableWriter:
    """A writer for one file's rows into `table_name`, choosing the fastest path the database allows.

    `imported_at` (aware; default now) is stored, to the second in UTC, on every row: pass the job's
    timestamp when one job writes several files. `on_duplicate` (update, skip, reject) applies to rows whose
    unique key is already in the table or earlier in the file; `update_columns` (default: all) are the
    columns an update changes: the ones the file carries."""
    columns = list(columns)
    unique_columns = list(unique_columns)
    _identifiers_check(table_name, columns, unique_columns)
    if on_duplicate not in DUPLICATE_POLICIES:
        raise ValueError(
            f"on_duplicate must be one of {', '.join(DUPLICATE_POLICIES)}, not {on_duplicate!r}."
        )
    if isinstance(job_id, bool) or not isinstance(job_id, int):
        raise ValueError(f"job_id must be an integer, not {job_id!r}.")
    if imported_at is None:
        imported_at = timezone.now()
    elif timezone.is_naive(imported_at):
        raise ValueError("imported_at must be timezone-aware.")
    imported_at = imported_at.astimezone(UTC).replace(microsecond=0)
    common = {
        "table_name": table_name,
        "columns": columns,
        "unique_columns": unique_columns,
        "job_id": job_id,
        "imported_at": imported_at,
        "on_duplicate": on_duplicate,
        "update_columns": update_columns,
    }
    if connection.vendor == "sqlite":
        writer = SqliteWriter(**common)
    elif connection.vendor == "mysql":
        mode = _load_data_mode()
        load_data = mysql_load_data_available()
        if mode == "on" and not _server_local_infile():
            raise LoadDataRefused(
                "IMPORT_LOAD_DATA_LOCAL is 'on' but the MySQL server has local_infile OFF. "
                "Run SET GLOBAL local_infile = 1 (and set it in the server configuration), "
                "or set IMPORT_LOAD_DATA_LOCAL to auto or off.",
            )
        writer = MysqlWriter(load_data=load_data, mode=mode, **common)
    else:
        raise ImproperlyConfigured(f"importhub loads into SQLite or MySQL/MariaDB, not {connection.vendor}.")
    logger.debug("Writing job %s into %s with %s", job_id, table_name, writer.method)
    return writer
