"""Inbox folders with real parts: a writer appending for seconds, a qcluster SIGKILLed between the claim and the
move, two clusters scanning the same inbox. Every file is imported exactly once and moved once."""

from __future__ import annotations

import csv
import os
import threading
import time

import pytest
from django_q.tasks import async_task

from imports.models import BatchSource, ImportBatch, ImportJob, InboxClaim, InboxClaimState, JobStatus
from imports.services.inbox_folders import inbox_folders_scan
from imports.services.jobs import job_progress_get
from imports.services.recovery import jobs_stale_recover
from tests.reliability.cluster import SALES_HEADER, repeated_values, rows_total, sales_csv, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def aged(path, seconds: float = 60):
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def test_a_file_written_slowly_is_taken_only_once_complete(inbox, settings):
    settings.INBOX_SETTLE_SECONDS = 2
    path = inbox.folder / "sales_slow.csv"
    inbox.folder.mkdir(exist_ok=True)
    appends, rows_each = 40, 25

    def writer():
        with path.open("w", newline="") as handle:
            out = csv.writer(handle, lineterminator="\n")
            out.writerow(SALES_HEADER)
            for block in range(appends):  # 40 appends over 6 seconds, each flushed: the size keeps growing
                for n in range(rows_each):
                    i = block * rows_each + n
                    out.writerow(
                        ["31001", f"SLOW-{i:06d}", "2026-10-03", f"C{i:05d}", f"{i % 900:05d}", "2", "10.50",
                         "2026-10-31 23:00:00"]
                    )  # fmt: skip
                handle.flush()
                time.sleep(0.15)

    thread = threading.Thread(target=writer)
    thread.start()
    claimed_while_writing = False
    try:
        while thread.is_alive():
            inbox_folders_scan()
            claimed_while_writing |= InboxClaim.objects.exists()
            time.sleep(0.3)
    finally:
        thread.join()
    assert not claimed_while_writing
    total = appends * rows_each

    def moved():
        inbox_folders_scan()
        return "sales_slow.csv" in inbox.outcome("processed")

    wait_for(moved, timeout=60, what="the file in processed/", interval=0.3)
    (batch,) = ImportBatch.objects.all()
    (job,) = ImportJob.objects.filter(batch_id=batch.batch_id).exclude(original_filename="")
    assert (job.status, job.total_rows, job.success_count) == (JobStatus.COMPLETE, total, total)
    assert rows_total("sales") == total
    result = inbox.result("processed", "sales_slow.csv")
    assert (result["status"], result["rows"], result["imported"], result["batch_id"]) == (
        9,
        total,
        total,
        str(batch.batch_id),
    )
    assert sorted(inbox.outcome("processed")) == ["sales_slow.csv", "sales_slow.csv.result.json"]
    assert InboxClaim.objects.get().state == InboxClaimState.DONE


def _cluster_env(inbox, **extra) -> dict[str, str]:
    return {"INBOX_DIR": str(inbox.root), "INBOX_SETTLE_SECONDS": "1", "INBOX_POLL_SECONDS": "60", **extra}


ROWS = 120_000


