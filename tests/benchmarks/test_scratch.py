"""The benchmark's scratch: it never archives (not to Google Drive, not into the user's archive folder), and
it leaves nothing behind, whether it ends, is stopped with SIGTERM, or is killed (then the next run sweeps)."""

import json
import os
import signal
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from benchmarks.processes import ChildProcess, database_url
from benchmarks.scratch import scratch_leftovers_sweep, scratch_run_create, scratch_update_table_create
from imports.models import ImportJob
from tableconfig.models import ImportTable
from tableconfig.services import import_table_create
from tests.archive.drive_server import ROOT_FOLDER, FakeDrive

from .conftest import NOTHING_LEFT, leftovers

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def user_folders(settings, tmp_path) -> Path:
    """The parent's (a user's) upload, archive, media and work folders, in the test's own folder."""
    root = tmp_path / "user"
    for key in ("UPLOAD_DIR", "ARCHIVE_DIR", "MEDIA_ROOT", "IMPORT_WORK_DIR"):
        setattr(settings, key, root / key.lower())
    return root


def test_bench_import_never_archives_even_with_google_drive_configured(
    tmp_path, user_folders, settings, monkeypatch
):
    drive = FakeDrive(tmp_path / "fake-drive")
    try:
        # Drive configured as in production, in the settings and in the environment children inherit.
        drive_settings = {
            "GDRIVE_CREDENTIALS_JSON": json.dumps(drive.service_account_info()),
            "GDRIVE_FOLDER_ID": ROOT_FOLDER,
            "GDRIVE_API_ENDPOINT": drive.api_endpoint,
            "GDRIVE_CA_CERTS": str(drive.ca_path),
        }
        for key, value in drive_settings.items():
            setattr(settings, key, value)
            monkeypatch.setenv(key, value)
        env_archive = tmp_path / "env-archive"
        monkeypatch.setenv("ARCHIVE_DIR", str(env_archive))
        out = StringIO()

        call_command(
            "bench_import",
            rows=3_000,
            quick_sizes="none",
            skip_slow=True,
            dir=str(tmp_path / "bench"),
            stdout=out,
            stderr=StringIO(),
        )

        assert "engine full import" in out.getvalue()
        assert drive.requests == [] and drive.token_claims == [] and drive.stored_files() == []
    finally:
        drive.close()
    assert leftovers(user_folders, env_archive) == NOTHING_LEFT
    assert list((tmp_path / "bench").iterdir()) == []


def _bench_process(tmp_path: Path, *args: str) -> ChildProcess:
    """`manage.py bench_import` in a process (group) of its own, on the test database and test settings."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "importhub.settings.test",
        "DATABASE_URL": database_url(),
        "TEST_VAR": str(tmp_path / "user"),
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "manage.py", "bench_import", "--quick-sizes", "none", "--skip-slow"]
    return ChildProcess(
        [*command, "--dir", str(tmp_path / "bench"), *args], log=tmp_path / "bench.log", env=env
    )


def _importing(bench: ChildProcess, timeout: float = 120) -> None:
    """Wait until the engine's measurement has submitted its job (it imports from then on)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ImportJob.objects.filter(table_name__startswith="bench_").exists():
            return
        assert bench.alive(), bench.log_tail()
        time.sleep(0.05)
    pytest.fail(f"the benchmark did not start importing:\n{bench.log_tail()}")


