"""Archive names fit the file system: `<dist_id>_<name>` within 255 bytes of UTF-8, keeping the prefix and the
extension, a clash's `-2` included; errors of the archive folder that trying again cannot mend fail at once,
saying what to do."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from django.conf import settings

from imports.archive.storage import LocalArchive, archive_name
from imports.archive.workflow import job_archive_run
from imports.models import ArchiveStatus, ImportJob, JobStatus
from tests.imports.conftest import DATA

from .conftest import archive_retries_due, job_imported, pending_path

LONG_NON_ASCII = "Überweisungsbestätigung_" + "é" * 132 + "_März.csv"  # 300 bytes of UTF-8


def utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def archived_files() -> list[Path]:
    root = Path(settings.ARCHIVE_DIR)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.mark.parametrize(
    ("original", "extension"),
    [
        pytest.param("a" * 300 + ".csv", ".csv", id="ascii"),
        pytest.param(LONG_NON_ASCII, ".csv", id="two-byte-characters"),
        pytest.param("销售数据" * 30 + ".txt", ".txt", id="three-byte-characters"),
        pytest.param("📦" * 74 + ".xlsx", ".xlsx", id="four-byte-characters"),
        pytest.param("x" + "é" * 200, "", id="no-extension"),
        pytest.param("minutes." + "b" * 300, "", id="a-dot-is-not-an-extension-that-long"),
    ],
)
def test_archive_name_fits_255_bytes_keeping_prefix_and_extension(original, extension):
    assert utf8_bytes(original) >= 300
    name = archive_name(dist_id="31001", original_name=original)
    assert 250 <= utf8_bytes(name) <= 255
    assert name.startswith("31001_") and name.endswith(extension)
    # Only the end of the name is cut, on a character boundary.
    assert f"31001_{original}".startswith(name.removesuffix(extension))


@pytest.mark.parametrize(
    "original",
    [
        pytest.param("sales_small.csv", id="short"),
        pytest.param("a" * 245 + ".csv", id="just-fits"),
    ],
)
def test_archive_name_that_fits_is_unchanged(original):
    assert archive_name(dist_id="31001", original_name=original) == f"31001_{original}"


def pending_job_named(original: str) -> ImportJob:
    """A complete import whose file waits for the archive, under a long original name (as a ZIP member may be)."""
    job = job_imported()
    assert job.archive_status == ArchiveStatus.PENDING
    ImportJob.objects.filter(pk=job.pk).update(original_filename=original)
    return ImportJob.objects.get(pk=job.pk)


@pytest.mark.django_db(transaction=True)
def test_local_archive_of_a_300_byte_non_ascii_name(demo_tables, queued_only):
    job = pending_job_named(LONG_NON_ASCII)
    job = job_archive_run(job_id=job.id)
    assert (job.status, job.archive_status, job.archive_error) == (JobStatus.COMPLETE, ArchiveStatus.DONE, "")
    (archived,) = archived_files()
    assert archived.relative_to(settings.ARCHIVE_DIR).as_posix() == job.archive_file_id
    # Cut by the file system's 255 bytes (at a character boundary), not by the job's file id column.
    assert 250 <= utf8_bytes(archived.name) <= 255
    assert archived.name.startswith("31001_Überweisungsbestätigung_é") and archived.name.endswith(".csv")
    assert archived.read_bytes() == (DATA / "sales_small.csv").read_bytes()
    assert ImportJob.objects.get(pk=job.pk).archive_file_id == job.archive_file_id


@pytest.mark.django_db(transaction=True)
def test_local_archive_clash_of_long_names_gets_a_suffix_that_fits(demo_tables, queued_only):
    first = job_archive_run(job_id=pending_job_named(LONG_NON_ASCII).id)
    second = job_archive_run(job_id=pending_job_named(LONG_NON_ASCII).id)
    assert (first.archive_status, second.archive_status) == (ArchiveStatus.DONE, ArchiveStatus.DONE)
    names = [Path(first.archive_file_id).name, Path(second.archive_file_id).name]
    assert names[0] != names[1] and names[1].endswith("-2.csv")
    assert names[1].removesuffix("-2.csv").startswith("31001_Überweisungsbestätigung_é")
    assert all(utf8_bytes(n) <= 255 for n in names)
    assert [p.name for p in archived_files()] == sorted(names)


@pytest.mark.django_db(transaction=True)
def test_local_archive_under_a_file_fails_once_saying_what_to_do(demo_tables, queued_only, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the archive folder should be")
    settings.ARCHIVE_DIR = blocker / "archive"  # NotADirectoryError, even for root
    assert settings.ARCHIVE_MAX_ATTEMPTS == 5
    job = job_imported()
    job = job_archive_run(job_id=job.id)
    assert (job.status, job.archive_status, job.archive_attempts) == (
        JobStatus.COMPLETE,
        ArchiveStatus.FAILED,
        1,
    )
    assert archive_retries_due() == []  # not re-tried as if it might mend itself
    assert job.archive_error.startswith("Cannot write sales/")
    assert (
        "set ARCHIVE_DIR to a folder" in job.archive_error and "manage.py archive_retry" in job.archive_error
    )
    assert pending_path(job).read_bytes() == (DATA / "sales_small.csv").read_bytes()  # kept for the retry


@pytest.mark.django_db(transaction=True)
def test_local_archive_path_too_long_fails_once_saying_what_to_do(demo_tables, queued_only, tmp_path):
    settings.ARCHIVE_DIR = tmp_path / ("a-folder-name-longer-than-the-file-system-takes-" * 6)
    job = job_archive_run(job_id=job_imported().id)
    assert (job.archive_status, job.archive_attempts) == (ArchiveStatus.FAILED, 1)
    assert archive_retries_due() == []
    assert "too long for the file system of ARCHIVE_DIR" in job.archive_error
    assert job.notes.endswith(f"; Archive failed: {job.archive_error}")


@pytest.mark.parametrize(
    ("number", "transient", "advice"),
    [
        pytest.param(errno.ENAMETOOLONG, False, "takes 255-byte names", id="name-too-long"),
        pytest.param(errno.EACCES, False, "give the user the worker runs as write access", id="permission"),
        pytest.param(errno.EPERM, False, "give the user the worker runs as write access", id="not-permitted"),
        pytest.param(errno.EROFS, False, "mount it read-write", id="read-only"),
        pytest.param(errno.ENOSPC, False, "free space there", id="disk-full"),
        pytest.param(errno.EDQUOT, False, "raise the quota", id="quota"),
        pytest.param(errno.ENOTDIR, False, "set ARCHIVE_DIR to a folder", id="not-a-folder"),
        pytest.param(errno.EIO, True, "", id="io-error-is-tried-again"),
        pytest.param(errno.ESTALE, True, "", id="stale-nfs-handle-is-tried-again"),
    ],
)
def test_local_archive_write_error_is_permanent_only_when_someone_must_act(
    tmp_path, number, transient, advice
):
    error = LocalArchive(root=tmp_path).write_error(
        Path("sales/2026/01/31001_sales.csv"), OSError(number, "the file system's message")
    )
    assert error.transient is transient
    assert error.message.startswith(
        f"Cannot write sales/2026/01/31001_sales.csv in the archive folder {tmp_path}"
    )
    assert advice in error.message
    assert ("archive_retry" in error.message) is not transient
