"""Bulk writes of validated chunks into a physical table: MySQL LOAD DATA LOCAL INFILE or multi-row
INSERT, SQLite executemany. Every path runs inside the caller's transaction and gives the same rows."""

from __future__ import annotations

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
from django.db import DataError, IntegrityError, OperationalError, connection
from django.utils import timezone

from importhub.errors import ImportHubError
from tableconfig.naming import identifier_problem

logger = logging.getLogger(__name__)

METHOD_LOAD_DATA = "mysql LOAD DATA LOCAL INFILE"
METHOD_MYSQL_INSERT = "mysql multi-row INSERT"
METHOD_SQLITE = "sqlite executemany"
LOAD_DATA_MODES = ("auto", "on", "off")
# "Not allowed" answers to LOAD DATA LOCAL: 1148 server local_infile=OFF, 2068 refused by libmysqlclient,
# 3948 disabled on one side (MySQL 8), 4166 disabled on one side (MariaDB server / Connector/C).
LOAD_DATA_REFUSED_CODES = frozenset({1148, 2068, 3948, 4166})
INSERT_MAX_ROWS = 5_000
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
class ChunkWriteResult:
    """Rows of one chunk written, and how many existing rows they replaced (unique tables only)."""

    written: int
    replaced: int


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


class TableWriter:
    """Writes the chunks of one file into one physical table, inside the caller's transaction."""

    method = ""
    replace_verb = "REPLACE"

    def __init__(
        self,
        *,
        table_name: str,
        columns: list[str],
        unique_columns: list[str],
        job_id: int,
        imported_at: datetime,
    ):
        self.table_name = table_name
        self.columns = columns
        self.unique_columns = unique_columns
        self.job_id = job_id
        self.imported_at = imported_at
        self.replace = bool(unique_columns)
        quote = connection.ops.quote_name
        self.table_sql = quote(table_name)
        self.columns_sql = ", ".join(quote(c) for c in columns)
        self.engine_columns_sql = f"{quote('import_job_id')}, {quote('imported_at')}"
        self.imported_at_db = connection.ops.adapt_datetimefield_value(imported_at)

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _transaction_check(self) -> None:
        if not connection.in_atomic_block:
            raise RuntimeError("Table writes must run inside transaction.atomic(): one transaction per file.")

    def job_rows_delete(self) -> int:
        """Remove the rows an earlier run of this job wrote, so a re-run replaces them; return how many."""
        self._transaction_check()
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {self.table_sql} WHERE {connection.ops.quote_name('import_job_id')} = %s",
                [self.job_id],
            )
            deleted = cursor.rowcount
        if deleted:
            logger.info(
                "Removed %s rows of job %s from %s before re-writing", deleted, self.job_id, self.table_name
            )
        return deleted

    def chunk_write(self, *, frame: pd.DataFrame) -> ChunkWriteResult:
        """Write one chunk (columns as configured, canonical strings or None) and count replaced rows."""
        self._transaction_check()
        if list(frame.columns) != self.columns:
            missing = [c for c in self.columns if c not in frame.columns]
            extra = [str(c) for c in frame.columns if c not in self.columns]
            if missing or extra or len(frame.columns) != len(self.columns):
                raise ValueError(
                    f"Chunk columns do not match the writer's: missing {missing or 'none'}, "
                    f"unexpected {extra or 'none'}."
                )
            frame = frame[self.columns]
        if frame.empty:
            return ChunkWriteResult(written=0, replaced=0)
        return self._write(frame)

    def _write(self, frame: pd.DataFrame) -> ChunkWriteResult:
        raise NotImplementedError

    def _rows(self, frame: pd.DataFrame) -> list[tuple]:
        columns = []
        for column in self.columns:
            items, _, nulls = _column_strings(frame, column)
            columns.append(_with_nulls(items, nulls, None))
        return list(zip(*columns, repeat(self.job_id), repeat(self.imported_at_db), strict=False))

    def _insert_sql(self) -> str:
        verb = self.replace_verb if self.replace else "INSERT"
        marks = ", ".join(["%s"] * (len(self.columns) + 2))
        return (
            f"{verb} INTO {self.table_sql} ({self.columns_sql}, {self.engine_columns_sql}) VALUES ({marks})"
        )

    def close(self) -> None:
        """Release what the writer holds (temporary files); safe to call twice."""


class SqliteWriter(TableWriter):
    """executemany on SQLite; unique tables use INSERT OR REPLACE (last row wins)."""

    method = METHOD_SQLITE
    replace_verb = "INSERT OR REPLACE"

    def _count(self, cursor) -> int:
        cursor.execute(f"SELECT COUNT(*) FROM {self.table_sql}")
        return cursor.fetchone()[0]

    def _write(self, frame: pd.DataFrame) -> ChunkWriteResult:
        rows = self._rows(frame)
        with connection.cursor() as cursor:
            # SQLite's changes() leaves out rows deleted by REPLACE: count the table around the insert.
            before = self._count(cursor) if self.replace else 0
            cursor.executemany(self._insert_sql(), rows)
            replaced = before + len(rows) - self._count(cursor) if self.replace else 0
        return ChunkWriteResult(written=len(rows), replaced=replaced)