def _group_gone(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_bench_import_stopped_with_sigterm_mid_import_leaves_nothing(tmp_path):
    bench = _bench_process(tmp_path, "--rows", "300000", "--repeat", "3")
    try:
        _importing(bench)
        assert leftovers()["configs"] != []  # the run's scratch is there while it runs

        bench.process.send_signal(signal.SIGTERM)
        returncode = bench.process.wait(timeout=120)

        log = bench.log()
        assert returncode != 0, log
        assert "Interrupted by SIGTERM: the benchmark's scratch table, jobs and files were removed." in log
        assert _group_gone(bench.pid)  # the measurement it was running was stopped too
    finally:
        bench.stop()
    assert leftovers(tmp_path / "user") == NOTHING_LEFT
    assert list((tmp_path / "bench").iterdir()) == []


def test_bench_import_killed_mid_import_is_swept_by_the_next_run(tmp_path):
    bench = _bench_process(tmp_path, "--rows", "300000", "--repeat", "3")
    try:
        _importing(bench)
        os.killpg(bench.pid, signal.SIGKILL)
        bench.process.wait(timeout=30)
    finally:
        bench.stop()
    left = leftovers()
    (config,) = left["configs"]
    assert config in left["tables"] and left["jobs"] == 1
    assert len(list((tmp_path / "bench").iterdir())) == 1  # the killed run's folder

    out = StringIO()
    call_command(
        "bench_import",
        rows=2_000,
        quick_sizes="none",
        skip_slow=True,
        dir=str(tmp_path / "bench"),
        stdout=out,
        stderr=StringIO(),
    )

    assert f"Removed the scratch of earlier runs that were killed: {config}." in out.getvalue()
    assert leftovers(tmp_path / "user") == NOTHING_LEFT
    assert list((tmp_path / "bench").iterdir()) == []


def test_scratch_sweep_leaves_a_running_run_and_a_users_lookalike_table_alone(tmp_path):
    lookalike = import_table_create(
        table_name="bench_0123abcd_sales", columns=[{"column_name": "sku", "data_type": "str"}]
    )
    run = scratch_run_create(command="test", parent=tmp_path)
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        # As if another process, still running, had made it.
        run.table.description = run.table.description.replace(f"pid={os.getpid()}", f"pid={sleeper.pid}")
        run.table.save()

        assert scratch_leftovers_sweep() == []
        assert run.folder.is_dir()
    finally:
        sleeper.kill()
        sleeper.wait()

    assert scratch_leftovers_sweep() == [run.table_name]
    assert list(ImportTable.objects.values_list("table_name", flat=True)) == [lookalike.table_name]
    assert leftovers()["tables"] == [lookalike.table_name]
    assert not run.folder.exists()


def test_scratch_sweep_stops_the_processes_a_killed_run_left_running(tmp_path):
    run = scratch_run_create(command="test", parent=tmp_path)
    # A child of the run (as bench_workers' qclusters are: a session of its own), its parent gone.
    orphan = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"],
        env=run.child_env(sync=False),
        start_new_session=True,
    )
    gone = subprocess.Popen(["true"])
    gone.wait()
    run.table.description = run.table.description.replace(f"pid={os.getpid()}", f"pid={gone.pid}")
    run.table.save()
    try:
        assert scratch_leftovers_sweep() == [run.table_name]
        assert orphan.wait(timeout=10) == -signal.SIGKILL
    finally:
        orphan.kill()
        orphan.wait()
    assert leftovers() == NOTHING_LEFT
    assert not run.folder.exists()


def test_scratch_sweep_removes_a_killed_runs_update_table_with_its_sales_one(tmp_path):
    run = scratch_run_create(command="test", parent=tmp_path)
    update = scratch_update_table_create(run)
    gone = subprocess.Popen(["true"])
    gone.wait()
    ImportTable.objects.filter(pk__in=[run.table.pk, update.pk]).update(
        description=run.table.description.replace(f"pid={os.getpid()}", f"pid={gone.pid}")
    )
    assert sorted(leftovers()["tables"]) == [run.table_name, f"bench_{run.token}_upd"]

    assert scratch_leftovers_sweep() == [run.table_name, f"bench_{run.token}_upd"]

    assert leftovers() == NOTHING_LEFT
    assert not run.folder.exists()


def test_scratch_sweep_recognises_an_update_table_left_alone(tmp_path):
    run = scratch_run_create(command="test", parent=tmp_path)
    update = scratch_update_table_create(run)
    # As if the run had been killed after its sales configuration was removed, its update one not yet.
    ImportTable.objects.filter(pk=run.table.pk).delete()
    gone = subprocess.Popen(["true"])
    gone.wait()
    update.description = update.description.replace(f"pid={os.getpid()}", f"pid={gone.pid}")
    update.save()

    assert scratch_leftovers_sweep() == [update.table_name]

    assert leftovers() == NOTHING_LEFT
