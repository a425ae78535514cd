"""A benchmark run's scratch: its own table configuration (made through the tableconfig services, never a
user's), its folder, the settings its child processes run with, and the removal of all of it.

Every run makes `bench_<token>_sales` (and, for the update path's case, `bench_<token>_upd`, whose order
number is unique), marked in its description, and every table, job, batch, user and file it makes carries the
same token. The run removes them at the end (also on SIGINT and SIGTERM, see
`interrupts_raised`); a run that was killed outright is swept by the next one (`scratch_leftovers_sweep`).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Q
from django.test.utils import override_settings
from django.utils import timezone
from django_q.models import OrmQ, Schedule, Task

from importhub.errors import ImportHubError
from imports.models import ImportBatch, ImportJob, JobHeartbeat, RowVersion
from tableconfig.models import DuplicatePolicy, ImportTable
from tableconfig.schema import physical_model_build, table_exists
from tableconfig.services import import_table_create

logger = logging.getLogger(__name__)

CHILD_SETTINGS = "benchmarks.child_settings"
MARKER = "importhub benchmark scratch table"
FOLDER_PREFIX = "importhub-bench-"
_SCRATCH_NAME_RE = re.compile(r"^bench_([0-9a-f]{8})_(?:sales|upd)$")
_ORIGIN_RE = re.compile(r"^host=(?P<host>\S*) pid=(?P<pid>\d+)$", re.MULTILINE)
_FOLDER_RE = re.compile(r"^folder=(?P<folder>.+)$", re.MULTILINE)
# A leftover of a run on another machine cannot be asked whether it still runs: it is swept once this old.
FOREIGN_LEFTOVER_AGE = timedelta(hours=6)

DATE_FORMATS = "%Y-%m-%d|%d/%m/%Y"
DATETIME_FORMATS = "%Y-%m-%d %H:%M:%S|%Y-%m-%d %H:%M|%d/%m/%Y %H:%M:%S|%d/%m/%Y %H:%M"
# The generated sales file's columns, typed like the demo `sales` table (its roles included, so the engine
# runs its period summary), but defined here: the benchmark never reads a user's configuration.
SALES_COLUMNS_CONFIG: list[dict] = [
    {"column_name": "distid", "data_type": "str", "is_mandatory": True, "role": "distributor"},
    {"column_name": "dono", "data_type": "str", "is_mandatory": True},
    {
        "column_name": "dotanggal",
        "data_type": "date",
        "is_mandatory": True,
        "role": "period",
        "date_format": DATE_FORMATS,
    },
    {"column_name": "custid", "data_type": "str", "is_mandatory": True},
    {"column_name": "sku", "data_type": "str", "is_mandatory": True},
    {"column_name": "qty", "data_type": "int", "is_mandatory": True},
    {"column_name": "amount_jual", "data_type": "decimal", "is_mandatory": True, "role": "amount"},
    {
        "column_name": "exportdate",
        "data_type": "datetime",
        "role": "export_date",
        "date_format": DATETIME_FORMATS,
    },
]


# The update path's table: the same columns, its order number unique per row, a row already there updated.
UPDATE_COLUMNS_CONFIG: list[dict] = [
    {**column, "is_unique": True, "max_length": 20} if column["column_name"] == "dono" else column
    for column in SALES_COLUMNS_CONFIG
]


class BenchInterrupted(ImportHubError):
    code = "bench_interrupted"


@dataclass
class ScratchRun:
    """One run's scratch: its token, its folder and its table configuration."""

    token: str
    folder: Path
    table: ImportTable
    swept: list[str] = field(default_factory=list)  # leftovers of killed runs removed before this one

    @property
    def table_name(self) -> str:
        return self.table.table_name

    @property
    def queue(self) -> str:
        """The django-q2 queue of the run's children: no user's worker takes their tasks."""
        return f"{FOLDER_PREFIX}{self.token}"

    @property
    def username(self) -> str:
        return f"bench-{self.token}"

    def physical_name(self, purpose: str) -> str:
        """A scratch table of the run besides its configured one (a baseline's)."""
        return f"bench_{self.token}_{purpose}"

    @property
    def folders(self) -> dict[str, Path]:
        """Where the run's children (and the parent, where it writes) keep uploads, archive and work files."""
        return {
            "UPLOAD_DIR": self.folder / "uploads",
            "ARCHIVE_DIR": self.folder / "archive",
            "MEDIA_ROOT": self.folder / "media",
            "IMPORT_WORK_DIR": self.folder / "work",
        }

    def child_env(self, *, sync: bool, **extra: str) -> dict[str, str]:
        """The environment of a child process: the parent's settings and database under CHILD_SETTINGS, which
        puts every folder in the run's folder, empties GDRIVE_* and gives the children a queue of their own;
        with `sync`, tasks (the archive's) run inline in the child."""
        parent = settings.SETTINGS_MODULE or os.environ["DJANGO_SETTINGS_MODULE"]
        if parent == CHILD_SETTINGS:
            parent = os.environ["BENCH_PARENT_SETTINGS"]
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": CHILD_SETTINGS,
            "BENCH_PARENT_SETTINGS": parent,
            "BENCH_SCRATCH_DIR": str(self.folder),
            "BENCH_QUEUE": self.queue,
            "BENCH_Q_SYNC": "1" if sync else "0",
            # django-q2 reads it at start; equal to the queue it changes nothing.
            "Q_CLUSTER_NAME": self.queue,
            "GDRIVE_CREDENTIALS": "",
            "GDRIVE_CREDENTIALS_JSON": "",
            "GDRIVE_FOLDER_ID": "",
            "DEBUG": "false",
            "PYTHONUNBUFFERED": "1",
            **{key: str(path) for key, path in self.folders.items()},
        }
        env.update(extra)
        return env


