"""`manage.py bench_workers`, tiny: it prints its figures and leaves the database and the disk as it found them."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
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

    # The user's sales table is as it was: the benchmark imported into a scratch table of its own.
    assert user_sales() == before
    assert leftovers(tmp_path / "user") == NOTHING_LEFT
    assert list(get_user_model().objects.values_list("username", flat=True)) == [admin_user.username]
    assert not Token.objects.exists()
    ours = ("import-job-", "archive-job-")
    assert not Task.objects.filter(name__startswith="import-job-").exists()
    assert not [q for q in OrmQ.objects.all() if str(q.name()).startswith(ours)]
    assert list(workdir.iterdir()) == []
