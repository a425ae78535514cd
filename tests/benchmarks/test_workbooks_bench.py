"""The benchmark's .xlsx case, run small: the sheet it writes is a real workbook, and the case measures its
import against the reader's raw read and leaves nothing behind. Timings are never asserted."""

import json
import re
from io import StringIO

import pytest
from django.core.management import call_command

from benchmarks.bench import sales_rows_generate, sales_xlsx_write
from imports.services.workbooks import cell_text

from .conftest import NOTHING_LEFT, leftovers


def test_sales_xlsx_write_holds_the_generated_rows_as_excel_cells(tmp_path):
    import csv
    import io

    import python_calamine

    path = tmp_path / "sales.xlsx"
    sales_xlsx_write(path=path, rows=600)
    with python_calamine.CalamineWorkbook.from_path(str(path)) as workbook:
        rows = list(workbook.get_sheet_by_index(0).iter_rows())
    expected = list(csv.reader(io.StringIO(sales_rows_generate(rows=600).decode())))
    assert [cell_text(v) for v in rows[0]] == [
        "distid",
        "dono",
        "dotanggal",
        "custid",
        "sku",
        "qty",
        "amount_jual",
        "exportdate",
    ]
    assert len(rows) == 601
    for cells, text in zip(rows[1:], expected, strict=True):
        got = [cell_text(v) for v in cells]
        # Amounts are number cells: 1250.50 is stored, and read back, as 1250.5.
        assert got[:6] == text[:6] and got[7] == text[7]
        assert float(got[6]) == float(text[6])
    # Dates are date cells, not text.
    assert type(rows[1][2]).__name__ == "date" and type(rows[1][7]).__name__ == "datetime"


@pytest.mark.django_db(transaction=True)
def test_bench_import_xlsx_case_measures_the_import_against_the_raw_read(tmp_path, settings):
    for key in ("UPLOAD_DIR", "ARCHIVE_DIR", "MEDIA_ROOT", "IMPORT_WORK_DIR"):
        setattr(settings, key, tmp_path / "user" / key.lower())
    out, figures_path = StringIO(), tmp_path / "figures.json"
    call_command(
        "bench_import",
        rows=500,
        quick_sizes="none",
        skip_slow=True,
        xlsx_rows=2_000,
        json=str(figures_path),
        dir=str(tmp_path / "bench"),
        stdout=out,
        stderr=StringIO(),
    )
    report = out.getvalue()
    assert "xlsx: python-calamine raw read of the sheet" in report
    assert "xlsx: engine (submit + import; ratio vs raw read)" in report
    measured = {m["key"]: m for m in json.loads(figures_path.read_text())["measurements"]}
    assert measured["xlsx_raw"]["rows"] == 2_000
    # The raw read ran before and after the import; the ratio uses the faster run.
    raw_runs = re.search(
        r"The raw read is the faster of its runs before and after the import \(([^)]*) s\)", report
    )
    assert raw_runs is not None, report
    assert measured["xlsx_raw"]["seconds"] == pytest.approx(
        min(float(t) for t in raw_runs.group(1).split(", ")), abs=0.006
    )
    assert len(raw_runs.group(1).split(", ")) == 2
    assert measured["xlsx_engine"]["rows"] == 2_000
    assert measured["xlsx_engine"]["ratio"] > 0
    assert measured["xlsx_conversion"]["rows"] == 2_000
    assert measured["xlsx_conversion"]["peak_rss_mb"] > 0
    goals = {g["text"]: g["result"] for g in measured["xlsx_engine"]["goals"]}
    assert set(goals) == {">= 50% of the raw read", "peak RSS <= 300 MB"}
    assert set(goals.values()) <= {"PASS", "MISS"}
    assert leftovers(tmp_path / "user") == NOTHING_LEFT
    assert list((tmp_path / "bench").iterdir()) == []