def scratch_run_create(*, command: str, parent: Path | None = None) -> ScratchRun:
    """Make a run's folder (in `parent`, else the system's temporary folder) and its scratch table."""
    token = uuid.uuid4().hex[:8]
    folder = Path(parent or tempfile.gettempdir()) / f"{FOLDER_PREFIX}{token}"
    folder.mkdir(parents=True)
    for path in ScratchRun(token=token, folder=folder, table=ImportTable()).folders.values():
        path.mkdir()
    description = (
        f"{MARKER} of `manage.py {command}`: removed at the end of the run, or by the next benchmark run if "
        f"this one was killed. Safe to delete.\nhost={socket.gethostname()} pid={os.getpid()}\nfolder={folder}"
    )
    try:
        table = import_table_create(
            table_name=f"bench_{token}_sales",
            display_name=f"Benchmark scratch {token}",
            description=description,
            columns=SALES_COLUMNS_CONFIG,
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return ScratchRun(token=token, folder=folder, table=table)


def scratch_update_table_create(run: ScratchRun) -> ImportTable:
    """The run's second scratch configuration, `bench_<token>_upd`: the sales columns with `dono` unique and a
    duplicate key updating the row in place; marked like the first, so a killed run's is swept with it."""
    return import_table_create(
        table_name=run.physical_name("upd"),
        display_name=f"Benchmark scratch {run.token} (update path)",
        description=run.table.description,
        columns=UPDATE_COLUMNS_CONFIG,
        on_duplicate=DuplicatePolicy.UPDATE,
    )


def scratch_rows_remove(run: ScratchRun) -> None:
    """Empty the run's scratch table and remove its jobs (with their batches, row versions, heartbeats and
    task records) and their files, keeping the table itself: between two measurements."""
    _jobs_remove(run.token)
    if table_exists(run.table_name):
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(run.table_name)}")
    for path in run.folders.values():
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True, exist_ok=True)


def scratch_run_remove(run: ScratchRun) -> None:
    """Remove everything the run made: its jobs and their records, users, tables, folder, configuration."""
    _token_remove(run.token, folder=run.folder)


def scratch_leftovers_sweep() -> list[str]:
    """Remove the scratch of earlier runs that were killed before they could; return their table names.

    A scratch table is recognised by its name (bench_<8 hex>_sales, or bench_<8 hex>_upd for the update
    path's) and the marker in its description; one whose run still goes on (its process is alive on this
    machine) is left alone. A run's tables go together: all of its token's scratch is removed at once."""
    swept = []
    removed: set[str] = set()
    tables = ImportTable.objects.filter(table_name__startswith="bench_", description__startswith=MARKER)
    for table in tables.order_by("table_name"):
        match = _SCRATCH_NAME_RE.match(table.table_name)
        if not match or _still_running(table):
            continue
        token = match.group(1)
        if token not in removed:
            folder = _FOLDER_RE.search(table.description)
            _children_kill(token)
            _token_remove(token, folder=Path(folder.group("folder")) if folder else None)
            removed.add(token)
        swept.append(table.table_name)
    return swept


