"""SQLite's private rows file: many rows per INSERT, and the copy gives the table every row, in file order."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pandas as pd
import pytest
from django.db import transaction

from imports.services.staging import job_rows_attached, job_rows_file_open

from .conftest import ON_MYSQL, table_rows

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(ON_MYSQL, reason="the private rows file is SQLite's import path"),
]

COLUMNS = ["distid", "dono", "dotanggal", "custid", "sku", "qty", "amount_jual", "exportdate"]


def _rows(start: int, count: int) -> list[list]:
    return [
        ["31001", f"DO{n:07d}", f"2026-10-{1 + n % 28:02d}", None if n % 7 == 0 else f"C{n:05d}", f"{n % 900:05d}",
         str(n % 13), f"{n}.2500", "2026-10-31 23:00:00"]
        for n in range(start, start + count)
    ]  # fmt: skip


@pytest.mark.parametrize("per", [500, 3, 1], ids=["500-rows-a-statement", "3-rows", "1-row"])
def test_the_rows_file_keeps_every_row_and_value_in_order_whatever_the_rows_per_statement(demo_tables, per):
    # Chunks that are, are not, and are less than a whole number of statements (1,001 = 2 x 500 + 1).
    chunks = [_rows(0, 1_001), _rows(1_001, 499), _rows(1_500, 500), _rows(2_000, 1)]
    rows_file = job_rows_file_open(job_id=41, attempt=1, table_name="sales", columns=COLUMNS)
    rows_file.rows_per_statement = per
    try:
        for chunk in chunks:
            written = rows_file.chunk_write(frame=pd.DataFrame(chunk, columns=COLUMNS, dtype=object))
            assert written.inserted == len(chunk)
    finally:
        rows_file.close()
    with job_rows_attached(path=rows_file.path) as schema, transaction.atomic():
        assert rows_file.rows_copy(schema=schema) == 2_001
    stored = table_rows("sales", ", ".join([*COLUMNS, "import_job_id"]))
    expected = [row for chunk in chunks for row in chunk]
    assert [list(row[:-1]) for row in stored] == [
        [
            *row[:2],
            dt.date.fromisoformat(row[2]),
            *row[3:5],
            int(row[5]),
            row[6],
            dt.datetime.fromisoformat(row[7]),
        ]
        for row in expected
    ]
    assert {row[-1] for row in stored} == {41}
    rows_file.path.unlink()


def test_a_wide_table_binds_no_more_values_a_statement_than_sqlite_allows(demo_tables):
    rows_file = job_rows_file_open(job_id=42, attempt=1, table_name="sales", columns=COLUMNS)
    try:
        limit = rows_file.db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        assert rows_file.rows_per_statement * len(COLUMNS) <= limit
        assert rows_file.rows_per_statement == min(500, limit // len(COLUMNS))
    finally:
        rows_file.close()
        rows_file.path.unlink()
