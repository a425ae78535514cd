"""Read Excel and OpenDocument workbooks (.xlsx, .xlsm, .xls, .ods) as the CSV engine reads text files.

How a sheet becomes the engine's text chunks:
- python-calamine (Rust calamine) reads the workbook. It loads a whole sheet into memory (measured: 323 MB
  for a 500,000-row, 8-column .xlsx on its own), so the sheet is converted, in a child process of its own
  that ends before the import starts, into a CSV working file in IMPORT_WORK_DIR; the CSV engine then reads
  that file in bounded chunks, exactly as it reads an uploaded CSV (headers normalised, duplicates and empty
  headers checked the same way, every cell validated as text). The importing process never holds the sheet.
  An .xlsx/.xlsm sheet of more than SPLIT_BYTES of XML is handed to calamine in part workbooks of about
  PART_BYTES of its rows each (cut between rows, every other part of the workbook copied), so the converter's
  memory is bounded by the shared strings and one part, not by the sheet. (.xls holds at most 65,536 rows;
  an .ods sheet is read whole.) The cut finds the error cells (below) on the way, and every part is a copy
  of one template holding the workbook's other parts, decompressed once. The parts are cut in one thread and
  opened and parsed by calamine in another (it parses without the GIL) while the part before is written
  (_ahead): PARTS_HELD parts at most are held at once. Rows are taken in blocks; each block's columns are
  formatted at once (Arrow, numpy) and joined into CSV lines by Arrow, quoted as the csv module quotes. The
  process keeps pandas out (pyarrow would load it, 33 MB) and gives freed heap pages back after each part.
  Measured on 500k rows (bench_import, 2 cores): 4.6-4.8 s at 273 MB (before the threads: 6.4-6.5 s at
  289-305 MB; two parsing threads: 5.0 s at 334-341 MB; python-calamine's own read of the whole sheet:
  2.9-4.1 s at 500 MB). The parsing thread sets the pace: calamine opens each part's shared strings again
  and parses its cells; python-calamine has no row streaming (dimastbk/python-calamine#42).
- Columns count from A; the header's last non-empty cell ends them: a row with a value right of it is
  ragged (`ragged_row`), as in a CSV.
- The sheet is the first one, unless the table names one (`ImportTable.sheet_name`); a missing sheet is the
  file error `sheet_missing`, naming the sheets there are.
- Cells become text: strings as they are; whole numbers (stored as floats, 1.0) as "1"; other numbers in their
  shortest round-trip form, never in exponent notation (0.1 stays "0.1", 1.5e-05 is "0.000015"); booleans
  "true"/"false"; Excel dates as ISO text (`2026-10-03`, `2026-10-03 12:30:15`, a time of day `12:30:00`),
  which a date or datetime column of a workbook accepts whatever its configured formats
  (WORKBOOK_ATTR in the chunk frame's `attrs`, read by validation); empty cells as empty.
- Row numbers are the sheet's own (the header's row, then each data row as Excel numbers it); wholly empty
  rows are skipped like blank lines and keep their numbers out of use.
- An error cell of an .xlsx/.xlsm sheet (`#DIV/0!`, `#N/A`...) is a row error `excel_error` naming the cell
  (calamine reads such cells as empty, so the sheet's XML is scanned for them in the same child process).
"""

from __future__ import annotations

import bisect
import concurrent.futures
import contextlib
import csv
import ctypes
import functools
import hashlib
import importlib.abc
import io
import itertools
import json
import logging
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

logger = logging.getLogger(__name__)

WORKBOOK_EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".ods")
# Workbooks that are ZIP containers: the ZIP limits (size, ratio) apply to them.
ZIP_WORKBOOK_EXTENSIONS = (".xlsx", ".xlsm", ".ods")
# The key in a chunk frame's `attrs` that says it comes from a workbook: {"cell_errors": [...]}.
WORKBOOK_ATTR = "importhub_workbook"
# Working files of conversions that no import read to the end are removed after this long.
WORKING_FILE_MAX_AGE_SECONDS = 24 * 3600
_ROWS_DTYPE = np.int64
_CELL_REF_RE_ANY_ORDER = re.compile(rb'<(?:\w+:)?c\b([^>]*?\bt="e"[^>]*)>(.*?)</(?:\w+:)?c>', re.S)
_REF_RE = re.compile(rb'\br="([A-Z]{1,3})(\d+)"')
_VALUE_RE = re.compile(rb"<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>")
_SCAN_BLOCK = 4 * 1024 * 1024