def _still_running(table: ImportTable) -> bool:
    origin = _ORIGIN_RE.search(table.description)
    if origin is None or origin.group("host") != socket.gethostname():
        return timezone.now() - table.created_at < FOREIGN_LEFTOVER_AGE
    pid = int(origin.group("pid"))
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _children_kill(token: str) -> None:
    """SIGKILL the child processes a killed run left running on this machine (bench_workers' gunicorn and
    qclusters run in sessions of their own), recognised by the run's queue in their environment."""
    mark = f"BENCH_QUEUE={FOLDER_PREFIX}{token}".encode()
    for entry in Path("/proc").glob("[0-9]*"):
        if int(entry.name) == os.getpid():
            continue
        try:
            environment = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if mark in environment:
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except ProcessLookupError:
                pass


def _jobs_remove(token: str) -> None:
    prefix = f"bench_{token}_"
    jobs = ImportJob.objects.filter(
        Q(table__table_name__startswith=prefix) | Q(table_name__startswith=prefix)
    )
    ids = list(jobs.values_list("id", flat=True))
    batch_ids = set(jobs.values_list("batch_id", flat=True))
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        names = [f"{kind}-job-{job_id}" for job_id in part for kind in ("import", "archive")]
        Task.objects.filter(name__in=names).delete()
        for name in names:
            Schedule.objects.filter(name__startswith=f"{name}-retry-").delete()
        RowVersion.objects.filter(job_id__in=part).delete()
        JobHeartbeat.objects.filter(job_id__in=part).delete()
        ImportJob.objects.filter(id__in=part).delete()
    RowVersion.objects.filter(table_name__startswith=prefix).delete()
    # A quick-mode batch has no jobs, but it names the table.
    ImportBatch.objects.filter(Q(batch_id__in=batch_ids) | Q(table_name__startswith=prefix)).delete()
    # The queue of the run's children: tasks they never took.
    OrmQ.objects.filter(key=f"{FOLDER_PREFIX}{token}").delete()


def _token_remove(token: str, *, folder: Path | None) -> None:
    _jobs_remove(token)
    get_user_model().objects.filter(username=f"bench-{token}").delete()
    prefix = f"bench_{token}_"
    with connection.cursor() as cursor:
        tables = [t for t in connection.introspection.table_names(cursor) if t.startswith(prefix)]
    for table in tables:
        with connection.schema_editor() as editor:
            editor.delete_model(physical_model_build(table, []))
    if folder is not None and folder.name == f"{FOLDER_PREFIX}{token}":
        shutil.rmtree(folder, ignore_errors=True)
    # Last: while the configuration is there, the next run's sweep finds what is left.
    ImportTable.objects.filter(table_name__startswith=prefix).delete()


@contextmanager
def scratch_run(*, command: str, parent: Path | None = None) -> Iterator[ScratchRun]:
    """Sweep the leftovers of killed runs, make this run's scratch, and remove it whatever happens: at the end,
    on an error, on SIGINT or SIGTERM (which raise BenchInterrupted; a second one while cleaning up is
    ignored). A SIGKILL leaves it to the next run's sweep."""
    with _interrupts_raised():
        swept = scratch_leftovers_sweep()
        if swept:
            logger.warning(
                "Removed the scratch of earlier benchmark runs that were killed: %s", ", ".join(swept)
            )
        run = scratch_run_create(command=command, parent=parent)
        run.swept = swept
        try:
            # Its generated files name no distributor: the run's own uploads are open to any dist_id, whatever
            # the installation requires of its users' uploads (the children's settings say the same).
            with override_settings(DISTRIBUTORS_REQUIRED="off"):
                yield run
        finally:
            _interrupts_ignore()
            scratch_run_remove(run)


def _interrupts_ignore() -> None:
    if threading.current_thread() is threading.main_thread():
        for each in (signal.SIGINT, signal.SIGTERM):
            signal.signal(each, signal.SIG_IGN)


@contextmanager
def _interrupts_raised() -> Iterator[None]:
    """SIGINT and SIGTERM raise BenchInterrupted, once; the handlers before are back afterwards. Only in the
    main thread, where Python runs signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raised(signum, frame):
        _interrupts_ignore()
        raise BenchInterrupted(
            f"Interrupted by {signal.Signals(signum).name}: the benchmark's scratch table, jobs and files were "
            "removed."
        )

    previous = {each: signal.signal(each, raised) for each in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)
