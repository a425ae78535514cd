"""`manage.py bench_workers`, tiny: it prints its figures and leaves the database and the disk as it found them."""

from __future__ import annotations

import io
import json
import os
import sqlite3

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django_q.models import OrmQ, Task
from rest_framework.authtoken.models import Token

from tests.benchmarks.conftest import NOTHING_LEFT, leftovers, user_sales  # noqa: F401 - the fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_bench_workers_prints_the_figures_and_cleans_up(
    tmp_path,
    user_sales,  # noqa: F811 - the fixture imported above
    cluster_broker,
    admin_user,
    settings,
):
    for key in ("UPLOAD_DIR", "ARCHIVE_DIR", "MEDIA_ROOT", "IMPORT_WORK_DIR"):
        setattr(settings, key, tmp_path / "user" / key.lower())
    before = user_sales()
    out = io.StringIO()
    figures = tmp_path / "figures.json"
    workdir = tmp_path / "work"
    workdir.mkdir()
    call_command(
        "bench_workers",
        *("--uploads", "3", "--upload-rows", "20", "--web-workers", "1"),
        *("--files", "2", "--rows", "300", "--workers", "1,2", "--timeout", "120"),
        *("--dir", str(workdir), "--json", str(figures)),
        stdout=out,
        stderr=io.StringIO(),
    )
    text = out.getvalue()
    assert "POST /api/import, concurrent small uploads" in text
    assert "3x200" in text and "3x202; 3/3 jobs complete" in text
    report = json.loads(figures.read_text())
    assert [(f["mode"], f["statuses"]) for f in report["latency"]] == [
        ("quick", {"200": 3}),
        ("full", {"202": 3}),
    ]
    assert [(f["workers"], f["files"], f["rows"]) for f in report["throughput"]] == [(1, 2, 600), (2, 2, 600)]
    assert all(f["rows_per_second"] > 0 for f in report["throughput"])
    one, two = report["throughput"]
    assert one["speed_up"] == 1
    assert two["speed_up"] == pytest.approx(two["rows_per_second"] / one["rows_per_second"])
    assert f"  2 workers: {two['speed_up']:.2f}x of 1 worker\n" in text

    # What limits scaling, read from this machine and from the server itself.
    machine = report["machine"]
    assert (machine["cpu_count"], machine["cpu_affinity"]) == (os.cpu_count(), len(os.sched_getaffinity(0)))
    assert f"cores: {os.cpu_count()} (os.cpu_count), {len(os.sched_getaffinity(0))} usable" in text
    if connection.vendor == "mysql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT VERSION(), @@innodb_autoinc_lock_mode, @@innodb_buffer_pool_size")
            version, mode, pool = cursor.fetchone()
        assert (machine["autoinc_lock_mode"], machine["buffer_pool_bytes"]) == (mode, pool)
        assert machine["server"].endswith(" " + version.split("-")[0])
        assert f"database: {machine['server']} on this machine; innodb_autoinc_lock_mode={mode}, " in text
        lifted = "innodb_autoinc_lock_mode=2 in the server's my.cnf [mysqld] lifts it"
        assert (lifted in text) == (mode in (0, 1))
    else:
        assert machine["autoinc_lock_mode"] is None
        assert (
            f"database: SQLite {sqlite3.sqlite_version} on this machine; innodb_autoinc_lock_mode: does not "
            in text
        )
    shared = "the workers and the database share the cores"
    assert (shared in text) == (two["speed_up"] < 1 and machine["cpu_affinity"] <= 3)

    # The user's sales table is as it was: the benchmark imported into a scratch table of its own.
    assert user_sales() == before
    assert leftovers(tmp_path / "user") == NOTHING_LEFT
    assert list(get_user_model().objects.values_list("username", flat=True)) == [admin_user.username]
    assert not Token.objects.exists()
    ours = ("import-job-", "archive-job-")
    assert not Task.objects.filter(name__startswith="import-job-").exists()
    assert not [q for q in OrmQ.objects.all() if str(q.name()).startswith(ours)]
    assert list(workdir.iterdir()) == []