def test_a_cluster_sigkilled_between_claim_and_move_imports_the_file_once_after_a_restart(
    inbox, processes, broker, settings
):
    aged(sales_csv(inbox.folder / "sales_big.csv", rows=ROWS, tag="BIG"), 120)
    env = _cluster_env(inbox, IMPORT_CHUNK_ROWS="1000", Q_WORKERS="2")
    first = processes.cluster("first", **env)
    processes.running(first)

    def partly_imported() -> bool:
        async_task("imports.tasks.inbox_poll_task", task_name=f"inbox-poll-{time.monotonic_ns()}")
        job = ImportJob.objects.filter(original_filename="sales_big.csv").first()
        return bool(job and job.status == JobStatus.PROCESSING and 0 < job_progress_get(job) < ROWS)

    wait_for(
        partly_imported, timeout=180, what="the inbox file's import part way", logs=(first,), interval=0.5
    )
    first.kill()  # the whole cluster, SIGKILL: no handler runs
    claim = InboxClaim.objects.get()
    assert claim.state == InboxClaimState.SUBMITTED
    assert inbox.waiting_files() == ["sales_big.csv"] and not inbox.outcome("processed")
    assert ImportJob.objects.get(original_filename="sales_big.csv").status == JobStatus.PROCESSING

    second = processes.cluster("second", **env)
    processes.running(second)
    settings.JOB_STALE_AFTER = 3  # the stale-job scan (every minute in production), run here

    def moved() -> bool:
        jobs_stale_recover()
        async_task("imports.tasks.inbox_poll_task", task_name=f"inbox-poll-{time.monotonic_ns()}")
        return "sales_big.csv" in inbox.outcome("processed")

    wait_for(moved, timeout=300, what="the file in processed/", logs=(second,), interval=2)
    job = ImportJob.objects.get(original_filename="sales_big.csv")
    assert (job.status, job.success_count) == (JobStatus.COMPLETE, ROWS)
    assert job.attempts >= 2
    assert rows_total("sales") == ROWS and repeated_values("sales", "dono") == []
    assert sorted(inbox.outcome("processed")) == ["sales_big.csv", "sales_big.csv.result.json"]
    assert not inbox.outcome("failed") and inbox.waiting_files() == []
    assert ImportBatch.objects.count() == 1
    claim = InboxClaim.objects.get()
    assert claim.state == InboxClaimState.DONE and claim.result["imported"] == ROWS


FILES, FILE_ROWS = 10, 800


def test_two_clusters_scanning_the_same_inbox_take_every_file_once(inbox, processes, broker):
    for n in range(FILES):
        aged(sales_csv(inbox.folder / f"sales_{n:02d}.csv", rows=FILE_ROWS, tag=f"F{n:02d}"), 120)
    env = _cluster_env(inbox, Q_WORKERS="2")
    one, two = processes.cluster("one", **env), processes.cluster("two", **env)
    processes.running(one, two)
    sent = 0

    def scanned(cluster) -> bool:
        return any(task.startswith("inbox-poll-") for _, task in cluster.processing())

    def all_moved_and_both_scanned() -> bool:
        # One cluster's pusher can take the first polls before the other's starts, so polls keep coming until
        # both have scanned (a scan of an emptied folder takes nothing: that is part of the promise too).
        nonlocal sent
        for _ in range(4):  # as many scans at once as the two clusters have workers
            sent += 1
            async_task("imports.tasks.inbox_poll_task", task_name=f"inbox-poll-{sent}")
        moved = len([p for p in inbox.outcome("processed") if p.endswith(".csv")]) == FILES
        return moved and scanned(one) and scanned(two)

    wait_for(
        all_moved_and_both_scanned,
        timeout=240,
        what="every file in processed/ and a scan by each cluster",
        logs=(one, two),
        interval=0.5,
    )
    names = [f"sales_{n:02d}.csv" for n in range(FILES)]
    assert sorted(p for p in inbox.outcome("processed") if p.endswith(".csv")) == names
    assert not inbox.outcome("failed") and inbox.waiting_files() == []
    claims = InboxClaim.objects.all()
    assert sorted(c.name for c in claims) == names
    assert {c.state for c in claims} == {InboxClaimState.DONE}
    jobs = ImportJob.objects.exclude(original_filename="")
    assert sorted(j.original_filename for j in jobs) == names
    assert {j.status for j in jobs} == {JobStatus.COMPLETE}
    assert rows_total("sales") == FILES * FILE_ROWS and repeated_values("sales", "dono") == []
    # The scans after the last move took nothing more.
    assert InboxClaim.objects.count() == FILES
    assert set(ImportBatch.objects.values_list("source", flat=True)) == {BatchSource.INBOX}
