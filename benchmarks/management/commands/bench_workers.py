"""Load and scale figures: /api/import latency under concurrent uploads through gunicorn, and import throughput
of a batch with 1 vs 2 (or more) qcluster workers. Runs real processes on loopback, on a scratch configuration
of its own with a task queue of its own (benchmarks/scratch.py); removes what it made."""

from __future__ import annotations

import csv
import http.client
import io
import json
import math
import os
import socket
import sqlite3
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection
from django.test.utils import override_settings
from django_q.conf import Conf
from rest_framework.authtoken.models import Token

from benchmarks.bench import sales_file_write
from benchmarks.processes import ChildProcess, database_url, free_port
from benchmarks.scratch import BenchInterrupted, ScratchRun, scratch_rows_remove, scratch_run
from imports.models import ArchiveStatus, ImportJob, JobStatus
from imports.services.batches import Upload, import_batch_submit, import_job_enqueue
from imports.services.jobs import job_progress_get

SALES_HEADER = ["distid", "dono", "dotanggal", "custid", "sku", "qty", "amount_jual", "exportdate"]


class BenchFailed(Exception):
    pass


@dataclass
class LatencyFigures:
    mode: str
    requests: int
    concurrency: int
    statuses: dict[str, int]
    p50_ms: float
    p95_ms: float
    max_ms: float
    requests_per_second: float
    jobs_complete: int | None = None
    jobs_final_seconds: float | None = None


@dataclass
class ThroughputFigures:
    workers: int
    files: int
    rows: int
    seconds: float
    rows_per_second: float
    # rows/s over the 1-worker run's (or the first run's, when 1 is not among --workers).
    speed_up: float | None = None


@dataclass
class MachineFigures:
    """What limits scaling: the cores the workers (and a database on this machine) share, and the server's
    auto-increment lock mode, under which concurrent LOAD DATA into one table may queue."""

    cpu_count: int | None  # os.cpu_count()
    cpu_affinity: int  # cores this process may run on: len(os.sched_getaffinity(0))
    server: str  # "MariaDB 10.11.19", "SQLite 3.40.1"
    database_local: bool  # SQLite, or a MySQL server on loopback or a socket: it shares these cores
    autoinc_lock_mode: int | None = None  # @@innodb_autoinc_lock_mode, MySQL/MariaDB only
    buffer_pool_bytes: int | None = None  # @@innodb_buffer_pool_size
    binlog_format: str | None = None  # @@binlog_format, when the binary log is on
    load_before: list[float] = field(default_factory=list)  # os.getloadavg() before the batch runs
    load_after: list[float] = field(default_factory=list)

    def lines(self) -> list[str]:
        where = "on this machine" if self.database_local else "on another machine"
        out = [
            f"  cores: {self.cpu_count} (os.cpu_count), {self.cpu_affinity} usable (sched_getaffinity); "
            f"load average {_load_text(self.load_before)} before, {_load_text(self.load_after)} after",
        ]
        if self.autoinc_lock_mode is None and self.server.startswith("SQLite"):
            out.append(
                f"  database: {self.server} {where}; innodb_autoinc_lock_mode: does not apply (SQLite has one "
                "writer at a time)"
            )
            return out
        mode = "unknown" if self.autoinc_lock_mode is None else str(self.autoinc_lock_mode)
        line = f"  database: {self.server} {where}; innodb_autoinc_lock_mode={mode}"
        if self.buffer_pool_bytes is not None:
            line += f", innodb_buffer_pool_size={self.buffer_pool_bytes / 1024**2:,.0f} MiB"
        line += f", binlog_format={self.binlog_format}" if self.binlog_format else ", binary log off"
        out.append(line)
        return out


