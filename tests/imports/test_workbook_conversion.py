"""A sheet's conversion to the CSV working file: every cell's text is cell_text's, whatever path writes it.

The converter formats whole columns at once (numpy, Arrow) and writes a block with Arrow's CSV writer when no
value needs quoting; the oracle here is python-calamine's own rows put through cell_text one cell at a time.
"""

import csv
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import openpyxl
import pyarrow as pa
import pytest
import python_calamine

from imports.services import workbooks
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
@pytest.mark.parametrize("split", [False, True], ids=["whole-sheet", "in-parts"])
def test_workbook_conversion_writes_every_cell_as_cell_text(
    tmp_path, settings, monkeypatch, block_rows, split
):
    settings.IMPORT_WORK_DIR = str(tmp_path / "work")
    path = tmp_path / "tricky.xlsx"
    _tricky_workbook(path)
    monkeypatch.setattr(workbooks, "_BLOCK_ROWS", block_rows)
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
