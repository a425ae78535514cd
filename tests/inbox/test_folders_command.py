"""`manage.py inbox_scan`, the inbox_poll_task and its django-q2 schedule."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django_q.models import Schedule

from imports.apps import INBOX_POLL_SCHEDULE, inbox_poll_schedule_ensure
from imports.models import ImportJob, InboxScan
from imports.tasks import inbox_poll_task
from tests.reliability.cluster import child_env

from .conftest import DATA

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def test_inbox_scan_once_prints_its_report(inbox):
    inbox.drop("sales_small.csv", (DATA / "sales_small.csv").read_bytes())
    out = io.StringIO()
    call_command("inbox_scan", "--once", stdout=out)
    assert out.getvalue().strip() == (
        "inbox folders: 1 scanned, 0 files taken in 0 batches, 1 settling, 0 moved to processed/failed"
    )
    out = io.StringIO()
    call_command("inbox_scan", "--once", stdout=out)
    assert out.getvalue().startswith(
        "inbox folders: 1 scanned, 1 files taken in 1 batches, 0 settling, 1 moved"
    )
    assert "sales_small.csv" in inbox.outcome("processed")


def test_inbox_poll_task_is_off_without_folder_and_mailbox(settings):
    settings.INBOX_DIR = ""
    settings.INBOX_IMAP_URL = ""
    assert inbox_poll_task() == "inbox: off (INBOX_DIR and INBOX_IMAP_URL are empty)"


def test_inbox_poll_task_goes_on_with_the_folders_when_the_mailbox_part_fails(inbox, settings, caplog):
    # An unreachable mailbox (or, before its module exists, the missing module): logged, the folders done.
    settings.INBOX_IMAP_URL = "imaps://nobody:pw@127.0.0.1:1/INBOX"
    inbox.drop("sales_small.csv", (DATA / "sales_small.csv").read_bytes())
    inbox_poll_task()
    text = inbox_poll_task()
    assert text.startswith("inbox folders: 1 scanned, 1 files taken")
    assert ImportJob.objects.filter(original_filename="sales_small.csv").count() == 1


def test_the_schedule_polls_every_inbox_poll_seconds_rounded_up_to_minutes(settings):
    inbox_poll_schedule_ensure()
    schedule = Schedule.objects.get(name=INBOX_POLL_SCHEDULE)
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
        "imports.tasks.inbox_poll_task",
        Schedule.MINUTES,
        1,
    )
    settings.INBOX_POLL_SECONDS = 150
    inbox_poll_schedule_ensure()
    assert Schedule.objects.get(name=INBOX_POLL_SCHEDULE).minutes == 3
    settings.INBOX_POLL_SECONDS = 5
    inbox_poll_schedule_ensure()
    assert Schedule.objects.filter(name=INBOX_POLL_SCHEDULE).get().minutes == 1


def test_the_schedule_is_there_after_migrate():
    assert Schedule.objects.filter(name=INBOX_POLL_SCHEDULE, func="imports.tasks.inbox_poll_task").exists()


def test_inbox_scan_loops_every_poll_seconds_and_stops_on_sigterm(inbox, tmp_path):
    process = subprocess.Popen(
        [sys.executable, "manage.py", "inbox_scan"],
        cwd=ROOT,
        env=child_env(INBOX_DIR=str(inbox.root), INBOX_POLL_SECONDS="1", INBOX_SETTLE_SECONDS="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and InboxScan.objects.filter(source="31001").count() == 0:
            time.sleep(0.2)
        scan = InboxScan.objects.get(source="31001")
        first = scan.last_scan_at
        while time.monotonic() < deadline:
            scan.refresh_from_db()
            if scan.last_scan_at != first:
                break
            time.sleep(0.2)
        assert scan.last_scan_at > first  # scanned again without being asked
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, out
    assert out.rstrip().endswith("Stopped.") and "Traceback" not in out
