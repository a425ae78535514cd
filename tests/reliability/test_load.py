"""Load, small: concurrent uploads against gunicorn on loopback with two qcluster workers. Every upload is
accepted, every job completes, nothing answers 5xx. (The figures come from `manage.py bench_workers`.)"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from imports.models import ImportJob, JobStatus

from .cluster import post_files, repeated_values, request, rows_of_job, rows_total, sales_csv, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

UPLOADS = 10
ROWS = 500


def test_load_concurrent_uploads_are_all_accepted_and_imported(tmp_path, demo_tables, processes, uploader):
    web = processes.gunicorn(workers=2)
    workers = [processes.cluster(f"w{n}", Q_WORKERS="1") for n in range(2)]
    processes.running(web, *workers)
    files = [
        (f"sales_{n:02d}.csv", sales_csv(tmp_path / f"s{n}.csv", rows=ROWS, tag=f"L{n:02d}").read_bytes())
        for n in range(UPLOADS)
    ]

    def upload(index: int):
        mode = "quick" if index % 5 == 4 else "both"  # some quick checks among the imports, as clients do
        return mode, post_files(web.port, token=uploader.token, files=[files[index]], fields={"mode": mode})

    with ThreadPoolExecutor(max_workers=UPLOADS) as pool:
        answers = list(pool.map(upload, range(UPLOADS)))

    assert [a.status for _, a in answers] == [200] * UPLOADS, [a.body for _, a in answers if a.status != 200]
    assert all(a.body["success"] and a.body["files"][0]["rows"] == ROWS for _, a in answers)
    imported = {a.body["batch_id"] for mode, a in answers if mode == "both"}
    quick = {a.body["batch_id"] for mode, a in answers if mode == "quick"}

    def all_final():
        jobs = list(ImportJob.objects.exclude(status=JobStatus.SKIPPED))
        return jobs if len(jobs) == len(imported) and all(j.is_final for j in jobs) else None

    jobs = wait_for(all_final, timeout=180, what="every upload's import", logs=(web, *workers))
    assert {str(j.batch_id) for j in jobs} == imported and not ImportJob.objects.filter(batch_id__in=quick)
    assert [(j.status, j.success_count, rows_of_job("sales", j.pk)) for j in jobs] == [
        (JobStatus.COMPLETE, ROWS, ROWS)
    ] * len(imported)
    assert rows_total("sales") == ROWS * len(imported) and repeated_values("sales", "dono") == []

    listing = request(
        web.port, "GET", f"/api/jobs?limit={UPLOADS}", headers={"Authorization": f"Token {uploader.token}"}
    )
    assert listing.status == 200
    assert {b["batch_id"]: b["status"] for b in listing.body["data"]} == dict.fromkeys(imported, "completed")
    assert not re.search(r'HTTP/1\.[01]" 5\d\d ', web.log()), "a 5xx answer in the access log"
