"""A sheet's conversion to the CSV working file: every cell's text is cell_text's, whatever path writes it.

The converter formats whole columns at once (numpy, Arrow) and writes a block with Arrow's CSV writer when no
value needs quoting; the oracle here is python-calamine's own rows put through cell_text one cell at a time.
"""

import csv
import json
import random
import subprocess
import sys
import threading
import time as clock
import zipfile
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import openpyxl
import pyarrow as pa
import pytest
import python_calamine

from imports.services import workbooks
from imports.services.reading import ReadError
from imports.services.workbooks import (
    cell_text,
    number_text,
    workbook_convert,
    workbook_release,
    workbook_row_numbers,
)

HEADER = ["text", "number", "day", "stamp", "mixed"]


def _tricky_workbook(path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    rows = [
        ["plain", 1.0, date(2026, 10, 3), datetime(2026, 10, 3, 8, 15), 7],
        ["Müller ß", 0.1, date(1900, 3, 1), datetime(1900, 3, 1, 0, 0, 1), True],
        ["00123", 1.5e-05, date(9999, 12, 31), datetime(9999, 12, 31, 23, 59, 59), "text"],
        [None, None, None, None, None],  # wholly empty: left out, its number unused
        ["", 1e16, date(2024, 2, 29), datetime(2024, 2, 29, 12, 0), time(12, 30)],
        ["x", -2.0, date(2026, 1, 1), datetime(2026, 1, 1), timedelta(hours=30, minutes=5)],
        ["café", 28626452750.40234, date(2026, 1, 2), datetime(2026, 1, 2, 1, 2, 3), 2.5],
        ["y", 1e-7, date(2026, 1, 3), datetime(2026, 1, 3, 4, 5, 6), None],
    ]
    # A block with values that need quoting (delimiter, quote, line break) and a date-time with a fraction.
    quoted = [
        ["a,b", 3.0, date(2026, 2, 1), datetime(2026, 2, 1, 8, 0, 0, 250000), 'say "hi"'],
        ["two\nlines", 4.0, date(2026, 2, 2), datetime(2026, 2, 2, 9, 0), "cr\rhere"],
    ]
    for row in rows + quoted + rows:
        sheet.append(row)
    sheet.append(["z", 5.0, date(2026, 3, 1), datetime(2026, 3, 1), None, "right of the header"])  # ragged
    sheet.append(["last", 6.0, date(2026, 3, 2), datetime(2026, 3, 2), False])
    for cell in sheet["C"][1:]:
        cell.number_format = "yyyy-mm-dd"
    book.save(path)


def _expected(path: Path) -> tuple[list[list[str]], list[int]]:
    """What the working file must hold: calamine's rows as cell_text, empty rows out, ragged ones as they are."""
    with python_calamine.CalamineWorkbook.from_path(str(path)) as book:
        rows = list(book.get_sheet_by_index(0).iter_rows())
    records, numbers = [], []
    for number, cells in enumerate(rows, start=1):
        texts = [cell_text(value) for value in cells]
        if not any(texts):
            continue
        if number > 1 and any(texts[len(HEADER) :]):
            while not texts[-1]:
                texts.pop()
        else:
            texts = (texts + [""] * len(HEADER))[: len(HEADER)]
        records.append(texts)
        numbers.append(number)
    return records, numbers[1:]


@pytest.mark.parametrize("block_rows", [2, 3, 20_000], ids=lambda rows: f"blocks-of-{rows}")
@pytest.mark.parametrize(
    "split,threads,held",
    [(False, 1, 2), (True, 1, 1), (True, 1, 2), (True, 2, 3)],
    ids=["whole-sheet", "in-parts-one-at-a-time", "in-parts-one-ahead", "in-parts-two-threads"],
)
def test_workbook_conversion_writes_every_cell_as_cell_text(
    tmp_path, settings, monkeypatch, block_rows, split, threads, held
):
    settings.IMPORT_WORK_DIR = str(tmp_path / "work")
    path = tmp_path / "tricky.xlsx"
    _tricky_workbook(path)
    monkeypatch.setattr(workbooks, "_BLOCK_ROWS", block_rows)
    monkeypatch.setattr(workbooks, "PART_THREADS", threads)
    monkeypatch.setattr(workbooks, "PARTS_HELD", held)
    if split:
        monkeypatch.setattr(workbooks, "SPLIT_BYTES", 1)
        monkeypatch.setattr(workbooks, "PART_BYTES", 300)
    records, numbers = _expected(path)
    source = workbook_convert(path=path, name=path.name, sheet=None)
    try:
        with open(source.working, encoding="utf-8", newline="") as working:
            written = list(csv.reader(working))
        assert written == records
        assert np.asarray(workbook_row_numbers(source)).tolist() == numbers
        assert source.records == len(records) - 1
    finally:
        workbook_release(source)
    assert not list((tmp_path / "work" / "sheets").iterdir())  # no part workbook or template left behind
    # The oracle itself holds what the rules promise.
    assert records[1] == ["plain", "1", "2026-10-03", "2026-10-03 08:15:00", "7"]
    assert records[3][1:4] == ["0.000015", "9999-12-31", "9999-12-31 23:59:59"]
    assert records[8][3] == "2026-02-01 08:00:00.250000"
    assert 5 not in numbers  # the wholly empty row


def test_workbook_number_column_text_is_number_text_at_every_magnitude():
    rng = np.random.default_rng(7)
    numbers = np.concatenate(
        [
            rng.normal(0, 1e6, 20_000).round(2),  # amounts
            rng.normal(0, 1, 5_000),  # all 17 digits
            10.0 ** rng.uniform(-12, 22, 5_000) * rng.choice([-1.0, 1.0], 5_000),
            [0.1 + 0.2, 1.1000000000000001, 1.5e-05, 1e-7, 1e16, 1e21, 2.0**53 + 2, 2.0**63, 5e-324],
            [0.0, -0.0, 28626452750.40234, 123456.789, float("nan"), float("inf"), float("-inf")],
        ]
    )
    assert workbooks._numbers_text(numbers).to_pylist() == [number_text(float(value)) for value in numbers]


def test_workbook_csv_lines_refuse_a_missing_value_rather_than_drop_its_row():
    text = pa.large_string()
    lines = workbooks._csv_lines([pa.array(["a", "b,c"], type=text), pa.array(["1", 'say "hi"'], type=text)])
    assert bytes(lines) == b'a,1\n"b,c","say ""hi"""\n'
    with pytest.raises(ValueError):
        workbooks._csv_lines([pa.array(["a", None], type=text)])


def _sheet_corrupted(path: Path, target: Path, cell: bytes) -> None:
    """A copy of the workbook whose sheet XML has a stray closing tag in `cell` (calamine refuses the XML)."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w") as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                start = data.index(b'<c r="' + cell + b'"')
                end = data.index(b"</c>", start)
                data = data[:end] + b"</x>" + data[end:]
            out.writestr(info, data)


@pytest.mark.parametrize("threads,held", [(1, 1), (1, 2), (2, 3)])
def test_workbook_conversion_of_a_part_calamine_refuses_fails_the_file_and_leaves_nothing(
    tmp_path, settings, monkeypatch, threads, held
):
    """A part refused late in the sheet (parts cut and opened ahead of it): the file is unreadable, no working
    file, part workbook or template is left, and the threads are gone."""
    settings.IMPORT_WORK_DIR = str(tmp_path / "work")
    good = tmp_path / "tricky.xlsx"
    _tricky_workbook(good)
    path = tmp_path / "corrupt.xlsx"
    _sheet_corrupted(good, path, b"B19")
    monkeypatch.setattr(workbooks, "SPLIT_BYTES", 1)
    monkeypatch.setattr(workbooks, "PART_BYTES", 300)
    monkeypatch.setattr(workbooks, "PART_THREADS", threads)
    monkeypatch.setattr(workbooks, "PARTS_HELD", held)
    with pytest.raises(ReadError) as raised:
        workbook_convert(path=path, name=path.name, sheet=None)
    assert raised.value.code == "unreadable"
    assert "corrupt.xlsx could not be read as a workbook" in str(raised.value)
    assert not list((tmp_path / "work" / "sheets").iterdir())


class _FakePart:
    """Stands for a part workbook: open() takes a while (as calamine's parse does), then the caller reads it."""

    def __init__(self, number: int, ledger: dict, *, fails: bool = False) -> None:
        self.number, self.ledger, self.fails = number, ledger, fails
        self.closed = False

    def open(self) -> None:
        with self.ledger["lock"]:
            self.ledger["open"] += 1
            self.ledger["most"] = max(self.ledger["most"], self.ledger["open"])
        clock.sleep(random.uniform(0, 0.01))
        if self.fails:
            raise ValueError(f"part {self.number} is refused")

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        assert not self.closed, "a part closed twice"
        self.closed = True
        with self.ledger["lock"]:
            self.ledger["open"] -= 1


def _fake_parts(count: int, *, fails_at: int | None = None, cut_fails_at: int | None = None):
    ledger = {"lock": threading.Lock(), "open": 0, "most": 0, "made": []}

    def parts():
        for number in range(count):
            if number == cut_fails_at:
                raise OSError(f"cutting part {number} failed")
            part = _FakePart(number, ledger, fails=number == fails_at)
            ledger["made"].append(part)
            yield part

    return ledger, parts()


@pytest.mark.parametrize("threads,held", [(1, 1), (1, 2), (2, 3), (3, 5)])
def test_workbook_parts_ahead_come_in_order_and_never_more_held_than_allowed(threads, held):
    random.seed(threads * 10 + held)
    ledger, parts = _fake_parts(40)
    seen = []
    for part in workbooks._ahead(parts, threads=threads, held=held):
        with part:
            seen.append(part.number)
            clock.sleep(random.uniform(0, 0.005))
    assert seen == list(range(40))
    assert 1 <= ledger["most"] <= held
    assert ledger["open"] == 0 and all(part.closed for part in ledger["made"])
    assert not [t for t in threading.enumerate() if t.name.startswith(("sheet-cut", "sheet-part"))]


@pytest.mark.parametrize("threads,held", [(1, 2), (2, 3)])
def test_workbook_parts_ahead_a_failure_is_raised_in_order_and_every_part_is_closed(threads, held):
    ledger, parts = _fake_parts(20, fails_at=6)
    seen = []
    with pytest.raises(ValueError, match="part 6 is refused"):
        for part in workbooks._ahead(parts, threads=threads, held=held):
            with part:
                seen.append(part.number)
    assert seen == [0, 1, 2, 3, 4, 5]  # the parts before the refused one were all read, in order
    assert ledger["open"] == 0 and all(part.closed for part in ledger["made"])
    assert len(ledger["made"]) <= 6 + held  # nothing cut far ahead of the failure

    ledger, parts = _fake_parts(20, cut_fails_at=4)
    with pytest.raises(OSError, match="cutting part 4 failed"):
        for part in workbooks._ahead(parts, threads=threads, held=held):
            with part:
                pass
    assert ledger["open"] == 0 and all(part.closed for part in ledger["made"])


def test_workbook_parts_ahead_a_caller_that_stops_early_leaves_no_part_open():
    ledger, parts = _fake_parts(30)
    ahead = workbooks._ahead(parts, threads=2, held=3)
    with pytest.raises(RuntimeError):
        for part in ahead:
            with part:
                if part.number == 2:
                    raise RuntimeError("the writer failed")
    ahead.close()
    assert ledger["open"] == 0 and all(part.closed for part in ledger["made"])
    assert not [t for t in threading.enumerate() if t.name.startswith(("sheet-cut", "sheet-part"))]


def test_workbook_converter_process_never_loads_pandas(tmp_path):
    """pyarrow would import pandas (40 MB) on the first value it converts; the converter's process keeps it out
    and still converts every kind of cell."""
    path = tmp_path / "tricky.xlsx"
    _tricky_workbook(path)
    spec = {
        "path": str(path),
        "sheet": "",
        "working": str(tmp_path / "out.csv"),
        "meta": str(tmp_path / "out.json"),
        "rows": str(tmp_path / "out.rows"),
        "split_bytes": 1,
        "part_bytes": 300,
        "block_rows": 3,
        "threads": 1,
        "held": 2,
    }
    code = "import json, sys; from imports.services.workbooks import child_main; child_main(); print(json.dumps(list(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        check=True,
        cwd=str(Path(workbooks.__file__).resolve().parents[2]),
    )
    modules = json.loads(done.stdout)
    assert "pyarrow" in modules and "python_calamine" in modules
    assert not [name for name in modules if name.split(".")[0] == "pandas"]
    records, _ = _expected(path)
    with open(tmp_path / "out.csv", encoding="utf-8", newline="") as working:
        assert list(csv.reader(working)) == records
    assert json.loads((tmp_path / "out.json").read_text())["records"] == len(records) - 1
