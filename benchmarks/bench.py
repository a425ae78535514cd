"""The import benchmark behind `manage.py bench_import`: a generated sales file, the engine's full import and
the database's own bulk paths measured on it, each in a process of its own, and quick validation timed.

Every run works on a scratch configuration of its own (benchmarks/scratch.py): the engine imports into
`bench_<token>_sales`, the baselines write `bench_<token>_<baseline>`, its children archive into the run's
scratch folder, and all of it is removed at the end (or by the next run): no user's table, file or archive is
touched. The figures come from the database it runs against.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import os
import re
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from importhub.errors import ImportHubError
from imports.models import JobStatus
from imports.services.batches import Upload, import_batch_submit
from imports.services.importing import import_job_run
from imports.services.loading import load_method_describe
from imports.services.matching import headers_map, table_by_name, table_columns
from imports.services.quick import HEAD_RECORDS, SAMPLE_ROWS, file_quick_validate
from imports.services.reading import file_open_head
from imports.services.staging import JobRowsFile, job_rows_staged_possible
from imports.services.validation import values_validate
from imports.services.workbooks import workbook_convert, workbook_release
from tableconfig.schema import ColumnSpec, physical_model_build, table_exists, table_schema_sync

from .scratch import ScratchRun, scratch_rows_remove, scratch_run, scratch_update_table_create

logger = logging.getLogger(__name__)

SALES_COLUMNS = ("distid", "dono", "dotanggal", "custid", "sku", "qty", "amount_jual", "exportdate")
# The baselines' scratch tables, each bench_<token>_<name> beside the run's configured one.
BASELINE_TABLES = ("load_data", "bulk_create", "executemany")
BULK_CREATE_BATCH = 5_000
EXECUTEMANY_BATCH = 50_000
BLOCK_ROWS = 200_000
QUICK_BLOCK_ROWS = 100_000
QUICK_REPEATS = 3

ENGINE_RSS_GOAL_MB = 300
MYSQL_RATIO_GOAL = 0.75
MYSQL_RATIO_FLOOR = 0.50
SQLITE_RATE_GOAL = 150_000
QUICK_HEAD_GOAL_SECONDS = 0.1
QUICK_COUNT_GOAL_SECONDS_PER_GB = 2.0
XLSX_RATIO_GOAL = 0.50
UPDATE_RATIO_GOAL = 0.60

# The child's command line: Django is set up before the module is imported, as in manage.py.
_CHILD_CODE = "import django; django.setup(); from benchmarks.bench import child_main; child_main()"
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]?B)\s*$", re.IGNORECASE)
_SIZE_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}
_INFO_WARNINGS_RE = re.compile(r"Warnings:\s*(\d+)")
_PURGE_COUNTER_RE = re.compile(r"Trx id counter (\d+)")
_PURGE_DONE_RE = re.compile(r"Purge done for trx's n:o < (\d+) .*?state: ([a-z ]+)")

_DISTRIBUTORS = pa.array([f"{region}{n:03d}" for region in (31, 32, 42, 51) for n in range(1, 11)])
_DAYS = pa.array([(date(2024, 1, 1) + timedelta(days=d)).isoformat() for d in range(370)])


class BenchError(ImportHubError):
    code = "bench_failed"


# --- The generated file ------------------------------------------------------------------------


def _padded(values: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(pa.array(values), pa.string()), width=width, padding="0")


def _joined(*parts, separator: str = "") -> pa.Array:
    return pc.binary_join_element_wise(*parts, separator)


def sales_rows_generate(*, rows: int, first: int = 0, seed: int = 1, unique_keys: bool = False) -> bytes:
    """`rows` lines of a distributor's sales export (no header), numbered from `first`; same seed, same bytes.

    About 80 bytes a line: 40 distributors, three lines per delivery order (sharing distributor, date
    and customer), ISO dates (so MySQL's LOAD DATA reads the very same file), SKUs with leading zeros,
    amounts with 2 decimals, 2% returns (negative quantity and amount, the order number quoted with a
    comma inside) and 0.3% of the other order numbers quoted.

    With `unique_keys`, every line's order number is its own, DO and its row number (from 1, 9 digits),
    whatever the seed: two files of as many rows share their keys and differ in their values (SKU,
    quantity, amount, export time), the update path's case. A return keeps its negative quantity and
    amount, not the ",R" of its key; the other lines are as without it.
    """
    rng = np.random.default_rng([seed, first])
    numbers = np.arange(first, first + rows, dtype=np.int64)
    order = numbers // 3 + 1
    # The lines of one order share its distributor, date and customer, whichever block they fall in.
    mixed = (order * 2_654_435_761) % 2**32
    distid = _DISTRIBUTORS.take(pa.array(mixed % len(_DISTRIBUTORS)))
    returns = rng.random(rows) < 0.02
    dono = _joined("DO", _padded(order, 8))
    quoted = pa.array(rng.random(rows) < 0.003)
    if unique_keys:
        dono = _joined("DO", _padded(numbers + 1, 9))
        dono = pc.if_else(quoted, _joined('"', dono, '"'), dono)
    else:
        # A return's order number carries ",R", so it is quoted; a few others are quoted for no reason.
        dono = pc.if_else(
            pa.array(returns), _joined('"', dono, ',R"'), pc.if_else(quoted, _joined('"', dono, '"'), dono)
        )
    day = (mixed >> 8) % 366
    custid = _joined("C", _padded((mixed >> 12) % 59_999 + 1, 6))
    sku = _padded(rng.integers(1, 3_000_000, rows), 9)
    qty = rng.integers(1, 49, rows)
    qty[returns] *= -1
    cents = qty * rng.integers(1_500, 2_500_000, rows)
    amount = _joined(
        pa.array(np.where(cents < 0, "-", "")),
        pc.cast(pa.array(np.abs(cents) // 100), pa.string()),
        ".",
        _padded(np.abs(cents) % 100, 2),
    )
    seconds = rng.integers(0, 86_400, rows)
    clock = _joined(
        _padded(seconds // 3600, 2), _padded(seconds // 60 % 60, 2), _padded(seconds % 60, 2), separator=":"
    )
    exportdate = _joined(_DAYS.take(pa.array(day + 1 + (mixed >> 20) % 3)), clock, separator=" ")
    fields = [distid, dono, _DAYS.take(pa.array(day)), custid, sku, pc.cast(pa.array(qty), pa.string())]
    lines = _joined(_joined(*fields, amount, exportdate, separator=","), "", separator="\n")
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + rows + 1]
    return memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]].tobytes()


def sales_header() -> bytes:
    return (",".join(SALES_COLUMNS) + "\n").encode()


def sales_file_write(*, path: Path, rows: int, seed: int = 1, unique_keys: bool = False) -> int:
    """Write a sales file of `rows` data rows, generated block by block; return its size in bytes."""
    with path.open("wb") as handle:
        handle.write(sales_header())
        for first in range(0, rows, BLOCK_ROWS):
            block = min(BLOCK_ROWS, rows - first)
            handle.write(sales_rows_generate(rows=block, first=first, seed=seed, unique_keys=unique_keys))
    return path.stat().st_size


def sales_file_of_size(*, path: Path, size: int, seed: int = 1) -> int:
    """Write a sales file of about `size` bytes (whole lines) by repeating one block; return its row count."""
    block = sales_rows_generate(rows=QUICK_BLOCK_ROWS, seed=seed)
    block_rows = QUICK_BLOCK_ROWS
    header = sales_header()
    left = max(size - len(header), 0)
    rows = 0
    with path.open("wb") as handle:
        handle.write(header)
        while left >= len(block):
            handle.write(block)
            left -= len(block)
            rows += block_rows
        tail = block[: block.rfind(b"\n", 0, left) + 1]
        handle.write(tail)
        rows += tail.count(b"\n")
    return rows


_XLSX_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_XLSX_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_XLSX_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_XLSX_PARTS = {
    "[Content_Types].xml": (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'spreadsheetml.styles+xml"/>'
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
    ),
    "_rels/.rels": (
        f'<Relationships xmlns="{_XLSX_PKG}"><Relationship Id="rId1" Type="{_XLSX_REL}/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": (
        f'<workbook xmlns="{_XLSX_NS}" xmlns:r="{_XLSX_REL}"><sheets><sheet name="Sales" sheetId="1" '
        'r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        f'<Relationships xmlns="{_XLSX_PKG}">'
        f'<Relationship Id="rId1" Type="{_XLSX_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_XLSX_REL}/styles" Target="styles.xml"/>'
        f'<Relationship Id="rId3" Type="{_XLSX_REL}/sharedStrings" Target="sharedStrings.xml"/>'
        "</Relationships>"
    ),
    # Style 1: a date (built-in format 14); style 2: a date and time.
    "xl/styles.xml": (
        f'<styleSheet xmlns="{_XLSX_NS}"><numFmts count="1"><numFmt numFmtId="164" '
        'formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts><fonts count="1"><font/></fonts><fills count="1"><fill/>'
        '</fills><borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs>'
        '<cellXfs count="3"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/>'
        '<xf numFmtId="164" applyNumberFormat="1"/></cellXfs></styleSheet>'
    ),
}
_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_EXCEL_EPOCH = np.datetime64("1899-12-30T00:00:00", "s")


def sales_xlsx_write(*, path: Path, rows: int, seed: int = 1) -> int:
    """Write the same generated sales rows as an .xlsx sheet, as Excel stores them: texts in the shared strings
    (SKUs keep their leading zeros), quantities and amounts as number cells, the order date as a date cell and
    the export date as a date-and-time cell. Return the file's size in bytes."""
    from xml.sax.saxutils import escape

    import pyarrow.csv as pa_csv

    strings: dict[str, int] = {}

    def shared(value: str) -> int:
        index = strings.get(value)
        if index is None:
            index = strings[value] = len(strings)
        return index

    letters = "ABCDEFGH"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for part, xml in _XLSX_PARTS.items():
            archive.writestr(part, _XML_DECLARATION + xml)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(f'{_XML_DECLARATION}<worksheet xmlns="{_XLSX_NS}"><sheetData>'.encode())
            header = "".join(
                f'<c r="{letter}1" t="s"><v>{shared(name)}</v></c>'
                for letter, name in zip(letters, SALES_COLUMNS, strict=True)
            )
            sheet.write(f'<row r="1">{header}</row>'.encode())
            number = 2
            for first in range(0, rows, BLOCK_ROWS):
                block = sales_rows_generate(rows=min(BLOCK_ROWS, rows - first), first=first, seed=seed)
                table = pa_csv.read_csv(
                    io.BytesIO(block),
                    read_options=pa_csv.ReadOptions(column_names=list(SALES_COLUMNS)),
                    convert_options=pa_csv.ConvertOptions(
                        column_types=dict.fromkeys(SALES_COLUMNS, pa.string())
                    ),
                )
                columns = {name: table.column(name).to_pylist() for name in SALES_COLUMNS}
                days = (
                    np.array(columns["dotanggal"], dtype="datetime64[D]").astype("datetime64[s]")
                    - _EXCEL_EPOCH
                ).astype(np.int64) // 86_400
                stamps = (np.array(columns["exportdate"], dtype="datetime64[s]") - _EXCEL_EPOCH).astype(
                    np.int64
                )
                serials = [repr(value) for value in (stamps / 86_400).tolist()]
                out = []
                for at in range(table.num_rows):
                    r = number + at
                    out.append(
                        f'<row r="{r}"><c r="A{r}" t="s"><v>{shared(columns["distid"][at])}</v></c>'
                        f'<c r="B{r}" t="s"><v>{shared(columns["dono"][at])}</v></c>'
                        f'<c r="C{r}" s="1"><v>{days[at]}</v></c>'
                        f'<c r="D{r}" t="s"><v>{shared(columns["custid"][at])}</v></c>'
                        f'<c r="E{r}" t="s"><v>{shared(columns["sku"][at])}</v></c>'
                        f'<c r="F{r}"><v>{columns["qty"][at]}</v></c>'
                        f'<c r="G{r}"><v>{columns["amount_jual"][at]}</v></c>'
                        f'<c r="H{r}" s="2"><v>{serials[at]}</v></c></row>'
                    )
                number += table.num_rows
                sheet.write("".join(out).encode())
            sheet.write(b"</sheetData></worksheet>")
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(f'{_XML_DECLARATION}<sst xmlns="{_XLSX_NS}" uniqueCount="{len(strings)}">'.encode())
            items = iter(strings)
            while batch := list(itertools.islice(items, 100_000)):
                part.write("".join(f"<si><t>{escape(value)}</t></si>" for value in batch).encode())
            part.write(b"</sst>")
    return path.stat().st_size


def sizes_parse(text: str) -> list[int]:
    """ "10MB,1GB" as byte counts (binary units); "" or "none" is no size."""
    if text.strip().lower() in ("", "none"):
        return []
    sizes = []
    for part in text.split(","):
        match = _SIZE_RE.match(part)
        if not match:
            raise ValueError(f"'{part.strip()}' is not a size: write it like 10MB or 1GB.")
        sizes.append(int(float(match.group(1)) * _SIZE_UNITS[match.group(2).upper()]))
    return sizes


def size_label(size: int) -> str:
    for unit in ("GB", "MB", "KB"):
        if size >= _SIZE_UNITS[unit]:
            return f"{size / _SIZE_UNITS[unit]:g} {unit}"
    return f"{size} B"


# --- The report ----------------------------------------------------------------------------------


@dataclass
class Goal:
    text: str
    result: str  # PASS, MISS or n/a


@dataclass
class Measurement:
    key: str
    name: str
    rows: int | None = None
    seconds: float | None = None
    cpu_seconds: float | None = None  # of the measuring process (every thread), not of a database server
    peak_rss_mb: float | None = None
    ratio: float | None = None
    goals: list[Goal] = field(default_factory=list)
    rated: bool = False  # whether rows/seconds is a loading rate worth showing
    stages: dict = field(default_factory=dict)  # the engine's own timings (imports/services/timings.py)
    checks: dict = field(
        default_factory=dict
    )  # what the benchmark verified of the result (the update case's)

    @property
    def rows_per_second(self) -> float | None:
        if self.rows and self.seconds:
            return self.rows / self.seconds
        return None

    def as_dict(self) -> dict:
        return {**asdict(self), "rows_per_second": self.rows_per_second if self.rated else None}


@dataclass
class BenchReport:
    vendor: str
    server: str
    rows: int
    file_bytes: int
    load_method: str = ""
    baseline: str = ""
    idle_rss_mb: float | None = None
    measurements: list[Measurement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def measurement(self, key: str) -> Measurement | None:
        return next((m for m in self.measurements if m.key == key), None)

    def as_dict(self) -> dict:
        return {
            "vendor": self.vendor,
            "server": self.server,
            "rows": self.rows,
            "file_bytes": self.file_bytes,
            "load_method": self.load_method,
            "baseline": self.baseline,
            "idle_rss_mb": self.idle_rss_mb,
            "measurements": [m.as_dict() for m in self.measurements],
            "notes": self.notes,
        }

    def lines(self) -> list[str]:
        """The report as a fixed-width table, then its notes."""
        header = [
            "measurement",
            "rows",
            "seconds",
            "CPU s",
            "rows/s",
            "peak RSS MB",
            f"vs {self.baseline}",
            "goal",
            "result",
        ]
        table = [header]
        for m in self.measurements:
            rate = m.rows_per_second
            cells = [
                m.name,
                f"{m.rows:,}" if m.rows is not None else "-",
                f"{m.seconds:.3f}" if m.seconds is not None else "-",
                f"{m.cpu_seconds:.2f}" if m.cpu_seconds is not None else "-",
                f"{rate:,.0f}" if rate is not None and m.rated else "-",
                f"{m.peak_rss_mb:.0f}" if m.peak_rss_mb is not None else "-",
                f"{m.ratio:.2f}x" if m.ratio is not None else "-",
            ]
            goals = m.goals or [Goal("-", "")]
            table.append([*cells, goals[0].text, goals[0].result])
            table += [[""] * len(cells) + [g.text, g.result] for g in goals[1:]]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        right = set(range(1, len(cells)))

        def line(row: list[str]) -> str:
            return "  ".join(
                c.rjust(w) if i in right else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()

        title = (
            f"importhub import benchmark: {self.rows:,} rows, {self.file_bytes / 1024**2:.1f} MB file, "
            f"{self.server} ({self.vendor}); engine loads with {self.load_method or '?'}"
        )
        rule = "-" * len(line(header))
        stages = [text for m in self.measurements if m.stages for text in stages_lines(m.name, m.stages)]
        return [title, rule, line(header), rule, *map(line, table[1:]), rule, *stages, *self.notes]


STAGE_NAMES = {
    "checks": "checks before reading (whole-file encoding, headers, table vs configuration)",
    "wait": "waiting for the reader's next chunk",
    "load_file": "rows made ready for the database (job's rows file / LOAD DATA file / executemany rows)",
    "server_load": "database load (LOAD DATA / executemany into the table / copy from the job's file)",
    "rejects": "rejected rows written to the errors file",
    "summary": "summary (the query of a unique table; an append-only one adds its rows up in the reader)",
    "other": "other (job reads, re-sent checks, progress heartbeats)",
    "read": "read (parse the file's chunks)",
    "validate": "validate every row",
}


def stages_lines(name: str, stages: dict) -> list[str]:
    """The engine's seconds per stage for one case: the main thread's stages add up to its wall time, the
    reader thread's run beside them."""
    wall = stages["wall"]
    lines = [f"Where the time went, {name.strip()}: {wall:.2f} s wall (seconds busy per stage and thread)"]
    for thread, label in (("main", "main thread"), ("reader", "reader thread")):
        busy = sum(stages[thread].values())
        lines.append(f"  {label}: {busy:.2f} s")
        for stage, seconds in stages[thread].items():
            share = seconds / wall if wall else 0
            lines.append(f"    {STAGE_NAMES.get(stage, stage):<88} {seconds:7.2f} s {share:5.0%}")
    return lines


def _goal(text: str, ok: bool | None) -> Goal:
    return Goal(text, "n/a" if ok is None else ("PASS" if ok else "MISS"))


# --- Running one measurement in a process of its own ---------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB.

    On Linux it is the memory map's high-water mark (VmHWM): after fork and exec, getrusage's ru_maxrss
    starts at the parent's peak, so it would report the benchmark's own process, not the measurement."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for entry in status:
                if entry.startswith("VmHWM:"):
                    return int(entry.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024


def _child_run(task: str, params: dict, *, run: ScratchRun) -> dict:
    """Run `task` in a fresh Python process on the same database, with the run's scratch settings (its folders,
    no Drive, tasks inline); return what it measured. Interrupted, the child is stopped before going on."""
    token = uuid.uuid4().hex[:8]
    spec_path = run.folder / f"child-{task}-{token}.json"
    result_path = run.folder / f"child-{task}-{token}.result.json"
    spec = {
        "task": task,
        "params": params,
        "database": connection.settings_dict["NAME"],
        "result": str(result_path),
    }
    spec_path.write_text(json.dumps(spec))
    # Nothing is shared with the child; a closed connection also holds no SQLite lock while it writes.
    connection.close()
    stderr_path = run.folder / f"child-{task}-{token}.stderr"
    try:
        with stderr_path.open("w+") as stderr:
            child = subprocess.Popen(
                [sys.executable, "-c", _CHILD_CODE, str(spec_path)],
                cwd=settings.BASE_DIR,
                env=run.child_env(sync=True),
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
            try:
                returncode = child.wait()
            finally:
                _child_stop(child)
            if returncode or not result_path.exists():
                stderr.seek(0)
                tail = "\n".join(stderr.read().strip().splitlines()[-15:])
                raise BenchError(f"The {task} measurement failed (exit status {returncode}):\n{tail}")
        result = json.loads(result_path.read_text())
    finally:
        for path in (spec_path, result_path, stderr_path):
            path.unlink(missing_ok=True)
    if result.get("error"):
        raise BenchError(f"The {task} measurement failed: {result['error']}")
    return result


def _child_stop(child: subprocess.Popen) -> None:
    """A measurement still running when the benchmark is interrupted: SIGTERM, then SIGKILL."""
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def child_main() -> None:
    """Entry point of a measurement's process: run the task named in the spec file, write its figures."""
    spec = json.loads(Path(sys.argv[1]).read_text())
    # The parent may run on a test database: use the database it uses.
    connection.settings_dict["NAME"] = spec["database"]
    idle = peak_rss_mb()
    try:
        result = _CHILD_TASKS[spec["task"]](**spec["params"])
    except Exception as exc:
        logger.exception("Benchmark task %s failed", spec["task"])
        result = {"error": f"{type(exc).__name__}: {exc}"}
    result.update(idle_rss_mb=idle, peak_rss_mb=peak_rss_mb())
    connection.close()
    Path(spec["result"]).write_text(json.dumps(result))


class _Stopwatch:
    """Wall-clock and CPU seconds (this process, every thread) of the block it wraps."""

    def __enter__(self) -> _Stopwatch:
        self.started, self.cpu_started = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc_info) -> None:
        self.seconds = time.perf_counter() - self.started
        self.cpu_seconds = time.process_time() - self.cpu_started

    def figures(self) -> dict:
        return {"seconds": self.seconds, "cpu_seconds": self.cpu_seconds}


def _file_chunks(path: Path, size: int = 1024 * 1024) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(size):
            yield block


def _engine_task(*, path: str, name: str, rows: int, table_name: str) -> dict:
    """Submit the file as an upload, then import it here, timing import_job_run alone."""
    source = Path(path)
    started = time.perf_counter()
    batch = import_batch_submit(
        uploads=[Upload(name=name, chunks=_file_chunks(source), size=source.stat().st_size)],
        mode="full",
        table_name=table_name,
        enqueue=False,
    )
    submit_seconds = time.perf_counter() - started
    job = next(j for j in batch.jobs if j.original_filename == name)
    if job.status != JobStatus.WAITING:
        return {
            "error": f"quick validation refused the file: {job.error_message or job.get_status_display()}"
        }
    with _Stopwatch() as watch:
        import_job_run(job_id=job.id)
    job.refresh_from_db()
    return {
        "rows": job.success_count,
        **watch.figures(),
        "submit_seconds": submit_seconds,
        "job_id": job.id,
        "status": job.status,
        "total_rows": job.total_rows,
        "error_count": job.error_count,
        "inserted_count": job.inserted_count,
        "updated_count": job.updated_count,
        "job_error": job.error_message,
        "timings": job.summary.get("timings") or {},
        # Asked after the run: a writer that was refused LOAD DATA has switched this process to INSERT.
        # The scratch table has no unique column: on SQLite its rows go through the job's own file.
        "load_method": JobRowsFile.method
        if job_rows_staged_possible(unique_columns=[])
        else load_method_describe(),
    }


def _xlsx_raw_task(*, path: str, rows: int) -> dict:
    """The reader's own raw read of the sheet: python-calamine opens it and iterates every row, nothing else."""
    import python_calamine

    with _Stopwatch() as watch:
        with python_calamine.CalamineWorkbook.from_path(path) as workbook:
            read = sum(1 for _ in workbook.get_sheet_by_index(0).iter_rows()) - 1
    return {"rows": read, **watch.figures()}


def _xlsx_convert_task(*, path: str, name: str) -> dict:
    """The sheet's conversion alone (its own child process, as in an import): time and the converter's peak."""
    source = workbook_convert(path=Path(path), name=name, sheet=None)
    workbook_release(source)
    return {"rows": source.records, "seconds": source.seconds, "converter_peak_rss_mb": source.peak_rss_mb}


def _scratch_table_create(table: str, specs: list[dict]) -> type:
    _scratch_table_drop(table)
    column_specs = [ColumnSpec(**s) for s in specs]
    table_schema_sync(table_name=table, specs=column_specs)
    return physical_model_build(table, column_specs)


def _scratch_table_drop(table: str) -> None:
    if table_exists(table):
        with connection.schema_editor() as editor:
            editor.delete_model(physical_model_build(table, []))


def _imported_at() -> str:
    return connection.ops.adapt_datetimefield_value(timezone.now().replace(microsecond=0))


def _load_data_sql(table: str, *, replace: bool = False) -> str:
    quote = connection.ops.quote_name
    return (
        f"LOAD DATA LOCAL INFILE %s {'REPLACE ' if replace else ''}INTO TABLE {quote(table)} CHARACTER SET utf8mb4 "
        "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '' "
        "LINES TERMINATED BY '\\n' IGNORE 1 LINES "
        f"({', '.join(quote(c) for c in SALES_COLUMNS)}) "
        f"SET {quote('import_job_id')} = %s, {quote('imported_at')} = %s"
    )


def _load_data_warnings(cursor) -> str | None:
    match = _INFO_WARNINGS_RE.search(connection.connection.info() or "")
    if match and int(match.group(1)):
        cursor.execute("SHOW WARNINGS LIMIT 5")
        return f"LOAD DATA gave warnings: {cursor.fetchall()}"
    return None


def _load_data_task(*, path: str, rows: int, specs: list[dict], table: str) -> dict:
    """MySQL reading the same file itself: LOAD DATA LOCAL INFILE into a scratch table, in one transaction."""
    _scratch_table_create(table, specs)
    with _Stopwatch() as watch, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_load_data_sql(table), [path, 0, _imported_at()])
        loaded = cursor.rowcount
        if warnings := _load_data_warnings(cursor):
            return {"error": warnings}
    if loaded != rows:
        return {"error": f"LOAD DATA loaded {loaded:,} rows, expected {rows:,}."}
    return {"rows": loaded, **watch.figures()}


def _load_data_replace_task(*, path: str, prefill: str, rows: int, specs: list[dict], table: str) -> dict:
    """The update path's baseline: a scratch table with the same UNIQUE key, pre-filled (LOAD DATA of the
    pre-fill file, not timed), then LOAD DATA LOCAL INFILE ... REPLACE of the measured file, in one transaction.
    REPLACE deletes each old row and inserts the new one: its row count is twice the rows replaced."""
    _scratch_table_create(table, specs)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_load_data_sql(table), [prefill, 0, _imported_at()])
        if cursor.rowcount != rows:
            return {"error": f"LOAD DATA pre-filled {cursor.rowcount:,} rows, expected {rows:,}."}
    with _Stopwatch() as watch, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_load_data_sql(table, replace=True), [path, 0, _imported_at()])
        affected = cursor.rowcount
        if warnings := _load_data_warnings(cursor):
            return {"error": warnings}
    if affected != 2 * rows:
        return {
            "error": f"LOAD DATA REPLACE affected {affected:,} rows, expected {2 * rows:,} (every row replaced)."
        }
    return {"rows": rows, **watch.figures(), "fingerprint": table_fingerprint(table)}


def _value_converters(specs: list[dict]) -> list[Callable[[str], object]]:
    by_type: dict[str, Callable[[str], object]] = {
        "str": str,
        "int": int,
        "decimal": Decimal,
        "date": date.fromisoformat,
        "datetime": lambda v: datetime.fromisoformat(v).replace(tzinfo=UTC),
    }
    types = {s["name"]: s["data_type"] for s in specs}
    return [by_type[types[name]] for name in SALES_COLUMNS]


def _bulk_create_task(*, path: str, rows: int, specs: list[dict], table: str) -> dict:
    """The plain ORM way: csv.reader, values converted to Python types, bulk_create in batches, one transaction."""
    model = _scratch_table_create(table, specs)
    converters = _value_converters(specs)
    fields = [f"c_{name}" for name in SALES_COLUMNS]
    imported_at = timezone.now().replace(microsecond=0)
    written = 0
    with _Stopwatch() as watch, transaction.atomic(), open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        records = itertools.islice(reader, rows)
        while batch := list(itertools.islice(records, BULK_CREATE_BATCH)):
            objects = [
                model(
                    import_job_id=0,
                    imported_at=imported_at,
                    **{
                        f: (convert(v) if v else None)
                        for f, convert, v in zip(fields, converters, record, strict=True)
                    },
                )
                for record in batch
            ]
            model.objects.bulk_create(objects, batch_size=BULK_CREATE_BATCH)
            written += len(objects)
    return {"rows": written, **watch.figures()}


def _executemany_task(*, path: str, rows: int, specs: list[dict], table: str) -> dict:
    """SQLite's own fast path: csv.reader and a plain INSERT with executemany, one transaction."""
    _scratch_table_create(table, specs)
    quote = connection.ops.quote_name
    columns = [*SALES_COLUMNS, "import_job_id", "imported_at"]
    sql = (
        f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    imported_at = _imported_at()
    written = 0
    with (
        _Stopwatch() as watch,
        transaction.atomic(),
        connection.cursor() as cursor,
        open(path, encoding="utf-8", newline="") as handle,
    ):
        reader = csv.reader(handle)
        next(reader)
        while batch := [(*r, 0, imported_at) for r in itertools.islice(reader, EXECUTEMANY_BATCH)]:
            cursor.executemany(sql, batch)
            written += len(batch)
    return {"rows": written, **watch.figures()}


_CHILD_TASKS: dict[str, Callable[..., dict]] = {
    "engine": _engine_task,
    "load_data": _load_data_task,
    "load_data_replace": _load_data_replace_task,
    "bulk_create": _bulk_create_task,
    "executemany": _executemany_task,
    "xlsx_raw": _xlsx_raw_task,
    "xlsx_convert": _xlsx_convert_task,
}


# --- The run -----------------------------------------------------------------------------------


def _sales_specs(run: ScratchRun) -> list[dict]:
    """The baselines' columns: the run's scratch configuration's types, without unique columns."""
    return [
        {**asdict(ColumnSpec.from_config(column)), "is_unique": False} for column in table_columns(run.table)
    ]


def _server_describe() -> str:
    if connection.vendor == "mysql":
        connection.ensure_connection()
        return f"{'MariaDB' if connection.mysql_is_mariadb else 'MySQL'} {connection.mysql_server_info.split('-')[0]}"
    return f"SQLite {sqlite3.sqlite_version}"


def _innodb_status() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW ENGINE INNODB STATUS")
        return cursor.fetchone()[2]


def _server_settle(timeout: float = 300.0) -> None:
    """On MySQL, wait for InnoDB to purge the rows the clean-up deleted, so no later measurement pays for it.

    Purge goes through transactions in commit order: once it is past the transaction counter read now, the
    clean-up's DELETE is purged. Without the PROCESS privilege there is nothing to read, and no wait."""
    if connection.vendor != "mysql":
        return
    try:
        status = _innodb_status()
    except DatabaseError:
        return
    counter = _PURGE_COUNTER_RE.search(status)
    deadline = time.monotonic() + timeout
    while counter and time.monotonic() < deadline:
        done = _PURGE_DONE_RE.search(status)
        if (
            done is None
            or int(done.group(1)) >= int(counter.group(1))
            or done.group(2).strip().endswith("idle")
        ):
            return
        time.sleep(0.5)
        status = _innodb_status()
    if counter:
        logger.warning("InnoDB was still purging after %.0f s; the next measurement may be slower.", timeout)


def _quick_head_checks(path: Path, table_name: str) -> None:
    """Quick validation's steps 2 to 7, everything file_quick_validate does but the row count."""
    _, head = file_open_head(path=path, sample_rows=HEAD_RECORDS, name=path.name)
    columns = table_columns(table_by_name(table_name=table_name))
    mapping = headers_map(columns=columns, headers=head.normalized)
    records = [dict(zip(head.normalized, row, strict=False)) for row in head.sample[:SAMPLE_ROWS]]
    values_validate(records=records, row_numbers=list(range(2, 2 + len(records))), rules=mapping.rules)


def _best_time(call: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def _quick_measure(*, path: Path, rows: int, label: str, size: int, table_name: str) -> list[Measurement]:
    """Time the head checks alone and file_quick_validate whole (best of a few runs, the file cached)."""
    result = file_quick_validate(path=path, original_name=path.name, table_name=table_name)
    if not result.valid or result.rows != rows:
        raise BenchError(
            f"Quick validation of the {label} file: {result.error or f'{result.rows:,} rows, expected {rows:,}'}"
        )
    head = _best_time(lambda: _quick_head_checks(path, table_name), QUICK_REPEATS * 3)
    total = _best_time(
        lambda: file_quick_validate(path=path, original_name=path.name, table_name=table_name), QUICK_REPEATS
    )
    with_count_goals = []
    if size >= _SIZE_UNITS["GB"]:
        limit = QUICK_COUNT_GOAL_SECONDS_PER_GB * size / _SIZE_UNITS["GB"]
        with_count_goals.append(_goal(f"< {limit:g} s", total < limit))
    return [
        Measurement(
            key=f"quick_head_{label}",
            name=f"quick validation {label}: head checks",
            rows=rows,
            seconds=head,
            goals=[_goal(f"< {QUICK_HEAD_GOAL_SECONDS:g} s", head < QUICK_HEAD_GOAL_SECONDS)],
        ),
        Measurement(
            key=f"quick_count_{label}",
            name=f"quick validation {label}: with row count",
            rows=rows,
            seconds=total,
            goals=with_count_goals,
        ),
    ]


def bench_run(
    *,
    rows: int,
    quick_sizes: list[int],
    bulk_create_rows: int = 200_000,
    skip_slow: bool = False,
    repeat: int = 1,
    workdir: Path | None = None,
    keep_files: bool = False,
    progress: Callable[[str], None] = logger.info,
    xlsx_rows: int = 0,
    update_rows: int = 0,
) -> BenchReport:
    """Generate the sales file, measure the engine and the baselines on it, then quick validation; with
    `xlsx_rows`, also import an .xlsx sheet of that many rows against the reader's own raw read of it; with
    `update_rows` (MySQL only), also update that many rows in place against LOAD DATA ... REPLACE."""
    if connection.vendor not in ("mysql", "sqlite"):
        raise BenchError(f"The benchmark runs on SQLite or MySQL/MariaDB, not {connection.vendor}.")
    if connection.in_atomic_block:
        raise BenchError("The benchmark must run outside a transaction: its measurements commit.")
    if rows < 1 or repeat < 1:
        raise BenchError("--rows and --repeat must be at least 1.")
    if xlsx_rows < 0 or update_rows < 0:
        raise BenchError("--xlsx-rows and --update-rows cannot be negative.")
    mysql = connection.vendor == "mysql"
    baseline_key, baseline_name = ("load_data", "LOAD DATA") if mysql else ("executemany", "executemany")
    report = BenchReport(
        vendor=connection.vendor, server=_server_describe(), rows=rows, file_bytes=0, baseline=baseline_name
    )
    if workdir is not None:
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
    with scratch_run(command="bench_import", parent=workdir) as run:
        if run.swept:
            report.notes.append(
                f"Removed the scratch of earlier runs that were killed: {', '.join(run.swept)}."
            )
        progress(f"Scratch table {run.table_name}, folder {run.folder}")
        # Generated files live in the run's folder, so that a killed run's are swept with it; kept ones in
        # --dir (or a folder of their own).
        files = run.folder
        if keep_files:
            files = workdir or Path(tempfile.mkdtemp(prefix="importhub-bench-files-"))
        _bench_measure(
            report,
            run=run,
            files=files,
            rows=rows,
            quick_sizes=quick_sizes,
            bulk_create_rows=bulk_create_rows,
            skip_slow=skip_slow,
            repeat=repeat,
            keep_files=keep_files,
            progress=progress,
            xlsx_rows=xlsx_rows,
        )
        if update_rows and mysql:
            _update_case(report, rows=update_rows, files=files, run=run, keep=keep_files, progress=progress)
        elif update_rows:
            progress("The update path's case (--update-rows) is MySQL/MariaDB only: skipped on SQLite.")
            report.measurements.append(
                Measurement(
                    key="update_engine",
                    name="engine update in place",
                    goals=[Goal(f">= {UPDATE_RATIO_GOAL:.0%} of LOAD DATA REPLACE", "n/a on SQLite")],
                )
            )
            report.notes.append(
                "The update path's case (--update-rows) runs on MySQL/MariaDB only: its baseline, LOAD DATA "
                "... REPLACE, has no SQLite counterpart. It was skipped."
            )
    return report


def _bench_measure(
    report: BenchReport,
    *,
    run: ScratchRun,
    files: Path,
    rows: int,
    quick_sizes: list[int],
    bulk_create_rows: int,
    skip_slow: bool,
    repeat: int,
    keep_files: bool,
    progress: Callable[[str], None],
    xlsx_rows: int,
) -> None:
    specs = _sales_specs(run)
    baseline_key, baseline_name = (
        ("load_data", "LOAD DATA") if report.vendor == "mysql" else ("executemany", "executemany")
    )
    token = run.token
    name = f"sales_bench_{token}.csv"
    path = files / name
    try:
        progress(f"Generating {rows:,} rows into {path} ...")
        report.file_bytes = sales_file_write(path=path, rows=rows)
        load_before = os.getloadavg()[0]
        baselines: dict[str, dict] = {}
        slow_rows = min(rows, bulk_create_rows) if bulk_create_rows > 0 else rows
        # Each round runs the baseline first, before the engine's clean-up (a large DELETE) leaves the server
        # work to do; the fastest round of each counts, and the highest peak memory.
        rounds = []
        for attempt in range(1, repeat + 1):
            if repeat > 1:
                progress(f"Round {attempt} of {repeat}")
            base = _baseline_run(baseline_key, path=path, rows=rows, specs=specs, run=run, progress=progress)
            rounds.append((base, _engine_run(path=path, name=name, rows=rows, run=run, progress=progress)))
        baselines[baseline_key] = _fastest([base for base, _ in rounds])
        engine = _fastest([engine for _, engine in rounds])
        if not skip_slow:
            baselines["bulk_create"] = _baseline_run(
                "bulk_create", path=path, rows=slow_rows, specs=specs, run=run, progress=progress
            )
        report.load_method = engine["load_method"]
        report.idle_rss_mb = engine["idle_rss_mb"]
        if repeat > 1:
            report.notes.append(
                f"The engine and {baseline_name} ran {repeat} times each, alternately: the fastest run of each "
                "is shown, with the highest peak RSS of its runs. All runs, in seconds: engine "
                f"{_seconds_list(engine)}; {baseline_name} {_seconds_list(baselines[baseline_key])}."
            )
        load_note = (
            f"Load average (1 min) before the measurements {load_before:.2f}, after {os.getloadavg()[0]:.2f}, "
            f"on {os.cpu_count()} CPUs: other work on the machine slows every figure."
        )
        _figures_add(
            report, engine=engine, baselines=baselines, baseline_key=baseline_key, skip_slow=skip_slow
        )
        if not keep_files:
            path.unlink(missing_ok=True)
        if xlsx_rows > 0:
            _xlsx_case(report, rows=xlsx_rows, files=files, run=run, keep=keep_files, progress=progress)
        for size in quick_sizes:
            label = size_label(size)
            quick_path = files / f"sales_quick_{label.replace(' ', '')}_{token}.csv"
            progress(f"Quick validation on a {label} file ...")
            try:
                quick_rows = sales_file_of_size(path=quick_path, size=size)
                report.measurements += _quick_measure(
                    path=quick_path, rows=quick_rows, label=label, size=size, table_name=run.table_name
                )
            finally:
                if not keep_files:
                    quick_path.unlink(missing_ok=True)
    finally:
        if not keep_files:
            path.unlink(missing_ok=True)
    report.notes += [
        f"Generated file: {rows:,} rows, {report.file_bytes:,} bytes ({report.file_bytes / rows:.0f} bytes a row), "
        "8 columns, ISO dates so that LOAD DATA reads the very same file."
        + (f" Kept: {path}" if keep_files else ""),
        "Engine: import_job_run (read, validate, load, summarise, commit); the submit step before it (store "
        "the upload, quick-validate with the row count) is shown apart and not in the rate. CPU s is the "
        "measuring process's own CPU time, every thread, not the database server's.",
        f"Each measurement ran in a process of its own with DEBUG off; peak RSS is that process's high-water "
        f"mark, about {report.idle_rss_mb:.0f} MB of it Python, Django, pandas and pyarrow once imported.",
        load_note,
        f"Scratch: the engine imported into {run.table_name}, a configuration of the run's own (the demo "
        "sales columns and types), and archived into the run's scratch folder; its tables, jobs and files "
        "were removed at the end. No user's table, archive or Google Drive was touched.",
    ]


def _xlsx_case(
    report: BenchReport,
    *,
    rows: int,
    files: Path,
    run: ScratchRun,
    keep: bool,
    progress: Callable[[str], None],
) -> None:
    """The .xlsx case: the whole import of a generated sheet (submit, which converts the sheet, then
    import_job_run) against python-calamine's raw read of the same sheet, each in a process of its own. The raw
    read runs before and after the import and the faster run counts, so a slow moment of the machine cannot
    flatter the ratio."""
    name = f"sales_bench_{run.token}.xlsx"
    path = files / name
    try:
        progress(f"Generating an .xlsx sheet of {rows:,} rows into {path} ...")
        size = sales_xlsx_write(path=path, rows=rows)
        progress("Baseline: python-calamine's raw read of the sheet ...")
        raws = [_child_run("xlsx_raw", {"path": str(path), "rows": rows}, run=run)]
        progress("The sheet's conversion alone ...")
        conversion = _child_run("xlsx_convert", {"path": str(path), "name": name}, run=run)
        engine = _engine_run(path=path, name=name, rows=rows, run=run, progress=progress)
        progress("Baseline again: python-calamine's raw read of the sheet ...")
        raws.append(_child_run("xlsx_raw", {"path": str(path), "rows": rows}, run=run))
        raw = _fastest(raws)
    finally:
        if not keep:
            path.unlink(missing_ok=True)
    seconds = engine["submit_seconds"] + engine["seconds"]
    raw_rate = raw["rows"] / raw["seconds"]
    ratio = rows / seconds / raw_rate
    report.measurements += [
        Measurement(
            key="xlsx_raw",
            name="xlsx: python-calamine raw read of the sheet",
            rows=raw["rows"],
            seconds=raw["seconds"],
            cpu_seconds=raw["cpu_seconds"],
            peak_rss_mb=raw["peak_rss_mb"],
            rated=True,
        ),
        Measurement(
            key="xlsx_engine",
            name="xlsx: engine (submit + import; ratio vs raw read)",
            rows=engine["rows"],
            seconds=seconds,
            peak_rss_mb=engine["peak_rss_mb"],
            ratio=ratio,
            rated=True,
            stages=engine.get("timings") or {},
            goals=[
                _goal(f">= {XLSX_RATIO_GOAL:.0%} of the raw read", ratio >= XLSX_RATIO_GOAL),
                _goal(f"peak RSS <= {ENGINE_RSS_GOAL_MB} MB", engine["peak_rss_mb"] <= ENGINE_RSS_GOAL_MB),
            ],
        ),
        Measurement(
            key="xlsx_conversion",
            name="  xlsx: the sheet's conversion alone (its process)",
            rows=conversion["rows"],
            seconds=conversion["seconds"],
            peak_rss_mb=conversion["converter_peak_rss_mb"],
            rated=True,
            goals=[
                _goal(
                    f"peak RSS <= {ENGINE_RSS_GOAL_MB} MB",
                    conversion["converter_peak_rss_mb"] <= ENGINE_RSS_GOAL_MB,
                )
            ],
        ),
    ]
    report.notes.append(
        f"xlsx case: {rows:,} rows x 8 columns, {size:,} bytes (shared strings, number, date and date-time cells). "
        f"The raw read is the faster of its runs before and after the import ({_seconds_list(raw)} s). "
        f"The engine's time is the submit ({engine['submit_seconds']:.1f} s: store, convert the sheet to the CSV "
        f"working file in a child process, quick validation) plus import_job_run ({engine['seconds']:.1f} s); "
        "its peak RSS is the importing process's, the conversion's is shown apart (calamine holds the sheet)."
    )


def table_fingerprint(table: str) -> dict:
    """A MySQL table's rows in three figures: how many, its ids with their keys (`dono`), and its values
    without the ids (64-bit XORs of the rows' MD5s: the same rows, in any order, give the same figures)."""
    quote = connection.ops.quote_name

    def xor(*columns: str) -> str:
        joined = ", ".join(quote(c) for c in columns)
        return f"BIT_XOR(CAST(CONV(LEFT(MD5(CONCAT_WS('|', {joined})), 16), 16, 10) AS UNSIGNED))"

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*), {xor('id', 'dono')}, {xor(*SALES_COLUMNS)} FROM {quote(table)}")
        count, keys, values = cursor.fetchone()
    return {"rows": count, "ids": str(keys), "values": str(values)}


def _update_case(
    report: BenchReport,
    *,
    rows: int,
    files: Path,
    run: ScratchRun,
    keep: bool,
    progress: Callable[[str], None],
) -> None:
    """The update path (MySQL): a file whose every row's key is already in a unique table, the engine updating
    each row in place against LOAD DATA ... REPLACE of the same file into a pre-filled table with the same
    UNIQUE key. Both tables are pre-filled from a second file with the same keys and other values (the
    engine's through an import of it, not timed), so every row really changes. The engine's result is checked:
    every row updated, none inserted, every id kept with its key, and the very values REPLACE left."""
    table = scratch_update_table_create(run)
    specs = [asdict(ColumnSpec.from_config(column)) for column in table_columns(table)]
    prefill_path = files / f"upd_prefill_{run.token}.csv"
    path = files / f"upd_bench_{run.token}.csv"
    try:
        progress(f"Update path: generating two files of {rows:,} rows with the same keys ...")
        sales_file_write(path=prefill_path, rows=rows, seed=2, unique_keys=True)
        size = sales_file_write(path=path, rows=rows, unique_keys=True)
        progress(f"Baseline: LOAD DATA ... REPLACE of {rows:,} rows into a pre-filled unique table ...")
        baseline_table = run.physical_name("load_data_replace")
        params = {"path": str(path), "prefill": str(prefill_path), "rows": rows, "specs": specs}
        try:
            base = _child_run("load_data_replace", {**params, "table": baseline_table}, run=run)
        finally:
            _scratch_table_drop(baseline_table)
            _server_settle()
        progress(f"Engine: pre-filling {table.table_name} (not timed) ...")
        prefill = _child_run(
            "engine",
            {
                "path": str(prefill_path),
                "name": prefill_path.name,
                "rows": rows,
                "table_name": table.table_name,
            },
            run=run,
        )
        _job_check(prefill, rows=rows, inserted=rows, what="pre-fill")
        _server_settle()
        before = table_fingerprint(table.table_name)
        progress("Engine: the same keys again, every row updated in place ...")
        engine = _child_run(
            "engine",
            {"path": str(path), "name": path.name, "rows": rows, "table_name": table.table_name},
            run=run,
        )
        after = table_fingerprint(table.table_name)
    finally:
        if not keep:
            prefill_path.unlink(missing_ok=True)
            path.unlink(missing_ok=True)
    _job_check(engine, rows=rows, inserted=0, what="update")
    expected = base["fingerprint"]
    if after["rows"] != rows or after["ids"] != before["ids"] or after["values"] != expected["values"]:
        raise BenchError(
            f"The engine's update did not update the {rows:,} rows in place: before {before}, after {after}, "
            f"LOAD DATA REPLACE left {expected}."
        )
    if after["values"] == before["values"]:
        raise BenchError("The update file changed no value: the case measures nothing.")
    base_rate = base["rows"] / base["seconds"]
    ratio = engine["updated_count"] / engine["seconds"] / base_rate
    report.measurements += [
        Measurement(
            key="update_engine",
            name="engine update in place (ratio vs LOAD DATA REPLACE)",
            rows=engine["updated_count"],
            seconds=engine["seconds"],
            cpu_seconds=engine["cpu_seconds"],
            peak_rss_mb=engine["peak_rss_mb"],
            ratio=ratio,
            rated=True,
            stages=engine.get("timings") or {},
            checks={
                "updated_count": engine["updated_count"],
                "inserted_count": engine["inserted_count"],
                "ids_before": before["ids"],
                "ids_after": after["ids"],
                "values_before": before["values"],
                "values_after": after["values"],
                "values_load_data_replace": expected["values"],
            },
            goals=[_goal(f">= {UPDATE_RATIO_GOAL:.0%} of LOAD DATA REPLACE", ratio >= UPDATE_RATIO_GOAL)],
        ),
        Measurement(
            key="update_baseline_load_data_replace",
            name="LOAD DATA REPLACE, same file",
            rows=base["rows"],
            seconds=base["seconds"],
            cpu_seconds=base["cpu_seconds"],
            peak_rss_mb=base["peak_rss_mb"],
            ratio=1.0,
            rated=True,
        ),
    ]
    report.notes.append(
        f"Update path: {rows:,} rows, {size:,} bytes, each order number (dono) its own, into {table.table_name} "
        "(dono unique, a duplicate updates the row in place), already holding the same keys with other values "
        "(imported first, not timed); the engine updated every row (updated_count "
        f"{engine['updated_count']:,}), kept every id and left the very values LOAD DATA REPLACE left. The "
        "baseline is LOAD DATA LOCAL INFILE ... REPLACE of the same file into a table with the same UNIQUE key, "
        "pre-filled the same way; REPLACE deletes and re-inserts each row (new ids). Its rows' ratio is against "
        "LOAD DATA REPLACE."
    )


def _job_check(figures: dict, *, rows: int, inserted: int, what: str) -> None:
    """The update case's engine runs: the job complete, every row written, and inserted as expected."""
    if (
        figures["status"] != JobStatus.COMPLETE
        or figures["rows"] != rows
        or figures["inserted_count"] != inserted
        or figures["updated_count"] != rows - inserted
    ):
        raise BenchError(
            f"The engine's {what} job ended with status {figures['status']}: {figures['rows']:,} rows written "
            f"of {rows:,}, {figures['inserted_count']:,} inserted and {figures['updated_count']:,} updated "
            f"(expected {inserted:,} inserted, {rows - inserted:,} updated), {figures['error_count']:,} "
            f"rejected {figures['job_error']}".strip()
        )


def _fastest(runs: list[dict]) -> dict:
    """The fastest of several runs of one measurement, with the highest peak memory of them all."""
    best = min(runs, key=lambda run: run["seconds"])
    return {
        **best,
        "peak_rss_mb": max(run["peak_rss_mb"] for run in runs),
        "runs_seconds": [run["seconds"] for run in runs],
    }


def _seconds_list(figures: dict) -> str:
    return ", ".join(f"{seconds:.2f}" for seconds in figures["runs_seconds"])


def _engine_run(
    *, path: Path, name: str, rows: int, run: ScratchRun, progress: Callable[[str], None]
) -> dict:
    progress("Engine: submit, then import_job_run ...")
    try:
        engine = _child_run(
            "engine", {"path": str(path), "name": name, "rows": rows, "table_name": run.table_name}, run=run
        )
    finally:
        scratch_rows_remove(run)
        _server_settle()
    if engine["status"] != JobStatus.COMPLETE or engine["rows"] != rows:
        raise BenchError(
            f"The engine's job ended with status {engine['status']} and {engine['rows']:,} rows imported "
            f"of {rows:,} ({engine['error_count']:,} rejected) {engine['job_error']}".strip()
        )
    return engine


def _baseline_run(
    task: str, *, path: Path, rows: int, specs: list[dict], run: ScratchRun, progress: Callable[[str], None]
) -> dict:
    progress(f"Baseline {task} on {rows:,} rows ...")
    table = run.physical_name(task)
    try:
        return _child_run(task, {"path": str(path), "rows": rows, "specs": specs, "table": table}, run=run)
    finally:
        _scratch_table_drop(table)


def _figures_add(
    report: BenchReport, *, engine: dict, baselines: dict, baseline_key: str, skip_slow: bool
) -> None:
    mysql = report.vendor == "mysql"
    base = baselines.get(baseline_key)
    base_rate = base["rows"] / base["seconds"] if base else None
    engine_rate = engine["rows"] / engine["seconds"]
    ratio = engine_rate / base_rate if base_rate else None
    if mysql:
        rate_goal = Goal(
            f">= {MYSQL_RATIO_GOAL:.0%} of LOAD DATA (floor {MYSQL_RATIO_FLOOR:.0%})",
            "PASS"
            if ratio >= MYSQL_RATIO_GOAL
            else ("MISS (floor met)" if ratio >= MYSQL_RATIO_FLOOR else "MISS"),
        )
    else:
        rate_goal = _goal(f">= {SQLITE_RATE_GOAL:,} rows/s", engine_rate >= SQLITE_RATE_GOAL)
    report.measurements.append(
        Measurement(
            key="engine",
            name="engine full import",
            rows=engine["rows"],
            seconds=engine["seconds"],
            cpu_seconds=engine["cpu_seconds"],
            peak_rss_mb=engine["peak_rss_mb"],
            ratio=ratio,
            rated=True,
            stages=engine.get("timings") or {},
            goals=[
                rate_goal,
                _goal(f"peak RSS <= {ENGINE_RSS_GOAL_MB} MB", engine["peak_rss_mb"] <= ENGINE_RSS_GOAL_MB),
            ],
        )
    )
    report.measurements.append(
        Measurement(
            key="engine_submit",
            name="  engine submit (store + quick validation)",
            rows=engine["rows"],
            seconds=engine["submit_seconds"],
        )
    )
    names = {
        "load_data": "LOAD DATA LOCAL INFILE, same file",
        "executemany": "executemany, plain INSERT",
        "bulk_create": f"Django bulk_create (batch {BULK_CREATE_BATCH:,})",
    }
    for key in (baseline_key, "bulk_create"):
        figures = baselines.get(key)
        if figures is None:
            continue
        partial = figures["rows"] < report.rows
        rate = figures["rows"] / figures["seconds"]
        report.measurements.append(
            Measurement(
                key=f"baseline_{key}",
                name=names[key] + (" *" if partial else ""),
                rows=figures["rows"],
                seconds=figures["seconds"],
                cpu_seconds=figures["cpu_seconds"],
                peak_rss_mb=figures["peak_rss_mb"],
                ratio=rate / base_rate if base_rate else None,
                rated=True,
            )
        )
        if partial:
            report.notes.append(
                f"* {names[key]} ran on the first {figures['rows']:,} of the {report.rows:,} rows (--bulk-create-rows); "
                f"its rows/s stands for the whole file, about {report.rows / rate:.0f} s."
            )
    if skip_slow:
        report.notes.append("Django bulk_create was skipped (--skip-slow).")
