"""Exactly once across a scanner's end: a claim left by an ended process is resumed from its batch id; a move
cut short is finished by the next scan; a claim held by a live scanner is never taken."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid

import pytest
from django.db import connection

from imports.models import (
    BatchSource,
    ImportBatch,
    ImportJob,
    InboxClaim,
    InboxClaimState,
    InboxKind,
    JobStatus,
)
from imports.services.batches import Upload, import_batch_submit
from imports.services.inbox_claims import claim_key

from .conftest import CODE, DATA

pytestmark = pytest.mark.django_db(transaction=True)


def ended_process_id() -> str:
    """The scanner id of a process that ran on this host and has ended."""
    code = (
        "import os; print(os.getpid(), open('/proc/self/stat').read().rsplit(')', 1)[1].split()[19], sep=':')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return f"{socket.gethostname()}:{out.strip()}"


def live_process_id(process: subprocess.Popen) -> str:
    with open(f"/proc/{process.pid}/stat") as stat:
        start = stat.read().rsplit(")", 1)[1].split()[19]
    return f"{socket.gethostname()}:{process.pid}:{start}"


def orphan_claim(inbox, name: str, *, claimed_by: str | None = None, batch_id=None) -> InboxClaim:
    """The claim an ended scanner made of the inbox file `name` before it could submit it."""
    st = (inbox.folder / name).stat()
    return InboxClaim.objects.create(
        kind=InboxKind.FOLDER,
        key=claim_key(CODE, name, st.st_size, st.st_mtime_ns),
        source=CODE,
        name=name,
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
        distributor=inbox.distributor,
        batch_id=batch_id or uuid.uuid4(),
        claimed_by=claimed_by or ended_process_id(),
    )


def sales_rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM sales")
        return cursor.fetchone()[0]


SMALL_ROWS = len((DATA / "sales_small.csv").read_text().splitlines()) - 1


def test_a_claim_of_an_ended_scanner_without_a_batch_is_imported_once_with_its_batch_id(inbox):
    inbox.drop("sales_small.csv", (DATA / "sales_small.csv").read_bytes())
    claim = orphan_claim(inbox, "sales_small.csv")
    # Claimed before: no settling again.
    report = inbox.scan(1)
    assert report.taken == 1 and report.batches == [str(claim.batch_id)]
    (batch,) = ImportBatch.objects.all()
    assert batch.batch_id == claim.batch_id and batch.source == BatchSource.INBOX
    assert ImportJob.objects.filter(original_filename="sales_small.csv").count() == 1
    assert sales_rows() == SMALL_ROWS
    assert inbox.result("processed", "sales_small.csv")["batch_id"] == str(claim.batch_id)
    assert InboxClaim.objects.get().state == InboxClaimState.DONE
    inbox.scan(3)
    assert sales_rows() == SMALL_ROWS and ImportBatch.objects.count() == 1


def test_a_claim_whose_batch_was_made_is_not_submitted_again(inbox):
    inbox.drop("sales_small.csv", (DATA / "sales_small.csv").read_bytes())
    claim = orphan_claim(inbox, "sales_small.csv")
    # The ended scanner submitted its batch, then ended before marking the claim submitted.
    import_batch_submit(
        uploads=[Upload(name="sales_small.csv", chunks=[(inbox.folder / "sales_small.csv").read_bytes()])],
        mode="full",
        dist_id=CODE,
        source=BatchSource.INBOX,
        batch_id=claim.batch_id,
    )
    report = inbox.scan(1)
    assert (report.taken, report.batches, report.finished) == (0, [], 1)
    assert ImportJob.objects.filter(original_filename="sales_small.csv").count() == 1
    assert sales_rows() == SMALL_ROWS
    assert inbox.result("processed", "sales_small.csv")["status"] == JobStatus.COMPLETE


def test_a_batch_left_without_jobs_is_made_again_with_the_same_id(inbox):
    inbox.drop("sales_small.csv", (DATA / "sales_small.csv").read_bytes())
    claim = orphan_claim(inbox, "sales_small.csv")
    ImportBatch.objects.create(batch_id=claim.batch_id, mode="full", source=BatchSource.INBOX, dist_id=CODE)
    inbox.scan(1)
    (batch,) = ImportBatch.objects.all()
    assert batch.batch_id == claim.batch_id
    assert ImportJob.objects.get(original_filename="sales_small.csv").batch_id == claim.batch_id
    assert sales_rows() == SMALL_ROWS and "sales_small.csv" in inbox.outcome("processed")


def test_a_file_left_out_of_its_partial_batch_goes_into_a_new_batch(inbox):
    inbox.drop("sales_small.csv", (DATA / "sales_small.csv").read_bytes())
    inbox.drop("products.csv", (DATA / "products.csv").read_bytes())
    shared = uuid.uuid4()
    sales = orphan_claim(inbox, "sales_small.csv", batch_id=shared)
    products = orphan_claim(inbox, "products.csv", batch_id=shared)
    # The ended scanner's batch got the products file's job only.
    import_batch_submit(
        uploads=[Upload(name="products.csv", chunks=[(inbox.folder / "products.csv").read_bytes()])],
        mode="full",
        dist_id=CODE,
        source=BatchSource.INBOX,
        batch_id=shared,
    )
    report = inbox.scan(1)
    assert report.taken == 1 and len(report.batches) == 1 and report.batches[0] != str(shared)
    sales.refresh_from_db()
    products.refresh_from_db()
    assert str(sales.batch_id) == report.batches[0] and products.batch_id == shared
    assert ImportJob.objects.filter(original_filename="sales_small.csv").count() == 1
    assert ImportJob.objects.filter(original_filename="products.csv").count() == 1
    assert sales_rows() == SMALL_ROWS
    assert {"sales_small.csv", "products.csv"} <= set(inbox.outcome("processed"))


def test_a_claim_of_a_live_scanner_is_left_alone(inbox):
    inbox.drop("sales_small.csv", (DATA / "sales_small.csv").read_bytes())
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        orphan_claim(inbox, "sales_small.csv", claimed_by=live_process_id(other))
        report = inbox.scan(3)
        assert report.taken == 0 and not ImportBatch.objects.exists()
    finally:
        other.kill()
        other.wait()
    # Ended now: the next scan resumes it.
    assert inbox.scan(1).taken == 1 and sales_rows() == SMALL_ROWS


def test_a_move_cut_short_is_finished_by_the_next_scan_without_a_second_import(inbox):
    inbox.drop("sales_small.csv", (DATA / "sales_small.csv").read_bytes())
    inbox.scan(2)
    claim = InboxClaim.objects.get()
    assert claim.state == InboxClaimState.DONE
    moved = inbox.folder / claim.result["moved_to"]
    assert moved.exists()
    # As if the scanner died after the rename, before the claim was marked done (and the result written).
    InboxClaim.objects.filter(pk=claim.pk).update(state=InboxClaimState.SUBMITTED)
    moved.with_name(moved.name + ".result.json").unlink()
    report = inbox.scan(1)
    assert report.finished == 1 and report.taken == 0
    assert InboxClaim.objects.get().state == InboxClaimState.DONE
    assert inbox.result("processed", "sales_small.csv")["status"] == 9
    assert sorted(inbox.outcome("processed")) == ["sales_small.csv", "sales_small.csv.result.json"]
    assert sales_rows() == SMALL_ROWS


def test_a_move_cut_short_before_the_rename_moves_the_file_once(inbox):
    inbox.drop("sales_small.csv", (DATA / "sales_small.csv").read_bytes())
    content = (inbox.folder / "sales_small.csv").read_bytes()
    inbox.scan(2)
    claim = InboxClaim.objects.get()
    moved = inbox.folder / claim.result["moved_to"]
    # Back to the moment between the claim's update (destination chosen) and the rename.
    os.rename(moved, inbox.folder / "sales_small.csv")
    InboxClaim.objects.filter(pk=claim.pk).update(state=InboxClaimState.SUBMITTED)
    inbox.scan(1)
    assert sorted(inbox.outcome("processed")) == ["sales_small.csv", "sales_small.csv.result.json"]
    assert moved.read_bytes() == content and inbox.waiting_files() == []
    assert ImportJob.objects.filter(original_filename="sales_small.csv").count() == 1


def test_a_claimed_file_the_server_cannot_open_is_refused_as_file_unreadable(inbox):
    from imports.services.inbox_folders import FolderScanReport, _claims_submit

    inbox.drop("sales_small.csv", (DATA / "sales_small.csv").read_bytes())
    claim = orphan_claim(inbox, "sales_small.csv", claimed_by="elsewhere:1:1")
    (inbox.folder / "sales_small.csv").unlink()  # gone between the claim and the read
    report = FolderScanReport()
    assert (
        _claims_submit(
            [claim], uuid.uuid4(), distributor=inbox.distributor, folder=inbox.folder, report=report
        )
        == 1
    )
    claim.refresh_from_db()
    assert claim.state == InboxClaimState.DONE and claim.result["error_code"] == "file_unreadable"
    result = inbox.result("failed", "sales_small.csv")
    assert (result["status"], result["batch_id"]) == (2, None)
    assert "left the inbox folder" in result["error"] and not ImportBatch.objects.exists()