def workbook_is(name: str) -> bool:
    """Whether a file name is a workbook the reader takes (by its extension, as intake decides)."""
    return name.lower().endswith(WORKBOOK_EXTENSIONS)


@dataclass(frozen=True)
class WorkbookSource:
    """One sheet of a workbook, converted: the working CSV, its rows map, and what the conversion found."""

    sheet: str
    working: str  # the CSV working file the engine reads
    rows: str  # the sheet row number of each data record of the working file (int64, native order)
    header_row: int
    cell_errors: tuple[tuple[int, int, str, str], ...]  # (sheet row, column index from 0, cell, error text)
    records: int = 0  # data records written
    seconds: float = 0.0  # the conversion's wall-clock time (0 when an earlier conversion was reused)
    peak_rss_mb: float = 0.0  # the converting process's high-water mark


def _reading():
    from . import reading  # reading dispatches here: imported late, so neither imports the other first

    return reading


def workbook_convert(*, path: Path, name: str, sheet: str | None) -> WorkbookSource:
    """Convert the sheet (the first one when `sheet` is empty) to a CSV working file, once per stored file.

    The conversion runs in a child process (calamine holds the whole sheet); a second call for the same
    stored file and sheet reuses the working file. Raises ReadError for an unreadable workbook, a missing
    sheet or an empty sheet."""
    reading = _reading()
    work_dir = _work_dir()
    stat = path.stat()
    key = hashlib.sha256(
        f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{sheet or ''}".encode()
    ).hexdigest()
    working = work_dir / f"sheet-{key[:24]}.csv"
    meta_path = working.with_suffix(".json")
    rows_path = working.with_suffix(".rows")
    started = time.perf_counter()
    converted = False
    if not (meta_path.exists() and working.exists() and rows_path.exists()):
        converted = True
        _stale_remove(work_dir)
        spec = {"path": str(path), "sheet": sheet or "", "working": str(working), "meta": str(meta_path)}
        spec.update(
            rows=str(rows_path),
            split_bytes=SPLIT_BYTES,
            part_bytes=PART_BYTES,
            block_rows=_BLOCK_ROWS,
            threads=PART_THREADS,
            held=PARTS_HELD,
        )
        completed = subprocess.run(
            [sys.executable, "-c", "from imports.services.workbooks import child_main; child_main()"],
            input=json.dumps(spec),
            cwd=str(Path(__file__).resolve().parents[2]),
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode or not meta_path.exists():
            for leftover in (working, rows_path, meta_path):
                leftover.unlink(missing_ok=True)
            logger.warning("Converting %s failed: %s", name, completed.stderr.strip()[-2000:])
            raise reading.ReadError(f"{name} could not be read as a workbook.", code="unreadable")
    meta = json.loads(meta_path.read_text())
    if meta.get("error"):
        code, message = meta["error"]
        for leftover in (working, rows_path, meta_path):
            leftover.unlink(missing_ok=True)
        raise reading.ReadError(message.replace("{name}", name), code=code, details=meta.get("details"))
    source = WorkbookSource(
        sheet=meta["sheet"],
        working=str(working),
        rows=str(rows_path),
        header_row=meta["header_row"],
        cell_errors=tuple(tuple(cell) for cell in meta["cell_errors"]),
        records=meta["records"],
        seconds=time.perf_counter() - started if converted else 0.0,
        peak_rss_mb=meta.get("peak_rss_mb", 0.0),
    )
    if converted:
        logger.info(
            "%s: sheet '%s' converted, %d rows in %.1f s (converter's peak RSS %.0f MB)",
            name,
            source.sheet,
            source.records,
            source.seconds,
            source.peak_rss_mb,
        )
    return source


def workbook_release(source: WorkbookSource) -> None:
    """Remove a conversion's working files (the workbook itself stays: it is the archived original)."""
    working = Path(source.working)
    for leftover in (working, working.with_suffix(".rows"), working.with_suffix(".json")):
        leftover.unlink(missing_ok=True)


def workbook_row_numbers(source: WorkbookSource) -> np.ndarray:
    """The sheet row number of each data record of the working file, in order (memory-mapped)."""
    path = Path(source.rows)
    if not path.stat().st_size:
        return np.empty(0, dtype=_ROWS_DTYPE)
    return np.memmap(path, dtype=_ROWS_DTYPE, mode="r")


def workbook_chunks(*, source: WorkbookSource, chunks: Iterator, columns: list[str]) -> Iterator:
    """The CSV engine's chunks of the working file, with the sheet's row numbers and error cells attached."""
    rows = workbook_row_numbers(source)
    errors = sorted(source.cell_errors)
    error_rows = np.asarray([cell[0] for cell in errors], dtype=_ROWS_DTYPE)
    for chunk in chunks:
        # The working file has no blank lines: its n-th data record is row n + 1 there.
        chunk.row_numbers = np.asarray(rows[np.asarray(chunk.row_numbers, dtype=np.int64) - 2])
        for ragged in chunk.ragged:
            ragged.row = int(rows[ragged.row - 2])
        cell_errors = []
        if len(error_rows) and len(chunk.row_numbers):
            first, last = int(chunk.row_numbers[0]), int(chunk.row_numbers[-1])
            start, stop = np.searchsorted(error_rows, [first, last + 1])
            if stop > start:
                positions = {int(row): at for at, row in enumerate(chunk.row_numbers)}
                for row, column, ref, text in errors[start:stop]:
                    if row in positions and column < len(columns):
                        cell_errors.append((positions[row], columns[column], ref, text))
        chunk.frame.attrs[WORKBOOK_ATTR] = {"cell_errors": cell_errors}
        yield chunk


def _work_dir() -> Path:
    from django.conf import settings

    work_dir = Path(settings.IMPORT_WORK_DIR) / "sheets"
    work_dir.mkdir(parents=True, exist_ok=True)
    return work_dir


def _stale_remove(work_dir: Path) -> None:
    cutoff = time.time() - WORKING_FILE_MAX_AGE_SECONDS
    for leftover in work_dir.glob("sheet-*"):
        try:
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink(missing_ok=True)
        except OSError:
            continue


# --- Cell values as text ---------------------------------------------------------------------------------


def number_text(value: float) -> str:
    """A number cell as text: whole numbers without ".0", others in their shortest round-trip digits, never
    in exponent notation (which no number column reads)."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    value = float(value)
    if value.is_integer():
        return str(int(value))
    text = repr(value)
    if "e" in text:
        text = np.format_float_positional(value, unique=True, trim="-")
    return text


def _datetime_text(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f" if value.microsecond else "%Y-%m-%d %H:%M:%S")


def _time_text(value: clock) -> str:
    return value.strftime("%H:%M:%S.%f" if value.microsecond else "%H:%M:%S")


def _duration_text(value: timedelta) -> str:
    seconds = value.total_seconds()
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{int(hours)}:{int(minutes):02d}:{number_text(round(seconds, 6)).zfill(2)}"


_CONVERTERS = {
    str: lambda value: value,
    float: number_text,
    int: str,
    bool: lambda value: "true" if value else "false",
    datetime: _datetime_text,
    date: date.isoformat,
    clock: _time_text,
    timedelta: _duration_text,
}


def cell_text(value) -> str:
    """One cell as the text the engine validates (see the module's docstring for the rules)."""
    if value is None:
        return ""
    return _CONVERTERS.get(type(value), str)(value)


# --- The conversion (in the child process) -----------------------------------------------------------------


def child_main() -> None:
    """Entry point of the conversion's process: read the spec on stdin, write the CSV, the rows and the meta."""
    spec = json.loads(sys.stdin.read())
    # pyarrow imports pandas (33 MB) to look at every Python value it converts; the converter has no use for it.
    sys.meta_path.insert(0, _NoPandas())
    # The system allocator gives back what a block's columns used; Arrow's default pool keeps it (20 MB more
    # at the peak, measured on 500k rows).
    pa.set_memory_pool(pa.system_memory_pool())
    meta = _convert(
        path=Path(spec["path"]),
        sheet=spec["sheet"],
        working=Path(spec["working"]),
        rows=Path(spec["rows"]),
        split_bytes=spec["split_bytes"],
        part_bytes=spec["part_bytes"],
        block_rows=spec["block_rows"],
        threads=spec["threads"],
        held=spec["held"],
    )
    meta["peak_rss_mb"] = _peak_rss_mb()
    Path(spec["meta"]).write_text(json.dumps(meta))


class _NoPandas(importlib.abc.MetaPathFinder):
    """Keeps pandas out of the converter's process: pyarrow then takes it as not installed."""

    def find_spec(self, name, path, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"{name} is not used by the sheet's converter", name=name)
        return None


def _peak_rss_mb() -> float:
    """This process's high-water mark (VmHWM: ru_maxrss would start at the parent's peak after fork)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for entry in status:
                if entry.startswith("VmHWM:"):
                    return int(entry.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _convert(
    *,
    path: Path,
    sheet: str,
    working: Path,
    rows: Path,
    split_bytes: int,
    part_bytes: int,
    block_rows: int,
    threads: int,
    held: int,
) -> dict:
    import python_calamine

    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    except (python_calamine.CalamineError, OSError, ValueError) as exc:
        logger.info("Workbook %s cannot be opened: %s", path, exc)
        return {"error": ["unreadable", f"{{name}} cannot be read as a workbook: {exc}"]}
    try:
        names = workbook.sheet_names
        if not names:
            return {"error": ["empty_file", "{name} has no sheets."]}
        if sheet:
            if sheet not in names:
                listed = ", ".join(f"'{n}'" for n in names)
                return {
                    "error": ["sheet_missing", f"{{name}} has no sheet '{sheet}'; its sheets are {listed}."],
                    "details": {"sheet": sheet, "sheets": names},
                }
            chosen = sheet
        else:
            chosen = names[0]
        errors: list[tuple[int, int, str, str]] = []
        # calamine reads an error cell as empty: its text goes back in, so the rejected row shows it.
        by_row: dict[int, list[tuple[int, str]]] = {}

        def errors_add(found: list[tuple[int, int, str, str]]) -> None:
            errors.extend(found)
            for row, column, _, text in found:
                by_row.setdefault(row, []).append((column, text))

        parts = _sheet_sources(
            workbook=workbook,
            path=path,
            sheet=chosen,
            index=names.index(chosen),
            scratch=working,
            split_bytes=split_bytes,
            part_bytes=part_bytes,
        )
        with (
            working.open("wb") as out,
            rows.open("wb") as numbers,
            contextlib.closing(_ahead(parts, threads=threads, held=held)) as ready,
        ):
            sink = _SheetWriter(out=out, numbers=numbers, block_rows=block_rows)
            for part in ready:
                # A part workbook's error cells were found as it was cut; the whole sheet's are looked for here.
                errors_add(
                    part.errors
                    if part.errors is not None
                    else _error_cells(path=path, sheet=chosen, index=names.index(chosen))
                )
                with part as data:
                    start = data.start
                    if start is None:
                        continue
                    # iter_rows starts at the sheet's first row (leading empty rows included) and at its first
                    # used column (python-calamine 0.9.1, .xlsx, .xls and .ods): Excel's row is offset + 1, and
                    # the columns are made whole from column A.
                    pad = [""] * start[1]
                    rows_left = data.iter_rows()
                    # Pass the empty rows above this part's first used row.
                    next(itertools.islice(rows_left, start[0], start[0]), None)
                    excel_row = start[0] + 1
                    error_rows = sorted(by_row)
                    while block := list(itertools.islice(rows_left, sink.block_rows)):
                        if pad:
                            block = [pad + cells for cells in block]
                        end = excel_row + len(block)
                        for row in error_rows[bisect.bisect_left(error_rows, excel_row) :]:
                            if row >= end:
                                break
                            cells = block[row - excel_row]
                            for column, text in by_row[row]:
                                if column < len(cells):
                                    cells[column] = text
                        sink.rows_add(excel_row, block)
                        excel_row = end
            sink.flush()
        header_row, written = sink.header_row, sink.written
    finally:
        with contextlib.suppress(python_calamine.WorkbookClosed):
            workbook.close()
    if header_row is None:
        return {"error": ["empty_file", f"{{name}} is empty (sheet '{chosen}')."]}
    cell_errors = list(errors)
    return {"sheet": chosen, "header_row": header_row, "records": written, "cell_errors": cell_errors}


# An .xlsx/.xlsm sheet whose XML is larger than this is read in parts of about PART_BYTES each: calamine
# holds a whole sheet (about 650 bytes a row of 8 columns), a part's rows only.
SPLIT_BYTES = 48 * 1024 * 1024
PART_BYTES = 20 * 1024 * 1024
PART_THREADS = 1
PARTS_HELD = 2
_READ_BYTES = 4 * 1024 * 1024
_SHEET_DATA_OPEN_RE = re.compile(rb"<((?:\w+:)?)sheetData\b[^>]*?(/?)>")
_DIMENSION_RE = re.compile(rb"<(?:\w+:)?dimension\b[^>]*/>")
_SHEET_DATA_CLOSE_RE = re.compile(rb"</(?:\w+:)?sheetData>")


def _ahead(parts: Iterator[_Part], *, threads: int, held: int) -> Iterator[_Part]:
    """The parts in order, opened and parsed by `threads` threads ahead of the caller (calamine parses without
    the GIL, so parts are parsed side by side and beside the caller's formatting), while the next ones are
    cut in a thread of their own. At most `held` parts are open or being opened at once, the caller's
    included; a part is taken as done when the next one is asked for. A failure in a thread is raised here,
    and whatever the threads made is removed when the caller stops early."""
    slots = threading.Semaphore(held)
    pending: queue.Queue = queue.Queue()
    stopping = threading.Event()
    done = object()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sheet-part")

    def feed() -> None:
        try:
            while True:
                slots.acquire()
                if stopping.is_set():
                    return
                part = next(parts, done)  # the cutting happens here
                if part is done:
                    pending.put(done)
                    return
                pending.put((part, pool.submit(part.open)))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, raised there
            pending.put(exc)

    feeder = threading.Thread(target=feed, name="sheet-cut", daemon=True)
    feeder.start()
    try:
        while (item := pending.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            part, opening = item
            try:
                opening.result()
            except BaseException:
                part.__exit__(None, None, None)
                raise
            yield part
            slots.release()
    finally:
        stopping.set()
        slots.release()
        feeder.join()
        pool.shutdown(wait=True)
        while not pending.empty():
            left = pending.get()
            if isinstance(left, tuple):
                left[0].__exit__(None, None, None)
        close = getattr(parts, "close", None)
        if close is not None:
            close()


class _Part:
    """A sheet to read, as a context manager: the workbook's own, or a part workbook removed afterwards.
    open() does calamine's work (opening a part workbook, parsing the sheet) and may run in a thread."""

    def __init__(
        self, *, name: str, workbook=None, path: Path | None = None, errors: list | None = None
    ) -> None:
        self.name, self.workbook, self.path = name, workbook, path
        self.sheet = None
        self._owned = None
        # The part's error cells, found as it was cut; None: the whole sheet, not looked at yet.
        self.errors = errors

    def open(self) -> None:
        if self.path is not None:
            import python_calamine

            self._owned = self.workbook = python_calamine.CalamineWorkbook.from_path(str(self.path))
        self.sheet = self.workbook.get_sheet_by_name(self.name)

    def __enter__(self):
        return self.sheet

    def __exit__(self, *exc_info) -> None:
        self.sheet = None
        if self._owned is not None:
            self._owned.close()
            self._owned = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)
        _heap_trim()


def _heap_trim() -> None:
    """Give the freed heap pages back: calamine's cells and Python's objects share glibc's heap, and a part's
    freed cells would otherwise stay in the process's memory, scattered among live objects."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim():
    """glibc's malloc_trim, looked up once (None elsewhere, e.g. musl)."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None


def _sheet_sources(
    *, workbook, path: Path, sheet: str, index: int, scratch: Path, split_bytes: int, part_bytes: int
) -> Iterator[_Part]:
    """The sheet whole, or, for a large .xlsx/.xlsm sheet, part workbooks of consecutive rows in order (cut
    here, not opened yet)."""
    member = None
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            member = _sheet_member(archive=archive, sheet=sheet, index=index)
            if member is not None and archive.getinfo(member).file_size <= split_bytes:
                member = None
    if member is None:
        yield _Part(name=sheet, workbook=workbook)
        return
    workbook.close()  # its shared strings: each part has its own copy
    _heap_trim()
    for part, errors in _sheet_parts(path=path, member=member, scratch=scratch, part_bytes=part_bytes):
        yield _Part(name=sheet, path=part, errors=errors)


def _sheet_parts(
    *, path: Path, member: str, scratch: Path, part_bytes: int
) -> Iterator[tuple[Path, list[tuple[int, int, str, str]]]]:
    """Part workbooks of a sheet, each with the sheet's XML head (less its <dimension>, which would make
    calamine reserve the whole sheet), about `part_bytes` of its rows, cut between rows, and every other part
    of the workbook (shared strings, styles), with the error cells of its rows. Rows keep their numbers."""
    template = scratch.with_name(f"{scratch.stem}.parts.xlsx")
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(template.unlink, missing_ok=True)
        yield from _sheet_parts_cut(
            path=path, member=member, scratch=scratch, part_bytes=part_bytes, template=template
        )


def _sheet_parts_cut(
    *, path: Path, member: str, scratch: Path, part_bytes: int, template: Path
) -> Iterator[tuple[Path, list[tuple[int, int, str, str]]]]:
    with zipfile.ZipFile(path) as archive:
        others = [info for info in archive.infolist() if info.filename != member]
        with archive.open(member) as stream:
            data = b""
            while True:
                block = stream.read(_READ_BYTES)
                data += block
                opening = _SHEET_DATA_OPEN_RE.search(data)
                if opening or not block:
                    break
            if not opening or opening.group(2) == b"/":
                return
            prefix = opening.group(1)
            head = _DIMENSION_RE.sub(b"", data[: opening.end()])
            tail = b"</" + prefix + b"sheetData></" + prefix + b"worksheet>"
            row_end = b"</" + prefix + b"row>"
            data = data[opening.end() :]
            number, done = 0, False
            while not done:
                part = scratch.with_name(f"{scratch.stem}.part{number}.xlsx")
                if not template.exists():
                    # Every other part of the workbook, decompressed once: each part workbook is a copy of it
                    # with its share of the sheet added (the shared strings alone are 17 MB at 500k rows).
                    with zipfile.ZipFile(template, "w", zipfile.ZIP_STORED) as out:
                        for info in others:
                            out.writestr(info.filename, archive.read(info))
                    _heap_trim()
                shutil.copyfile(template, part)
                errors: list[tuple[int, int, str, str]] = []
                try:
                    with (
                        zipfile.ZipFile(part, "a", zipfile.ZIP_STORED) as out,
                        out.open(member, "w", force_zip64=True) as sheet,
                    ):
                        # Rows are written as they are read: the cut holds a read's worth of XML, not a part.
                        put = functools.partial(_piece_put, sheet, errors)
                        sheet.write(head)
                        size = 0
                        while not done and size < part_bytes:
                            # The closing tag is looked for only once its name is there (a regex is slow).
                            closing = _SHEET_DATA_CLOSE_RE.search(data) if b"sheetData>" in data else None
                            limit = closing.start() if closing else len(data)
                            want = part_bytes - size
                            if limit > want:
                                # More rows here than the part takes: cut after the row that crosses the size.
                                cut = data.find(row_end, want, limit)
                                if cut >= 0:
                                    cut += len(row_end)
                                    size += put(data[:cut])
                                    data = data[cut:]
                                    break
                            if closing:
                                put(data[:limit])
                                done = True
                                break
                            cut = data.rfind(row_end)
                            if cut >= 0:
                                cut += len(row_end)
                                size += put(data[:cut])
                                data = data[cut:]
                            block = stream.read(_READ_BYTES)
                            if not block:
                                put(data)
                                done = True
                                break
                            data += block
                        sheet.write(tail)
                except BaseException:
                    part.unlink(missing_ok=True)
                    raise
                yield part, errors
                number += 1


def _piece_put(sheet, errors: list, piece: bytes) -> int:
    """Write whole rows of sheet XML to a part, noting their error cells; their length."""
    sheet.write(piece)
    errors.extend(_errors_in(piece))
    return len(piece)


_BLOCK_ROWS = 5_000


class _SheetWriter:
    """Writes a sheet's rows to the working CSV a block at a time, converting each column of a block at once
    (most columns hold one kind of cell: texts pass as they are, numbers, dates and date-times are formatted
    by numpy or Arrow), and the sheet row number of each data record to the rows file. Wholly empty rows are
    left out. The header and ragged rows are written by the csv module, blocks by Arrow (_csv_lines), quoted
    alike."""

    def __init__(self, *, out, numbers, block_rows: int) -> None:
        self.out = out  # binary
        self.numbers = numbers
        self.block_rows = block_rows
        self.header_row: int | None = None
        self.written = 0
        self._block: list[list] = []
        self._block_rows: list[int] = []

    def add(self, excel_row: int, cells: list) -> None:
        if self.header_row is None:
            texts = [cell_text(value) for value in cells]
            if not any(texts):
                return
            self.header_row = excel_row
            # The sheet's columns end with its last header; a value right of it makes its row ragged.
            self.width = max(at for at, text in enumerate(texts) if text) + 1
            self._rows_write([texts[: self.width]])
            return
        if len(cells) > self.width:
            if not any(cell_text(value) for value in cells[self.width :]):
                cells = cells[: self.width]
            else:
                self._ragged(excel_row, cells)
                return
        elif len(cells) < self.width:
            cells = cells + [""] * (self.width - len(cells))
        self._block.append(cells)
        self._block_rows.append(excel_row)
        if len(self._block) >= self.block_rows:
            self.flush()

    def rows_add(self, first: int, block: list[list]) -> None:
        """Rows numbered from `first`: a block whose rows all have the header's width is taken whole."""
        at = 0
        while self.header_row is None and at < len(block):
            self.add(first + at, block[at])
            at += 1
        if at:
            block, first = block[at:], first + at
        if not block:
            return
        if set(map(len, block)) != {self.width}:
            for offset, cells in enumerate(block):
                self.add(first + offset, cells)
            return
        self._block.extend(block)
        self._block_rows.extend(range(first, first + len(block)))
        if len(self._block) >= self.block_rows:
            self.flush()

    def _rows_write(self, records) -> None:
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(records)
        self.out.write(text.getvalue().encode("utf-8"))

    def _ragged(self, excel_row: int, cells: list) -> None:
        """A row with values right of the last header: written as it is, so the reader reports it ragged."""
        self.flush()
        texts = [cell_text(value) for value in cells]
        while texts and not texts[-1]:
            texts.pop()
        self._rows_write([texts])
        self.numbers.write(np.asarray([excel_row], dtype=_ROWS_DTYPE).tobytes())
        self.written += 1

    def flush(self) -> None:
        if not self._block:
            return
        columns = [_column_array(values) for values in itertools.zip_longest(*self._block, fillvalue="")]
        numbers = np.asarray(self._block_rows, dtype=_ROWS_DTYPE)
        self._block, self._block_rows = [], []
        filled = pc.greater(pc.binary_length(columns[0]), 0)
        for column in columns[1:]:
            filled = pc.or_(filled, pc.greater(pc.binary_length(column), 0))
        if filled.false_count:
            columns = [column.filter(filled) for column in columns]
            numbers = numbers[filled.to_numpy(zero_copy_only=False)]
        if not len(columns[0]):
            return
        self.out.write(_csv_lines(columns))
        self.numbers.write(numbers.tobytes())
        self.written += len(columns[0])


def _csv_lines(columns: list[pa.Array]) -> memoryview:
    """Rows of text columns as CSV lines, quoted as the csv module quotes (only a value with a delimiter, a
    quote or a line break, its quotes doubled), all in Arrow: the lines' values buffer is the text itself."""
    if any(column.null_count for column in columns):
        # A null would make its whole line null, and the line would vanish from the file: never write one.
        raise ValueError("a sheet column was converted with missing values")
    fields = [_csv_quoted(column) for column in columns]
    lines = pc.binary_join_element_wise(*fields, _text(",")) if len(fields) > 1 else fields[0]
    lines = pc.binary_join_element_wise(lines, _text(""), _text("\n"))  # the line, "\n", an empty part
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset : lines.offset + len(lines) + 1]
    return memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]]


