"""Fixtures for the archive: per-test upload and archive folders, the fake Drive server, and a job whose file
waits to be archived."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from types import SimpleNamespace

import googleapiclient.http
import pytest
from django.utils import timezone
from django_q.models import Schedule

from imports.archive.workflow import TASK, job_archive_run
from imports.models import ArchiveStatus, ImportJob, JobStatus
from imports.services.batches import Upload, import_batch_submit
from imports.services.importing import import_job_run
from tests.imports.conftest import DATA, demo_tables  # noqa: F401 - the demo tables, for imports here

from .drive_server import ROOT_FOLDER, FakeDrive


@pytest.fixture(autouse=True)
def archive_settings(settings, tmp_path):
    """Folders of this test only (laid out as TEST_VAR is, for the tests that start a process), and Drive off."""
    settings.UPLOAD_DIR = tmp_path / "var" / "uploads"
    settings.ARCHIVE_DIR = tmp_path / "var" / "archive"
    settings.ARCHIVE_FAILED_FILES = False
    settings.ARCHIVE_MAX_ATTEMPTS = 5
    settings.ARCHIVE_RETRY_DELAY = 60
    settings.GDRIVE_CREDENTIALS = ""
    settings.GDRIVE_CREDENTIALS_JSON = ""
    settings.GDRIVE_FOLDER_ID = ""
    settings.GDRIVE_IMPERSONATE = ""
    settings.GDRIVE_API_ENDPOINT = ""
    settings.GDRIVE_CA_CERTS = ""
    settings.GDRIVE_SUBFOLDERS = "none"
    settings.GDRIVE_NUM_RETRIES = 2
    return settings


@pytest.fixture
def drive_server(tmp_path):
    server = FakeDrive(tmp_path / "fake-drive")
    yield server
    server.close()


@pytest.fixture
def drive(settings, drive_server) -> FakeDrive:
    """Drive configured as in production, pointed at the fake server."""
    settings.GDRIVE_CREDENTIALS_JSON = json.dumps(drive_server.service_account_info())
    settings.GDRIVE_FOLDER_ID = ROOT_FOLDER
    settings.GDRIVE_API_ENDPOINT = drive_server.api_endpoint
    settings.GDRIVE_CA_CERTS = str(drive_server.ca_path)
    return drive_server


@pytest.fixture
def client_sleeps(monkeypatch) -> list[float]:
    """googleapiclient's backoff sleeps (`time.sleep` as googleapiclient.http sees it), recorded, not slept."""
    sleeps: list[float] = []
    monkeypatch.setattr(googleapiclient.http, "time", SimpleNamespace(sleep=sleeps.append))
    return sleeps


@pytest.fixture
def queued_only(monkeypatch):
    """Tasks are queued (for a cluster that is not running) instead of run inline: the test runs them."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)


def job_imported(name: str = "sales_small.csv", *, dist_id: str = "31001") -> ImportJob:
    """Import a sample file here and now, as `import_files --wait` does; its archive task is queued."""
    batch = import_batch_submit(
        uploads=[Upload(name=name, chunks=[(DATA / name).read_bytes()])],
        mode="full",
        dist_id=dist_id,
        enqueue=False,
        force=True,  # the same sample again and again: not refused as a re-sent file
    )
    job = next(j for j in batch.jobs if j.original_filename == name)
    import_job_run(job_id=job.id)
    job.refresh_from_db()
    return job


@pytest.fixture
def pending_job(demo_tables, queued_only) -> ImportJob:  # noqa: F811 - the fixture imported above
    job = job_imported()
    assert (job.status, job.archive_status) == (JobStatus.COMPLETE, ArchiveStatus.PENDING)
    return job


def pending_path(job: ImportJob) -> Path:
    from django.conf import settings

    return Path(settings.UPLOAD_DIR) / job.stored_filename


def archive_retries_due() -> list[Schedule]:
    return list(Schedule.objects.filter(func=TASK).order_by("next_run"))


def archive_retries_run(store) -> list[int]:
    """What the cluster's scheduler does when a re-try falls due, done now: the task's call, with `store`."""
    ran = []
    for entry in archive_retries_due():
        (job_id,) = ast.literal_eval(entry.args)
        entry.delete()
        job_archive_run(job_id=job_id, store=store)
        ran.append(job_id)
    return ran


def retry_delay(entry: Schedule) -> float:
    return (entry.next_run - timezone.now()).total_seconds()