def scaling_notes(machine: MachineFigures, throughput: list[ThroughputFigures]) -> list[str]:
    """One line for each limit the figures point at: shared cores when more workers were slower, and the
    auto-increment lock mode that makes concurrent LOAD DATA into one table wait."""
    notes = []
    base = throughput_base(throughput).workers
    slower = [f.workers for f in throughput if f.workers > base and f.speed_up is not None and f.speed_up < 1]
    # The database on this machine takes a core of its own while the workers load.
    if slower and machine.database_local and machine.cpu_affinity <= max(slower) + 1:
        notes.append(
            f"  {max(slower)} workers were slower than {base} on {machine.cpu_affinity} cores: the workers and "
            "the database share the cores (more workers pay off on machines of their own, against a database "
            "with spare cores)."
        )
    if machine.autoinc_lock_mode in (0, 1):
        advice = (
            f"  innodb_autoinc_lock_mode={machine.autoinc_lock_mode}: concurrent LOAD DATA into one table wait for "
            "the table's auto-increment lock; innodb_autoinc_lock_mode=2 in the server's my.cnf [mysqld] lifts it "
            "(it needs row-based binary logging: binlog_format=ROW, or MariaDB's default MIXED, is fine"
        )
        if machine.binlog_format == "STATEMENT":
            advice += "; this server logs STATEMENT: change binlog_format first"
        notes.append(advice + ").")
    elif machine.autoinc_lock_mode == 2:
        notes.append(
            "  innodb_autoinc_lock_mode=2: concurrent LOAD DATA into one table do not wait for an auto-increment "
            "lock."
        )
    return notes


def _load_text(load: list[float]) -> str:
    return "/".join(f"{v:.2f}" for v in load) if load else "-"