class MysqlWriter(TableWriter):
    """MySQL/MariaDB: LOAD DATA LOCAL INFILE from the engine's own temp file, or multi-row INSERT.

    Unique tables use REPLACE on both paths, so they give the same rows: the last row wins, and a row
    clashing with several existing rows (one per unique column) replaces them all."""

    def __init__(self, *, load_data: bool, mode: str, **kwargs):
        super().__init__(**kwargs)
        self.mode = mode
        self.load_data = load_data
        self.method = METHOD_LOAD_DATA if load_data else METHOD_MYSQL_INSERT
        with connection.cursor() as cursor:
            cursor.execute("SELECT @@max_allowed_packet")
            packet = int(cursor.fetchone()[0])
        # Headroom under max_allowed_packet for the packet header and the statement's own text.
        self.statement_bytes = max(16 * 1024, min(INSERT_MAX_STATEMENT_BYTES, packet - 64 * 1024))
        self.directory = None
        self._cleanup = None
        if load_data:
            self.directory = tempfile.mkdtemp(prefix="importhub-load-")
            self._cleanup = weakref.finalize(self, shutil.rmtree, self.directory, True)

    def close(self) -> None:
        if self._cleanup is not None:
            self._cleanup()

    def _write(self, frame: pd.DataFrame) -> ChunkWriteResult:
        if self.load_data:
            try:
                return self._load(frame)
            except OperationalError as exc:
                if not exc.args or exc.args[0] not in LOAD_DATA_REFUSED_CODES:
                    raise
                self._refused(exc)
        return self._insert(frame)

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
        self.close()

    def _chunk_file(self, frame: pd.DataFrame) -> str:
        columns = []
        for column in self.columns:
            items, joined, nulls = _column_strings(frame, column)
            columns.append(_with_nulls(_escape_column(items, joined), nulls, NULL_FIELD))
        path = os.path.join(self.directory, "chunk.tsv")
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write("\n".join(map("\t".join, zip(*columns, strict=True))))
            handle.write("\n")
        return path

    def _load(self, frame: pd.DataFrame) -> ChunkWriteResult:
        path = self._chunk_file(frame)
        verb = "REPLACE " if self.replace else ""
        sql = (
            f"LOAD DATA LOCAL INFILE %s {verb}INTO TABLE {self.table_sql} CHARACTER SET utf8mb4 "
            r"FIELDS TERMINATED BY '\t' ESCAPED BY '\\' LINES TERMINATED BY '\n' "
            f"({self.columns_sql}) SET {connection.ops.quote_name('import_job_id')} = %s, "
            f"{connection.ops.quote_name('imported_at')} = %s"
        )
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, [path, self.job_id, self.imported_at_db])
                info = connection.connection.info() or ""
                match = _INFO_RE.search(info)
                if not match:
                    raise DataError(f"LOAD DATA into {self.table_name} gave no row counts ({info!r}).")
                records, deleted, skipped, warnings = (int(g) for g in match.groups())
                if warnings:
                    self._warnings_check(cursor)
        finally:
            os.unlink(path)
        if records != len(frame):
            raise DataError(f"LOAD DATA read {records} rows into {self.table_name}, expected {len(frame)}.")
        if skipped:
            raise IntegrityError(
                f"LOAD DATA skipped {skipped} rows of {self.table_name} that repeat a unique value; "
                "the table has a unique column the writer was not told about."
            )
        return ChunkWriteResult(written=records, replaced=deleted)

    def _warnings_check(self, cursor) -> None:
        # With LOCAL the server turns strict-mode errors into warnings (it cannot stop the upload):
        # raise them, as an INSERT would have. Notes (e.g. decimal rounding) pass, as with INSERT.
        cursor.execute("SHOW WARNINGS")
        problems = [
            f"{message} (error {code})" for level, code, message in cursor.fetchall() if level != "Note"
        ]
        if problems:
            raise DataError(f"LOAD DATA into {self.table_name} rejected values: {'; '.join(problems[:5])}")

    def _insert(self, frame: pd.DataFrame) -> ChunkWriteResult:
        from MySQLdb.cursors import BaseCursor

        rows = self._rows(frame)
        sql = self._insert_sql()
        affected = 0
        with connection.cursor() as cursor:
            driver_cursor = cursor
            while not isinstance(driver_cursor, BaseCursor):
                driver_cursor = driver_cursor.cursor
            # mysqlclient's executemany packs rows into multi-row statements up to this many bytes.
            driver_cursor.max_stmt_length = self.statement_bytes
            for start in range(0, len(rows), INSERT_MAX_ROWS):
                cursor.executemany(sql, rows[start : start + INSERT_MAX_ROWS])
                affected += cursor.rowcount
        # REPLACE counts a replaced row twice (deleted, then inserted).
        replaced = affected - len(rows) if self.replace else 0
        return ChunkWriteResult(written=len(rows), replaced=replaced)


def table_writer_open(
    *,
    table_name: str,
    columns: list[str],
    unique_columns: list[str] | tuple[str, ...] = (),
    job_id: int,
    imported_at: datetime | None = None,
) -> TableWriter:
    """A writer for one file's rows into `table_name`, choosing the fastest path the database allows.

    `imported_at` (aware; default now) is stored, to the second in UTC, on every row: pass the job's
    timestamp when one job writes several files."""
    columns = list(columns)
    unique_columns = list(unique_columns)
    _identifiers_check(table_name, columns, unique_columns)
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
