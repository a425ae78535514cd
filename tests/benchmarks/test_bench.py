"""The benchmark command: it measures everything it names, imports every row, and leaves no trace behind.

Timings are never asserted: they are the report's business, not the tests'."""

import csv
import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from benchmarks.bench import SALES_COLUMNS, sales_file_of_size, sales_file_write, sizes_parse
from imports.models import Distributor
from tests.imports.conftest import table_rows

from .conftest import NOTHING_LEFT, leftovers

EXPECTED = {
    "mysql": [
        "engine full import",
        "engine submit (store + quick validation)",
        "LOAD DATA LOCAL INFILE, same file",
        "Django bulk_create (batch 5,000)",
        "quick validation 10 MB: head checks",
        "quick validation 10 MB: with row count",
    ],
    "sqlite": [
        "engine full import",
        "engine submit (store + quick validation)",
        "executemany, plain INSERT",
        "Django bulk_create (batch 5,000)",
        "quick validation 10 MB: head checks",
        "quick validation 10 MB: with row count",
    ],
}


@pytest.mark.parametrize(
    ("text", "sizes"),
    [
        ("10MB,1GB", [10 * 1024**2, 1024**3]),
        (" 512 kb , 1.5GB", [512 * 1024, int(1.5 * 1024**3)]),
        ("none", []),
        ("", []),
    ],
    ids=["default", "spaces-lowercase-fraction", "none", "empty"],
)
def test_sizes_parse_reads_binary_units(text, sizes):
    assert sizes_parse(text) == sizes


@pytest.mark.parametrize(
    "text", ["10", "10TB", "ten MB", "10MB;1GB"], ids=["no-unit", "tb", "words", "semicolon"]
)
def test_sizes_parse_refuses_what_is_not_a_size(text):
    with pytest.raises(ValueError, match="is not a size"):
        sizes_parse(text)


def test_sales_file_write_is_a_realistic_sales_export(tmp_path):
    path = tmp_path / "sales.csv"
    size = sales_file_write(path=path, rows=30_000)
    with path.open(newline="", encoding="utf-8") as handle:
        records = list(csv.reader(handle))
    assert records[0] == list(SALES_COLUMNS)
    data = records[1:]
    assert len(data) == 30_000
    assert 70 <= size / len(data) <= 90
    assert {len(r) for r in data} == {8}
    assert len({r[0] for r in data}) == 40
    assert any(r[4].startswith("00") for r in data)  # SKUs keep their leading zeros
    assert any(r[1].endswith(",R") and r[5].startswith("-") for r in data)  # quoted returns
    assert all(r[2][4] == "-" and r[7][4] == "-" for r in data)  # ISO dates
    assert all(len(r[6].rsplit(".", 1)[1]) == 2 for r in data)
    again = tmp_path / "again.csv"
    sales_file_write(path=again, rows=30_000)
    assert again.read_bytes() == path.read_bytes()  # the same rows on every run


def test_sales_file_of_size_writes_whole_lines_up_to_the_size(tmp_path):
    path = tmp_path / "quick.csv"
    rows = sales_file_of_size(path=path, size=3 * 1024**2)
    content = path.read_bytes()
    assert 3 * 1024**2 - 100 < len(content) <= 3 * 1024**2
    assert content.endswith(b"\n")
    assert content.count(b"\n") == rows + 1


def test_bench_import_measures_everything_and_leaves_no_trace(tmp_path, user_sales, settings):
    for key in ("UPLOAD_DIR", "ARCHIVE_DIR", "MEDIA_ROOT", "IMPORT_WORK_DIR"):
        setattr(settings, key, tmp_path / "user" / key.lower())
    # An installation with distributors: its users' uploads must name one; the benchmark's own need not.
    Distributor.objects.create(code="31001", name="A user's distributor")
    before = user_sales()
    out, figures_path = StringIO(), tmp_path / "figures.json"

    call_command(
        "bench_import",
        rows=20_000,
        quick_sizes="10MB",
        json=str(figures_path),
        dir=str(tmp_path / "bench"),
        stdout=out,
        stderr=StringIO(),
    )

    report = out.getvalue()
    for name in EXPECTED[connection.vendor]:
        assert name in report
    for column in ("rows/s", "peak RSS MB", "goal", "result"):
        assert column in report
    assert re.search(r"the engine imported into bench_[0-9a-f]{8}_sales", report)
    figures = json.loads(figures_path.read_text())
    measured = {m["key"]: m for m in figures["measurements"]}
    assert measured["engine"]["rows"] == 20_000
    assert measured["engine"]["peak_rss_mb"] > 0
    assert [g["result"] for g in measured["engine"]["goals"]][1] in ("PASS", "MISS")
    assert measured["quick_head_10 MB"]["rows"] > 100_000
    assert figures["load_method"].startswith(connection.vendor)
    # The user's table (rows, ids, values, unique column) and configuration are as they were.
    assert user_sales() == before
    assert table_rows("sales", "dono, qty") == [("DO-USER-1", 7), ("DO-USER-2", -2), ("DO-USER-3", 11)]
    # The benchmark's configuration, tables, jobs, batches and files are gone.
    assert leftovers(tmp_path / "user") == NOTHING_LEFT
    assert list((tmp_path / "bench").iterdir()) == []
    assert list(Distributor.objects.values_list("code", flat=True)) == ["31001"]


def test_bench_import_refuses_a_bad_size():
    with pytest.raises(CommandError, match="'10 parsecs' is not a size"):
        call_command("bench_import", rows=10, quick_sizes="10 parsecs")