_CSV_SPECIAL = (b",", b'"', b"\r", b"\n")


@functools.cache
def _text(value: str) -> pa.Scalar:
    # Made on first use, not at import: pa.scalar looks for pandas, which the converter keeps out (child_main).
    return pa.scalar(value, type=pa.large_string())


def _csv_quoted(column: pa.Array) -> pa.Array:
    data = column.buffers()[2]
    if data is None:
        return column
    text = data.to_pybytes()
    if not any(special in text for special in _CSV_SPECIAL):
        return column
    needs = pc.match_substring_regex(column, '[,"\r\n]')
    quoted = pc.binary_join_element_wise(
        _text('"'), pc.replace_substring(column, '"', '""'), _text('"'), _text("")
    )
    return pc.if_else(needs, quoted, column)


def _column_array(values: tuple) -> pa.Array:
    """One column of a block as Arrow text, by the rules of cell_text (one pass per kind of column)."""
    text = pa.large_string()  # 64-bit offsets: a block of long texts cannot overflow them
    kinds = set(map(type, values))
    if kinds == {str}:
        return pa.array(values, type=text)
    if kinds == {float}:
        return _numbers_text(np.fromiter(values, dtype=np.float64, count=len(values)))
    if kinds == {date}:
        return pa.array(values, type=pa.date32()).cast(text)
    if kinds == {datetime}:
        # Whole seconds: "2026-10-03 08:15:00". The cast to seconds refuses a fraction (it would lose it),
        # and a fraction is written only where a cell has one: then cell by cell.
        with contextlib.suppress(pa.ArrowInvalid):
            return pa.array(values, type=pa.timestamp("us")).cast(pa.timestamp("s")).cast(text)
    return pa.array([cell_text(value) for value in values], type=text)


