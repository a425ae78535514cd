"""Fixtures for the benchmarks: a user's own `sales` table (rows and a unique column) to compare before and
after a run, and a look at everything a run could leave behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection

from imports.models import ImportBatch, ImportJob, JobHeartbeat, RowVersion
from tableconfig.models import ImportTable
from tableconfig.services import column_update
from tests.imports.conftest import table_rows

USER_ROWS = [
    ("31001", "DO-USER-1", 7, "125000.50"),
    ("31002", "DO-USER-2", -2, "-30000.00"),
    ("42001", "DO-USER-3", 11, "99.99"),
]


@pytest.fixture
def user_sales(transactional_db):
    """The demo `sales` configuration with `dono` made unique, holding three rows of a user's."""
    call_command("load_demo_config", verbosity=0)
    table = ImportTable.objects.get(table_name="sales")
    column_update(column=table.columns.get(column_name="dono"), is_unique=True)
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for row in USER_ROWS:
            cursor.execute(
                f"INSERT INTO {quote('sales')} ({quote('distid')}, {quote('dono')}, {quote('qty')}, "
                f"{quote('amount_jual')}) VALUES (%s, %s, %s, %s)",
                list(row),
            )
    return user_sales_state


def user_sales_state() -> dict:
    """Every row of the user's `sales` table (ids included) and its configuration, to compare."""
    table = ImportTable.objects.get(table_name="sales")
    return {
        "rows": table_rows("sales"),
        "config": (table.updated_at, table.description, table.is_active),
        "columns": list(table.columns.values_list("column_name", "data_type", "is_unique", "max_length")),
    }


def leftovers(*folders: Path) -> dict:
    """What a benchmark run could leave: scratch configurations and tables, jobs, batches, row versions,
    heartbeats, users, and files in `folders`."""
    with connection.cursor() as cursor:
        tables = sorted(t for t in connection.introspection.table_names(cursor) if t.startswith("bench_"))
    return {
        "configs": sorted(
            ImportTable.objects.filter(table_name__startswith="bench_").values_list("table_name", flat=True)
        ),
        "tables": tables,
        "jobs": ImportJob.objects.count(),
        "batches": ImportBatch.objects.count(),
        "row_versions": RowVersion.objects.count(),
        "heartbeats": JobHeartbeat.objects.count(),
        "users": sorted(
            get_user_model().objects.filter(username__startswith="bench-").values_list("username", flat=True)
        ),
        "files": sorted(
            str(p) for folder in folders if folder.exists() for p in folder.rglob("*") if p.is_file()
        ),
    }


NOTHING_LEFT = {
    "configs": [],
    "tables": [],
    "jobs": 0,
    "batches": 0,
    "row_versions": 0,
    "heartbeats": 0,
    "users": [],
    "files": [],
}