def machine_describe() -> MachineFigures:
    """The cores of this machine and the database server's version and settings, read from the server."""
    db = connection.settings_dict
    if connection.vendor != "mysql":
        return MachineFigures(
            cpu_count=os.cpu_count(),
            cpu_affinity=len(os.sched_getaffinity(0)),
            server=f"SQLite {sqlite3.sqlite_version}",
            database_local=True,
        )
    host = db.get("HOST") or ""
    figures = MachineFigures(
        cpu_count=os.cpu_count(),
        cpu_affinity=len(os.sched_getaffinity(0)),
        server="MySQL",
        database_local=host in ("", "localhost", "127.0.0.1", "::1") or host.startswith("/"),
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT VERSION(), @@log_bin, @@binlog_format")
        version, log_bin, binlog_format = cursor.fetchone()
        figures.server = f"{'MariaDB' if connection.mysql_is_mariadb else 'MySQL'} {version.split('-')[0]}"
        figures.binlog_format = binlog_format if log_bin else None
        try:
            cursor.execute("SELECT @@innodb_autoinc_lock_mode, @@innodb_buffer_pool_size")
        except DatabaseError:  # a server without InnoDB
            return figures
        mode, pool = cursor.fetchone()
        figures.autoinc_lock_mode, figures.buffer_pool_bytes = int(mode), int(pool)
    return figures


@dataclass
class SmallUpload:
    mode: str
    status: int
    ms: float
    during: bool  # the long import was still processing when the answer came


@dataclass
class LongImportFigures:
    rows: int
    workers: int
    seconds: float  # the long file, from upload to final
    rows_per_second: float
    status: int
    uploads: list[SmallUpload] = field(default_factory=list)
    small_jobs: int = 0
    small_jobs_complete: int = 0
    small_attempts_max: int = 0
    # The last small full-mode job's completion minus the long job's (negative: it finished first).
    last_small_after_long_s: float | None = None

    def mode_line(self, mode: str) -> str:
        during = [u.ms for u in self.uploads if u.mode == mode and u.during]
        answers: dict[int, int] = {}
        for u in self.uploads:
            if u.mode == mode:
                answers[u.status] = answers.get(u.status, 0) + 1
        text = ", ".join(f"{n}x{code}" for code, n in sorted(answers.items()))
        if not during:
            return f"  {mode:<6}{0:>8}  (none answered while the long file was importing)  {text}"
        return f"  {mode:<6}{len(during):>8}{percentile(during, 50):>9.0f}{max(during):>9.0f}  {text}"


@dataclass
class Report:
    database: str
    broker: str
    web_workers: int
    latency: list[LatencyFigures] = field(default_factory=list)
    throughput: list[ThroughputFigures] = field(default_factory=list)
    machine: MachineFigures | None = None  # read with the throughput part
    long_import: LongImportFigures | None = None

    def lines(self) -> list[str]:
        out = [f"bench_workers on {self.database}, broker {self.broker}, gunicorn -w {self.web_workers}", ""]
        if self.latency:
            out.append("POST /api/import, concurrent small uploads")
            out.append(
                f"  {'mode':<6}{'requests':>9}{'conc.':>7}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'req/s':>8}  answers"
            )
        for f in self.latency:
            answers = ", ".join(f"{n}x{code}" for code, n in sorted(f.statuses.items()))
            line = (
                f"  {f.mode:<6}{f.requests:>9}{f.concurrency:>7}{f.p50_ms:>9.0f}{f.p95_ms:>9.0f}{f.max_ms:>9.0f}"
                f"{f.requests_per_second:>8.1f}  {answers}"
            )
            if f.jobs_complete is not None:
                line += f"; {f.jobs_complete}/{f.requests} jobs complete, all final after {f.jobs_final_seconds:.1f}s"
            out.append(line)
        if self.throughput:
            out += ["", "Import of one batch (time from queueing to the last job final)"]
            out.append(
                f"  {'workers':>7}{'files':>7}{'rows':>11}{'seconds':>9}{'rows/s':>10}{'speed-up':>10}"
            )
            for f in self.throughput:
                out.append(
                    f"  {f.workers:>7}{f.files:>7}{f.rows:>11,}{f.seconds:>9.1f}{f.rows_per_second:>10,.0f}"
                    f"{f.speed_up:>9.2f}x"
                )
            base = throughput_base(self.throughput)
            for f in self.throughput:
                if f is not base:
                    out.append(
                        f"  {f.workers} workers: {f.speed_up:.2f}x of {base.workers} "
                        f"worker{'s' if base.workers > 1 else ''}"
                    )
            if self.machine:
                out += self.machine.lines() + scaling_notes(self.machine, self.throughput)
        if self.long_import:
            f = self.long_import
            out += [
                "",
                f"Small uploads during a long import ({f.rows:,}-row file, one qcluster of {f.workers} workers)",
                f"  {'mode':<6}{'during':>8}{'p50 ms':>9}{'max ms':>9}  answers",
                f.mode_line("quick"),
                f.mode_line("full"),
                f"  long file: status {f.status}, {f.seconds:.1f}s ({f.rows_per_second:,.0f} rows/s); small full "
                f"imports: {f.small_jobs_complete}/{f.small_jobs} complete, at most {f.small_attempts_max} "
                f"attempt(s), the last {f.last_small_after_long_s:+.1f}s after the long file",
            ]
        return out


def throughput_base(figures: list[ThroughputFigures]) -> ThroughputFigures:
    """The run the others are compared to: 1 worker, or the first run when 1 is not among --workers."""
    return next((f for f in figures if f.workers == 1), figures[0])


def throughput_compare(figures: list[ThroughputFigures]) -> list[ThroughputFigures]:
    """Each run's speed-up over the base run's rows/s."""
    base = throughput_base(figures).rows_per_second
    for f in figures:
        f.speed_up = f.rows_per_second / base
    return figures


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def sales_file_bytes(*, rows: int, tag: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SALES_HEADER)
    for n in range(rows):
        writer.writerow(
            ["31001", f"{tag}-{n:07d}", f"2026-10-{1 + n % 28:02d}", f"C{n % 977:05d}", f"{n % 900:05d}",
             str(1 + n % 13), f"{n % 5000}.25", "2026-10-31 23:00:00"]
        )  # fmt: skip
    return out.getvalue().encode()


def wait_until(predicate, *, timeout: float, what: str, children: list[ChildProcess], interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        for child in children:
            if child.process.poll() is not None:
                raise BenchFailed(
                    f"{child.log_path.name} exited while waiting for {what}:\n{child.log_tail()}"
                )
        time.sleep(interval)
    tails = "\n".join(f"--- {c.log_path.name}\n{c.log_tail()}" for c in children)
    raise BenchFailed(f"timed out after {timeout:.0f}s waiting for {what}\n{tails}")


def post_import(
    port: int, *, token: str, name: str, content: bytes, mode: str, table: str
) -> tuple[int, dict, float]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="mode"\r\n\r\n{mode}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="table_name"\r\n\r\n{table}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {
        "Authorization": f"Token {token}",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Accept": "application/json",
    }
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        conn.request("POST", "/api/import", body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    seconds = time.perf_counter() - started
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = {}
    return response.status, parsed, seconds


class Command(BaseCommand):
    help = (
        "Load and scale figures. (1) --uploads small uploads (--upload-rows sales rows each, --concurrency at "
        "a time, default all) to "
        "POST /api/import through gunicorn (--web-workers) on a free loopback port: latency p50/p95 in quick "
        "mode, then in full mode with 2 qcluster workers running (every upload accepted, no 5xx, every job "
        "complete). (2) A batch of --files generated sales files of --rows rows imported by each number of "
        "qcluster workers in --workers (one qcluster process of 1 worker each, as separate machines): rows/s "
        "from queueing to the last job final and the speed-up over 1 worker, with this machine's cores, the "
        "database server's version and (MySQL/MariaDB) innodb_autoinc_lock_mode, and a line for each limit "
        "the figures point at (cores shared with the database, the auto-increment lock). Uses the database "
        "and broker of the current settings (DATABASE_URL, REDIS_URL; run it on a scratch database: DATABASE_URL=... manage.py migrate first). "
        "It creates a temporary user and token and a scratch configuration of its own (bench_<token>_sales, "
        "made like the demo sales table) that every upload names; its processes keep uploads, archive (never "
        "Google Drive) and error files in its scratch folder and take tasks from a queue of their own; at the "
        "end (also on Ctrl-C or SIGTERM) it stops them and removes its jobs, tasks, user, table and folder; a "
        "killed run's leftovers are removed by the next run. No user's table, file or archive is touched. "
        "Example: DATABASE_URL=mysql://root@127.0.0.1:3306/scratch "
        "manage.py bench_workers --files 20 --rows 50000 --workers 1,2"
    )

    def add_arguments(self, parser):
        parser.add_argument("--uploads", type=int, default=50, help="Uploads per mode (50).")
        parser.add_argument(
            "--concurrency", type=int, default=0, help="Uploads in flight at once (default: all of them)."
        )
        parser.add_argument("--upload-rows", type=int, default=100, help="Rows in each small upload (100).")
        parser.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes (2).")
        parser.add_argument("--files", type=int, default=20, help="Files in the throughput batch (20).")
        parser.add_argument("--rows", type=int, default=50_000, help="Rows in each batch file (50000).")
        parser.add_argument(
            "--workers", default="1,2", help="qcluster worker counts to compare, comma-separated (1,2)."
        )
        parser.add_argument(
            "--skip-latency", action="store_true", help="Leave out the upload latency part (1)."
        )
        parser.add_argument("--skip-throughput", action="store_true", help="Leave out the batch part (2).")
        parser.add_argument(
            "--long-rows",
            type=int,
            default=0,
            help="(3) Also import one file of this many rows with a qcluster of 2 workers and, while it "
            "imports, time small uploads (--long-uploads of each mode, one at a time): on SQLite they must not "
            "wait for the long file. 0 (default) leaves it out; 2000000 is a good size.",
        )
        parser.add_argument(
            "--long-uploads", type=int, default=5, help="Small uploads per mode during the long import (5)."
        )
        parser.add_argument("--timeout", type=float, default=1800, help="Seconds to wait for any one step.")
        parser.add_argument("--json", metavar="PATH", help="Also write the figures to this JSON file.")
        parser.add_argument(
            "--dir",
            metavar="PATH",
            help="Parent folder of the temporary folder (default var/, the disk uploads normally go to).",
        )

    def handle(self, *args, **options):
        try:
            counts = [int(n) for n in options["workers"].split(",") if n.strip()]
        except ValueError:
            raise CommandError("--workers takes numbers separated by commas, e.g. 1,2") from None
        if not counts or min(counts) < 1 or min(options["uploads"], options["files"], options["rows"]) < 1:
            raise CommandError("--workers, --uploads, --files and --rows must be at least 1.")
        if Conf.SYNC:
            raise CommandError("Q_CLUSTER['sync'] is on (tasks would run here): run with Q_SYNC=0.")
        parent = Path(options["dir"]) if options["dir"] else Path(settings.BASE_DIR) / "var"
        parent.mkdir(parents=True, exist_ok=True)
        try:
            with scratch_run(command="bench_workers", parent=parent) as run:
                bench = _Bench(run=run, options=options, counts=counts, progress=self.stderr.write)
                try:
                    with override_settings(**bench.folders), queue_used(run.queue):
                        report = bench.run()
                finally:
                    bench.cleanup()
        except BenchFailed as exc:
            raise CommandError(str(exc)) from exc
        except BenchInterrupted as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write("\n".join(report.lines()))
        if options["json"]:
            Path(options["json"]).write_text(json.dumps(asdict(report), indent=2) + "\n")


@contextmanager
def queue_used(name: str) -> Iterator[None]:
    """Tasks this process queues go to the run's own queue, which only the run's clusters read."""
    previous = Conf.CLUSTER_NAME
    Conf.CLUSTER_NAME = name
    try:
        yield
    finally:
        Conf.CLUSTER_NAME = previous


class _Bench:
    def __init__(self, *, run: ScratchRun, options: dict, counts: list[int], progress):
        self.run_scratch = run
        self.workdir = run.folder
        self.table_name = run.table_name
        self.options = options
        self.counts = counts
        self.progress = progress
        self.children: list[ChildProcess] = []
        self.user = None
        # Read before override_settings, under which SETTINGS_MODULE is None.
        self.env_base = run.child_env(sync=False)
        self.folders = {
            **run.folders,
            "GDRIVE_CREDENTIALS": "",
            "GDRIVE_CREDENTIALS_JSON": "",
            "GDRIVE_FOLDER_ID": "",
        }

    # --- processes ---------------------------------------------------------------------------------

    def env(self, **extra: str) -> dict[str, str]:
        """Children use this command's settings and database under the run's scratch settings: its folders, no
        Drive, its own queue (benchmarks/child_settings.py)."""
        return {**self.env_base, "DATABASE_URL": database_url(), "Q_SYNC": "0", **extra}

    def start(self, name: str, args: list[str], **env: str) -> ChildProcess:
        child = ChildProcess(args, log=self.workdir / f"{name}.log", env=self.env(**env))
        self.children.append(child)
        return child

    def clusters(self, count: int, *, workers: int = 1) -> list[ChildProcess]:
        clusters = [
            self.start(
                f"qcluster-{len(self.children)}",
                [sys.executable, "manage.py", "qcluster"],
                Q_WORKERS=str(workers),
            )
            for _ in range(count)
        ]
        wait_until(
            lambda: all("running." in c.log_path.read_text(errors="replace") for c in clusters),
            timeout=self.options["timeout"],
            what="the qcluster processes to start",
            children=clusters,
        )
        return clusters

    def settle(self, batch_ids, children: list[ChildProcess]) -> None:
        """Let the workers archive the imported files before they stop, so no task of ours is left queued."""
        try:
            wait_until(
                lambda: (
                    not ImportJob.objects.filter(
                        batch_id__in=batch_ids, archive_status=ArchiveStatus.PENDING
                    ).exists()
                ),
                timeout=60,
                what="the archive tasks",
                children=children,
            )
        except BenchFailed as exc:
            self.progress(f"(going on) {str(exc).splitlines()[0]}")

    def stop(self, children: list[ChildProcess]) -> None:
        for child in children:
            child.stop()
            self.children.remove(child)

    # --- the run -----------------------------------------------------------------------------------

    def run(self) -> Report:
        self.setup()
        db = connection.settings_dict
        report = Report(
            database=f"{connection.vendor} {db['NAME']}",
            broker="redis" if Conf.REDIS and not Conf.ORM else "orm",
            web_workers=self.options["web_workers"],
        )
        if not self.options["skip_latency"]:
            report.latency = self.latency()
        if not self.options["skip_throughput"]:
            report.machine = machine_describe()
            report.machine.load_before = list(os.getloadavg())
            report.throughput = throughput_compare([self.throughput(count) for count in self.counts])
            report.machine.load_after = list(os.getloadavg())
        if self.options["long_rows"]:
            report.long_import = self.long_import()
        return report

    def setup(self) -> None:
        self.user = get_user_model().objects.create_user(
            username=self.run_scratch.username, password=uuid.uuid4().hex
        )
        self.user.user_permissions.add(
            Permission.objects.get(content_type__app_label="imports", codename="add_importjob")
        )
        self.token = Token.objects.create(user=self.user).key

    def web(self) -> tuple[ChildProcess, int]:
        """gunicorn on a free loopback port, listening."""
        port = free_port()
        web = self.start(
            "gunicorn",
            [
                sys.executable, "-m", "gunicorn", "importhub.wsgi", "--bind", f"127.0.0.1:{port}",
                "--workers", str(self.options["web_workers"]), "--timeout", "300", "--no-control-socket",
            ],
        )  # fmt: skip

        def listening() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return True
            except OSError:
                return False

        wait_until(listening, timeout=self.options["timeout"], what="gunicorn to listen", children=[web])
        return web, port

    def latency(self) -> list[LatencyFigures]:
        uploads = self.options["uploads"]
        concurrency = min(self.options["concurrency"] or uploads, uploads)
        web, port = self.web()
        workers = self.clusters(2)
        files = [
            sales_file_bytes(rows=self.options["upload_rows"], tag=f"U{n:03d}-{uuid.uuid4().hex[:6]}")
            for n in range(uploads)
        ]
        # Each gunicorn worker loads the URL conf and DRF on its first request: keep that out of the figures.
        web_workers = self.options["web_workers"]
        with ThreadPoolExecutor(max_workers=web_workers) as pool:
            warmups = [
                pool.submit(
                    post_import,
                    port,
                    token=self.token,
                    name="w.csv",
                    content=files[0],
                    mode="quick",
                    table=self.table_name,
                )
                for _ in range(4 * web_workers)
            ]
            for warmup in warmups:
                warmup.result()
        figures = []
        for mode in ("quick", "full"):
            self.progress(f"{uploads} {mode} uploads, {concurrency} at a time")
            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                answers = list(
                    pool.map(
                        lambda n, mode=mode: post_import(
                            port,
                            token=self.token,
                            name=f"sales_{n:03d}.csv",
                            content=files[n],
                            mode=mode,
                            table=self.table_name,
                        ),
                        range(uploads),
                    )
                )
            wall = time.monotonic() - started
            seconds = [a[2] * 1000 for a in answers]
            statuses: dict[str, int] = {}
            for status, _, _ in answers:
                statuses[str(status)] = statuses.get(str(status), 0) + 1
            result = LatencyFigures(
                mode=mode,
                requests=uploads,
                concurrency=concurrency,
                statuses=statuses,
                p50_ms=percentile(seconds, 50),
                p95_ms=percentile(seconds, 95),
                max_ms=max(seconds),
                requests_per_second=uploads / wall,
            )
            if mode == "full":
                batches = {body["data"]["batch_id"] for status, body, _ in answers if status == 202}
                jobs = wait_until(
                    lambda batches=batches: self._final(batches, expected=len(batches)),
                    timeout=self.options["timeout"],
                    what="the uploads' imports",
                    children=[web, *workers],
                )
                result.jobs_complete = sum(j.status == JobStatus.COMPLETE for j in jobs)
                result.jobs_final_seconds = time.monotonic() - started
                self.settle(batches, workers)
            figures.append(result)
        self.stop([web, *workers])
        return figures

    def long_import(self) -> LongImportFigures:
        """One long file imports on a qcluster of 2 workers; small uploads meanwhile, one at a time."""
        rows, each = self.options["long_rows"], self.options["long_uploads"]
        path = self.workdir / "sales_long.csv"
        self.progress(f"long import: writing a {rows:,}-row file")
        sales_file_write(path=path, rows=rows)
        web, port = self.web()
        workers = self.clusters(1, workers=2)
        with path.open("rb") as handle:
            batch = import_batch_submit(
                uploads=[Upload(name=path.name, chunks=iter(lambda: handle.read(1024**2), b""))],
                mode="full",
                table_name=self.table_name,
                user=self.user,
            )
        (long_job,) = [j for j in batch.jobs if j.original_filename]
        if long_job.status != JobStatus.WAITING:
            raise BenchFailed(f"the long file did not pass quick validation: {long_job.error_message}")

        def long_running() -> bool:
            job = ImportJob.objects.get(pk=long_job.pk)
            return job.status == JobStatus.PROCESSING and job_progress_get(job) > 0

        wait_until(
            long_running, timeout=self.options["timeout"], what="the long import to start", children=workers
        )
        self.progress(f"long import running: {each} quick and {each} full small uploads")
        figures = LongImportFigures(rows=rows, workers=2, seconds=0, rows_per_second=0, status=0)
        small_batches = []
        for n in range(each):
            # A file of its own each time: identical content already imported would be refused as re-sent.
            small = sales_file_bytes(rows=self.options["upload_rows"], tag=f"L{n}-{uuid.uuid4().hex[:6]}")
            for mode in ("quick", "full"):
                status, body, seconds = post_import(
                    port,
                    token=self.token,
                    name=f"sales_small_{n:02d}.csv",
                    content=small,
                    mode=mode,
                    table=self.table_name,
                )
                during = ImportJob.objects.get(pk=long_job.pk).status == JobStatus.PROCESSING
                figures.uploads.append(
                    SmallUpload(mode=mode, status=status, ms=seconds * 1000, during=during)
                )
                if mode == "full" and status == 202:
                    small_batches.append(body["data"]["batch_id"])
                time.sleep(0.5)
        jobs = wait_until(
            lambda: self._final([batch.batch_id, *small_batches], expected=1 + len(small_batches)),
            timeout=self.options["timeout"],
            what="the long file and the small uploads to be imported",
            children=[web, *workers],
        )
        long_final = next(j for j in jobs if j.pk == long_job.pk)
        figures.seconds = (long_final.completed_at - long_final.created_at).total_seconds()
        figures.rows_per_second = rows / figures.seconds
        figures.status = long_final.status
        smalls = [j for j in jobs if j.pk != long_job.pk]
        figures.small_jobs = len(smalls)
        figures.small_jobs_complete = sum(j.status == JobStatus.COMPLETE for j in smalls)
        figures.small_attempts_max = max((j.attempts for j in smalls), default=0)
        if smalls:
            last = max(j.completed_at for j in smalls)
            figures.last_small_after_long_s = (last - long_final.completed_at).total_seconds()
        self.settle([batch.batch_id, *small_batches], workers)
        self.stop([web, *workers])
        path.unlink(missing_ok=True)
        scratch_rows_remove(self.run_scratch)
        return figures

    def _final(self, batch_ids, *, expected: int) -> list[ImportJob] | None:
        jobs = list(ImportJob.objects.filter(batch_id__in=batch_ids).exclude(status=JobStatus.SKIPPED))
        return jobs if len(jobs) >= expected and all(j.is_final for j in jobs) else None

    def throughput(self, count: int) -> ThroughputFigures:
        files, rows = self.options["files"], self.options["rows"]
        self.progress(f"batch of {files} x {rows:,} rows with {count} worker(s)")
        tag = uuid.uuid4().hex[:6]
        uploads = [
            Upload(name=f"sales_{n:02d}.csv", chunks=[sales_file_bytes(rows=rows, tag=f"B{tag}-{n:02d}")])
            for n in range(files)
        ]
        batch = import_batch_submit(
            uploads=uploads, mode="full", table_name=self.table_name, user=self.user, enqueue=False
        )
        waiting = [j.id for j in batch.jobs if j.status == JobStatus.WAITING]
        if len(waiting) != files:
            raise BenchFailed(f"only {len(waiting)} of {files} generated files passed quick validation")
        clusters = self.clusters(count)
        started = time.monotonic()
        for job_id in waiting:
            import_job_enqueue(job_id=job_id)
        jobs = wait_until(
            lambda: self._final([batch.batch_id], expected=files),
            timeout=self.options["timeout"],
            what="the batch to be imported",
            children=clusters,
        )
        seconds = time.monotonic() - started
        self.settle([batch.batch_id], clusters)
        self.stop(clusters)
        failed = [j.original_filename for j in jobs if j.status != JobStatus.COMPLETE]
        if failed:
            raise BenchFailed(f"{len(failed)} files did not complete: {', '.join(failed[:5])}")
        scratch_rows_remove(self.run_scratch)
        return ThroughputFigures(
            workers=count,
            files=files,
            rows=files * rows,
            seconds=seconds,
            rows_per_second=files * rows / seconds,
        )

    # --- cleanup ---------------------------------------------------------------------------------

    def cleanup(self) -> None:
        """Stop the processes; the rest (jobs, tasks, user, table, folder) goes with the run's scratch."""
        for child in list(self.children):
            child.stop()
        self.children.clear()