def _numbers_text(numbers: np.ndarray) -> pa.Array:
    """number_text over an array: Arrow's float text is the shortest round-trip one too (and many times faster
    than numpy's); whole numbers go through int64, and the values it writes with an exponent (or not finite)
    are formatted one by one."""
    text = pa.large_string()
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(numbers)
        whole = finite & (np.floor(numbers) == numbers) & (np.abs(numbers) < 2.0**63)
    written = pa.array(numbers).cast(text)
    if whole.any():
        ints = pa.array(np.where(whole, numbers, 0).astype(np.int64)).cast(text)
        written = pc.if_else(pa.array(whole), ints, written)
    odd = np.flatnonzero(np.asarray(pc.match_substring(written, "e")) | ~finite)
    if not len(odd):
        return written
    values = written.to_pylist()
    for at in odd:
        values[at] = number_text(float(numbers[at]))
    return pa.array(values, type=text)


def _error_cells(*, path: Path, sheet: str, index: int) -> list[tuple[int, int, str, str]]:
    """The error cells (t="e") of an .xlsx/.xlsm sheet: (row, column from 0, cell, text). Others: none."""
    if not zipfile.is_zipfile(path):
        return []
    try:
        with zipfile.ZipFile(path) as archive:
            member = _sheet_member(archive=archive, sheet=sheet, index=index)
            if member is None:
                return []
            found = []
            with archive.open(member) as stream:
                rest = b""
                while True:
                    block = stream.read(_SCAN_BLOCK)
                    data = rest + block
                    cut = data.rfind(b"</row>") + 6 if block else len(data)
                    if cut < 6 and block:
                        rest = data
                        continue
                    data, rest = data[:cut], data[cut:]
                    found += _errors_in(data)
                    if not block:
                        break
            return found
    except (zipfile.BadZipFile, KeyError, OSError):
        return []


