"""SQLite's import in two steps: a job's rows go to a SQLite file of the job's own, then into the table at once.

SQLite has one writer at a time. An import that wrote a multi-million-row file straight into the table would
hold that lock for the whole read, validation and load, and every upload, login, heartbeat and other job
would wait. Instead the rows are written, chunk after chunk, into a private file (`IMPORT_WORK_DIR`) on a
connection of its own, which takes no lock on the main database; then one short transaction on the main
database copies them with a single `INSERT ... SELECT` and records the job complete. The file stays atomic:
the table gets all of its rows or none, and a run that dies leaves only its private file, which the next
run of the job replaces.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection
from django.utils import timezone

from tableconfig.naming import identifier_problem

from .loading import ChunkWriteResult, _column_strings, _identifiers_check, _with_nulls

logger = logging.getLogger(__name__)

# The name the private file is attached under on the main connection for the copy (a fixed, safe identifier).
JOB_ROWS_SCHEMA = "ih_job_rows"
ROWS_PER_STATEMENT = 500


def job_rows_staged_possible(*, unique_columns: list[str]) -> bool:
    """Whether this import can go through a private file: SQLite, a table without unique columns (their
    matching against the table's rows runs in the table's own transaction), and no transaction already open
    on the connection (a caller's transaction holds the lock anyway, and ATTACH cannot run inside one)."""
    return connection.vendor == "sqlite" and not unique_columns and not connection.in_atomic_block


def job_rows_file_path(*, job_id: int, attempt: int) -> Path:
    return Path(settings.IMPORT_WORK_DIR) / f"job-{int(job_id)}-{int(attempt)}.sqlite3"


def job_rows_files_clear(*, job_id: int, before_attempt: int) -> None:
    """Remove the private files of this job's earlier runs (a worker that died keeps its file). A run that is
    still going is superseded by the later claim anyway: without its file it keeps nothing either."""
    for leftover in Path(settings.IMPORT_WORK_DIR).glob(f"job-{int(job_id)}-*.sqlite3*"):
        attempt = leftover.name.split("-")[2].split(".")[0]
        if not attempt.isdigit() or int(attempt) < before_attempt:
            leftover.unlink(missing_ok=True)


class JobRowsFile:
    """The valid rows of one job, in a SQLite file of their own, in the table's column types and file order.

    Same interface as TableWriter for an append-only table (chunk_write, close); `rows_copy` then moves the
    rows into the table inside the caller's transaction."""

    method = "sqlite executemany into the job's own file, then INSERT ... SELECT"
    stage = "load_file"  # its chunk writes fill the job's own file; the copy is the server load

    def __init__(
        self, *, path: Path, table_name: str, columns: list[str], job_id: int, imported_at: datetime
    ):
        _identifiers_check(table_name, columns, [])
        self.path = path
        self.table_name = table_name
        self.columns = list(columns)
        self.job_id = int(job_id)
        self.imported_at_db = connection.ops.adapt_datetimefield_value(imported_at)
        self.quote = connection.ops.quote_name
        self.columns_sql = ", ".join(self.quote(c) for c in columns)
        types = self._column_types()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        # Nothing here needs to survive a crash (the next run starts over), so no journal and no fsync.
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        definitions = ", ".join(f"{self.quote(c)} {types[c]}" for c in columns)
        # The file's columns and an alias of the rowid, which SQLite fills in (no value bound per row) and which
        # keeps the file's order; the copy adds the job's id and time.
        self.line = next(
            f"ih_line{n or ''}" for n in range(len(columns) + 1) if f"ih_line{n or ''}" not in columns
        )
        self.db.execute(
            f"CREATE TABLE {self.quote(table_name)} ({self.quote(self.line)} INTEGER PRIMARY KEY, {definitions})"
        )
        self._insert_head = f"INSERT INTO {self.quote(table_name)} ({self.columns_sql}) VALUES "
        self._row_sql = f"({', '.join(['?'] * len(columns))})"
        # As many rows per INSERT as SQLite lets one statement bind (32,766 values since 3.32, 999 before).
        limit = self.db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        self.rows_per_statement = max(1, min(ROWS_PER_STATEMENT, limit // len(columns)))
        self._statements: dict[int, str] = {}

    def _column_types(self) -> dict[str, str]:
        """The table's declared column types, so the private file gives every value the same affinity."""
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA table_info({self.quote(self.table_name)})")
            declared = {row[1]: row[2] for row in cursor.fetchall()}
        missing = [c for c in self.columns if c not in declared]
        if missing:
            raise ValueError(f"Table {self.table_name} has no column {', '.join(missing)}.")
        for name, kind in declared.items():
            # A declared type is copied into DDL: allow only what SQLite type names look like.
            if not all(ch.isalnum() or ch in "_(), " for ch in kind):
                raise ValueError(f"Column {name} of {self.table_name} has an unexpected type {kind!r}.")
        return {c: declared[c] for c in self.columns}

    def job_rows_delete(self) -> int:
        """Nothing to undo in a fresh file; the table's rows of earlier runs go in the copy's transaction."""
        return 0

    def chunk_write(self, *, frame: pd.DataFrame, row_numbers=None) -> ChunkWriteResult:
        if frame.empty:
            return ChunkWriteResult(inserted=0)
        frame = frame[self.columns]
        count, width = len(frame), len(self.columns)
        cells = np.empty((count, width), dtype=object)
        for index, column in enumerate(self.columns):
            items, _, nulls = _column_strings(frame, column)  # refuses anything but text or None
            cells[:, index] = _with_nulls(items, nulls, None)
        # Many rows per statement: the same values bound, a fraction of the statements to step (measured: 1M
        # rows of 8 columns into the file 3.5 s one row per statement, 1.6-2.2 s this way).
        per = self.rows_per_statement
        whole = count - count % per
        self.db.execute("BEGIN")
        try:
            if whole:
                self.db.executemany(self._values_sql(per), cells[:whole].reshape(-1, per * width).tolist())
            if whole < count:
                self.db.execute(self._values_sql(count - whole), cells[whole:].reshape(-1).tolist())
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return ChunkWriteResult(inserted=len(frame))

    def _values_sql(self, rows: int) -> str:
        if rows not in self._statements:
            self._statements[rows] = self._insert_head + ",".join([self._row_sql] * rows)
        return self._statements[rows]

    def close(self) -> None:
        """Close the private connection; the file stays for the copy (the run removes it when it ends)."""
        self.db.close()

    def rows_copy(self, *, schema: str) -> int:
        """Copy every row into the table, in file order, inside the caller's transaction; return how many."""
        if not connection.in_atomic_block:
            raise RuntimeError("The copy must run inside transaction.atomic(): one transaction per file.")
        source = f"{self.quote(schema)}.{self.quote(self.table_name)}"
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {self.quote(self.table_name)} ({self.columns_sql}, import_job_id, imported_at) "
                f"SELECT {self.columns_sql}, %s, %s FROM {source} ORDER BY {self.quote(self.line)}",
                [self.job_id, self.imported_at_db],
            )
            return cursor.rowcount


def job_rows_file_open(*, job_id: int, attempt: int, table_name: str, columns: list[str]) -> JobRowsFile:
    """A private rows file for this run of the job (earlier runs' files removed)."""
    job_rows_files_clear(job_id=job_id, before_attempt=attempt)
    imported_at = timezone.now().astimezone(UTC).replace(microsecond=0)
    return JobRowsFile(
        path=job_rows_file_path(job_id=job_id, attempt=attempt),
        table_name=table_name,
        columns=columns,
        job_id=job_id,
        imported_at=imported_at,
    )


@contextlib.contextmanager
def job_rows_attached(*, path: Path) -> Iterator[str]:
    """The private file attached to the main connection (outside any transaction) for the copy."""
    problem = identifier_problem(JOB_ROWS_SCHEMA, kind="table")
    if problem:  # a constant; checked because it is put into SQL
        raise ValueError(problem)
    if connection.in_atomic_block:
        raise RuntimeError("ATTACH cannot run inside a transaction.")
    # Read-only: a file that is gone (removed by a later run of the job) is an error, not a new empty file.
    uri = f"file:{urllib.parse.quote(str(path))}?mode=ro"
    with connection.cursor() as cursor:
        cursor.execute(f"ATTACH DATABASE %s AS {connection.ops.quote_name(JOB_ROWS_SCHEMA)}", [uri])
    attached_to = connection.connection
    try:
        yield JOB_ROWS_SCHEMA
    finally:
        # A connection closed meanwhile (django-q2's ORM broker closes old connections when a task is
        # queued after the commit) took the attachment with it.
        if connection.connection is attached_to and not connection.in_atomic_block:
            with connection.cursor() as cursor:
                cursor.execute(f"DETACH DATABASE {connection.ops.quote_name(JOB_ROWS_SCHEMA)}")
