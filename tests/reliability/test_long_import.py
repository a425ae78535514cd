"""While a file of millions of rows imports on a qcluster of two workers, small uploads answer at once (quick
and full mode) and the second worker imports them right away: on SQLite too, where one import used to hold the
only write lock for its whole file. Measured by `manage.py bench_workers --long-rows`, whose figures this reads."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.db import connection

from imports.models import ImportJob
from tableconfig.models import ImportTable

from .cluster import rows_total

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

LONG_ROWS = 2_000_000


def test_long_import_small_uploads_answer_fast_and_are_imported_right_away(
    tmp_path, demo_tables, cluster_broker, admin_user
):
    out = io.StringIO()
    figures = tmp_path / "figures.json"
    call_command(
        "bench_workers",
        *("--skip-latency", "--skip-throughput", "--web-workers", "1", "--upload-rows", "20"),
        *("--long-rows", str(LONG_ROWS), "--long-uploads", "3", "--timeout", "600"),
        *("--dir", str(tmp_path), "--json", str(figures)),
        stdout=out,
        stderr=io.StringIO(),
    )
    report = json.loads(figures.read_text())["long_import"]
    assert "Small uploads during a long import (2,000,000-row file" in out.getvalue()
    assert (report["rows"], report["status"]) == (LONG_ROWS, 9)

    uploads = report["uploads"]
    assert [(u["mode"], u["status"]) for u in uploads] == [("quick", 200), ("full", 202)] * 3
    during = [u for u in uploads if u["during"]]
    # Most answers came while the long file was still importing, and every answer within 2 s.
    assert {u["mode"] for u in during} == {"quick", "full"} and len(during) >= 4, uploads
    assert max(u["ms"] for u in uploads) < 2000, uploads
    # The small files were imported by the other worker, first time round (not by the stale-job scan).
    assert (report["small_jobs"], report["small_jobs_complete"], report["small_attempts_max"]) == (3, 3, 1)
    assert report["last_small_after_long_s"] < 10, report

    # The benchmark's scratch table and its configuration are gone, and the user's sales table was never used.
    assert not ImportJob.objects.exists()
    assert not ImportTable.objects.filter(table_name__startswith="bench_").exists()
    assert not [t for t in connection.introspection.table_names() if t.startswith("bench_")]
    assert rows_total("sales") == 0