def _errors_in(data: bytes) -> list[tuple[int, int, str, str]]:
    """The error cells (t="e") in a piece of sheet XML of whole rows: (row, column from 0, cell, text)."""
    found = []
    if b't="e"' in data:
        for attrs, body in _CELL_REF_RE_ANY_ORDER.findall(data):
            ref = _REF_RE.search(attrs)
            if ref is None:
                continue
            letters, number = ref.group(1).decode(), int(ref.group(2))
            value = _VALUE_RE.search(body)
            text = value.group(1).decode("utf-8", "replace") if value else "#VALUE!"
            found.append((number, _column_index(letters), f"{letters}{number}", text))
    return found


def _sheet_member(*, archive: zipfile.ZipFile, sheet: str, index: int) -> str | None:
    """The ZIP member holding an .xlsx sheet's XML, through workbook.xml and its relationships."""
    names = set(archive.namelist())
    if "xl/workbook.xml" not in names:
        return None
    workbook = archive.read("xl/workbook.xml").decode("utf-8", "replace")
    rels = archive.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
    sheets = re.findall(r"<(?:\w+:)?sheet\b([^>]*)/?>", workbook)
    target_id = None
    for position, attrs in enumerate(sheets):
        name = re.search(r'\bname="([^"]*)"', attrs)
        if (name and _xml_unescape(name.group(1)) == sheet) or (name is None and position == index):
            rid = re.search(r'\br:id="([^"]*)"|\b\w+:id="([^"]*)"', attrs)
            target_id = rid and (rid.group(1) or rid.group(2))
            break
    if not target_id:
        return None
    for attrs in re.findall(r"<(?:\w+:)?Relationship\b([^>]*)/?>", rels):
        if re.search(rf'\bId="{re.escape(target_id)}"', attrs):
            target = re.search(r'\bTarget="([^"]*)"', attrs)
            if not target:
                return None
            value = target.group(1)
            member = value.lstrip("/") if value.startswith("/") else f"xl/{value}"
            return member if member in names else None
    return None


def _xml_unescape(text: str) -> str:
    return (
        text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&apos;", "'")
    ).replace("&amp;", "&")


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + (ord(letter) - 64)
    return index - 1
