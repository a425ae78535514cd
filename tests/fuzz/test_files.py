"""Generated files (random bytes, every dialect and encoding, random headers, damaged real files) through quick
validation, the full import and POST /api/import: no exception escapes, every job ends in a final status
other than 2 ("unexpected error"), the rows in the table match the job's counts, and the API never answers 500.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django_q.models import Task
from hypothesis import event, given
from hypothesis import strategies as st

from importhub.errors import ImportHubError
from imports.models import ImportJob, JobStatus
from imports.services.batches import Upload, import_batch_submit
from imports.services.importing import import_job_run
from imports.services.quick import file_quick_validate

from .strategies import FUZZ_SETTINGS, dist_ids, file_bytes, file_names

pytestmark = pytest.mark.django_db(transaction=True)

# Status 2 is the engine's "unexpected error": for a file, however bad, it is a bug.
FINAL_FOR_A_FILE = {
    JobStatus.SKIPPED,
    JobStatus.VALIDATION_FAILED,
    JobStatus.PROCESSING_FAILED,
    JobStatus.COMPLETE,
}
API_ANSWERS = {200, 202, 400, 413, 422}


def _job_rows(job_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM {connection.ops.quote_name('sales')} WHERE "
            f"{connection.ops.quote_name('import_job_id')} = %s",
            [job_id],
        )
        return cursor.fetchone()[0]


def _jobs_check(batch_id) -> list[str]:
    """Check every job of the batch; return their outcomes, for the statistics."""
    outcomes = []
    for job in ImportJob.objects.filter(batch_id=batch_id):
        outcomes.append(f"job status {job.status} {job.error_code}".rstrip())
        assert job.status in FINAL_FOR_A_FILE, (job.status, job.error_code, job.error_message)
        if job.status == JobStatus.COMPLETE:
            assert _job_rows(job.id) == job.success_count
            assert job.success_count + job.error_count == job.total_rows == job.processed_rows
        elif job.table_name == "sales":
            assert _job_rows(job.id) == 0
    return outcomes


@FUZZ_SETTINGS
@given(data=file_bytes, name=file_names, dist_id=dist_ids)
def test_quick_validation_answers_every_file(demo_tables, tmp_path, data, name, dist_id):
    path = tmp_path / "upload"
    path.write_bytes(data)

    result = file_quick_validate(path=path, original_name=name, table_name="auto", dist_id=dist_id)

    event(f"quick {result.error_code or 'valid'}")
    if result.valid:
        assert result.table_name == "sales" and result.rows >= 0 and result.error is None
    else:
        assert result.error and result.error_code, result


@FUZZ_SETTINGS
@given(data=file_bytes, name=file_names, table_name=st.sampled_from(["auto", "sales"]))
def test_full_import_ends_every_job_in_a_final_status(demo_tables, data, name, table_name):
    try:
        batch = import_batch_submit(
            uploads=[Upload(name=name, chunks=[data], size=len(data))],
            mode="full",
            table_name=table_name,
            enqueue=False,
        )
    except ImportHubError as exc:
        event(f"refused {exc.code}")
        assert exc.http_status in API_ANSWERS
        return
    for job in batch.jobs:
        if job.status == JobStatus.WAITING:
            import_job_run(job_id=job.id)

    for outcome in _jobs_check(batch.batch_id):
        event(outcome)


@FUZZ_SETTINGS
@given(data=file_bytes, name=file_names, mode=st.sampled_from(["quick", "full", "both"]), dist_id=dist_ids)
def test_import_api_never_answers_500(demo_tables, admin_api, data, name, mode, dist_id):
    upload = SimpleUploadedFile(name, data)

    # The default test profile runs the queued import inline (django-q2 sync), as a worker would.
    response = admin_api.post(
        "/api/import", {"files": [upload], "mode": mode, "dist_id": dist_id}, format="multipart"
    )

    assert response.status_code in API_ANSWERS, response.content[:500]
    body = response.json()
    assert body["success"] is (response.status_code in (200, 202))
    batch_id = body.get("batch_id") or (body.get("data") or {}).get("batch_id")
    for outcome in _jobs_check(batch_id) if batch_id else []:
        event(outcome)
    assert not Task.objects.filter(success=False).exists(), Task.objects.filter(success=False).first().result


HEADER = b"distid,dono,dotanggal,custid,sku,qty,amount_jual,exportdate\n"
GOOD = b"31001,DO1,2026-10-04,C1,S1,1,1.00,\n"
# Sizes the generated files never reach: the csv module's 128 KiB field limit (the head), the reader's 8 MiB
# Arrow block (the import), a head bigger than the 64 KiB sample, thousands of columns, a long blank tail.
BIG = 9 * 1024 * 1024


def _row(value: bytes) -> bytes:
    return b"31001," + value + b",2026-10-04,C1,S1,1,1.00,\n"


EDGE_FILES = [
    pytest.param(
        HEADER + GOOD * 3 + _row(b'"' + b"x" * 200_000 + b'"'), 6, 0, id="field-over-128k-in-the-head"
    ),
    pytest.param(
        HEADER + GOOD * 100 + _row(b'"' + b"x" * BIG + b'"') + GOOD, 9, 1, id="9mib-field-after-the-head"
    ),
    pytest.param(
        HEADER + GOOD * 100 + _row(b"x" * BIG) + GOOD, 9, 1, id="9mib-unquoted-field-after-the-head"
    ),
    pytest.param(
        HEADER + GOOD * 100 + _row(b'"' + b"x" * (6 * 1024 * 1024) + b'"') * 3,
        9,
        3,
        id="three-6mib-fields-after-the-head",  # 18 MiB of rejected values in the job's errors
    ),
    pytest.param(
        HEADER + GOOD * 100 + _row(b'"' + b"x\n" * (BIG // 2) + b'"'),
        9,
        1,
        id="9mib-of-quoted-newlines-after-the-head",  # escaped twice (JSON, then SQL), the value is 18 MiB on the wire
    ),
    pytest.param(HEADER + GOOD * 100 + _row(b'"DO1') + GOOD * 100, 6, 0, id="unclosed-quote-after-the-head"),
    pytest.param(HEADER[:-1] + b"," + b"y" * 70_000 + b"\n" + GOOD * 3, 9, 3, id="70k-header-name"),
    pytest.param(
        HEADER[:-1]
        + b","
        + b",".join(b"c%d" % i for i in range(5000))
        + b"\n"
        + GOOD[:-1]
        + b"," * 5000
        + b"\n",
        9,
        0,
        id="5000-columns",
    ),
    pytest.param(HEADER + GOOD * 2 + b"\n" * 200_000 + GOOD, 9, 0, id="200k-blank-lines"),
    # An ASCII head, then a byte UTF-8 cannot read: the whole-file check reads it as cp1252 (0xFF is 'ÿ').
    pytest.param(HEADER + GOOD * 5000 + _row(b"DO\xff1") + GOOD, 9, 0, id="non-utf8-byte-after-the-head"),
    # 0x81 is no character in cp1252 either: refused in validation with its offset, nothing imported.
    pytest.param(HEADER + GOOD * 5000 + _row(b"DO\x811") + GOOD, 6, 0, id="undecodable-byte-after-the-head"),
    pytest.param((HEADER + GOOD * 3).decode().encode("utf-16") + b"\x00", 6, 0, id="utf-16-odd-length"),
]


@pytest.mark.parametrize(("data", "status", "rejected"), EDGE_FILES)
def test_full_import_of_files_at_the_size_limits(demo_tables, data, status, rejected):
    batch = import_batch_submit(
        uploads=[Upload(name="sales_edge.csv", chunks=[data], size=len(data))],
        mode="full",
        table_name="sales",
        enqueue=False,
    )
    try:
        for job in batch.jobs:
            if job.status == JobStatus.WAITING:
                import_job_run(job_id=job.id)
    finally:
        # A worker's connection the server dropped must not take the next tests down with it.
        if not connection.is_usable():
            connection.close()

    job = ImportJob.objects.get(batch_id=batch.batch_id)
    assert (job.status, job.error_count) == (status, rejected), job.error_message
    _jobs_check(batch.batch_id)
