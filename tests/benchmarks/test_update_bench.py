"""The benchmark's update-path case (--update-rows), run small: a file whose every key is already in a unique
table, the engine updating each row in place against LOAD DATA ... REPLACE; MySQL/MariaDB only. Timings are
never asserted."""

import csv
import io
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from benchmarks import bench
from benchmarks.bench import sales_rows_generate
from tests.imports.conftest import table_rows

from .conftest import NOTHING_LEFT, leftovers

ROWS = 2_000


def _records(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode())))


def test_sales_rows_generate_unique_keys_are_the_same_in_every_seed_and_the_values_differ():
    first = _records(sales_rows_generate(rows=3_000, first=6_000, unique_keys=True))
    other = _records(sales_rows_generate(rows=3_000, first=6_000, seed=2, unique_keys=True))

    keys = [r[1] for r in first]
    assert keys[:2] == ["DO000006001", "DO000006002"] and len(set(keys)) == 3_000
    assert [r[1] for r in other] == keys
    # Distributor, date and customer follow the row; SKU, quantity, amount and export time change.
    assert [r[0] for r in other] == [r[0] for r in first]
    assert sum(a[4:] != b[4:] for a, b in zip(first, other, strict=True)) > 2_990
    assert any(r[5].startswith("-") for r in first)  # returns are still there
    # Without it, the file is the one the other figures are measured on.
    plain = _records(sales_rows_generate(rows=3_000, first=6_000))
    assert [r[2:] for r in plain] == [r[2:] for r in first]
    assert any(r[1].endswith(",R") for r in plain)


@pytest.mark.django_db(transaction=True)
def test_bench_import_update_rows_updates_every_row_in_place_and_leaves_no_trace(
    mysql_only, tmp_path, user_sales, settings, monkeypatch
):
    for key in ("UPLOAD_DIR", "ARCHIVE_DIR", "MEDIA_ROOT", "IMPORT_WORK_DIR"):
        setattr(settings, key, tmp_path / "user" / key.lower())
    before_user = user_sales()
    # The engine's table as the benchmark fingerprints it, before and after the measured import.
    seen = []
    fingerprint = bench.table_fingerprint

    def recorded(table):
        seen.append((table, table_rows(table, "id, dono, sku, qty, amount_jual")))
        return fingerprint(table)

    monkeypatch.setattr(bench, "table_fingerprint", recorded)
    out, figures_path = StringIO(), tmp_path / "figures.json"

    call_command(
        "bench_import",
        rows=2_000,
        quick_sizes="none",
        skip_slow=True,
        update_rows=ROWS,
        json=str(figures_path),
        dir=str(tmp_path / "bench"),
        stdout=out,
        stderr=StringIO(),
    )

    report = out.getvalue()
    assert "engine update in place" in report and "LOAD DATA REPLACE, same file" in report
    assert ">= 60% of LOAD DATA REPLACE" in report
    figures = json.loads(figures_path.read_text())
    measured = {m["key"]: m for m in figures["measurements"]}
    engine, baseline = measured["update_engine"], measured["update_baseline_load_data_replace"]
    assert engine["rows"] == ROWS and baseline["rows"] == ROWS
    assert engine["goals"][0]["result"] in ("PASS", "MISS")
    assert engine["checks"]["updated_count"] == ROWS and engine["checks"]["inserted_count"] == 0
    assert engine["checks"]["ids_before"] == engine["checks"]["ids_after"]
    assert engine["checks"]["values_after"] == engine["checks"]["values_load_data_replace"]
    # Every row kept its id and key and took the measured file's values.
    (table, rows_before), (again, rows_after) = seen
    assert table == again and table.endswith("_upd")
    assert len(rows_after) == ROWS
    assert [r[:2] for r in rows_after] == [r[:2] for r in rows_before]
    assert sum(a[2:] != b[2:] for a, b in zip(rows_before, rows_after, strict=True)) > ROWS - 10
    expected = {r[1]: (r[4], int(r[5])) for r in _records(sales_rows_generate(rows=ROWS, unique_keys=True))}
    assert {dono: (sku, qty) for _, dono, sku, qty, _ in rows_after} == expected
    # The user's table is as it was; the run's scratch (both configurations, every table) is gone.
    assert user_sales() == before_user
    assert leftovers(tmp_path / "user") == NOTHING_LEFT
    assert list((tmp_path / "bench").iterdir()) == []


@pytest.mark.django_db(transaction=True)
def test_bench_import_update_rows_on_sqlite_says_it_is_mysql_only(tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite wording of the update-path case")
    out = StringIO()

    call_command(
        "bench_import",
        rows=1_000,
        quick_sizes="none",
        skip_slow=True,
        update_rows=ROWS,
        dir=str(tmp_path / "bench"),
        stdout=out,
        stderr=StringIO(),
    )

    report = out.getvalue()
    assert "engine update in place" in report and "n/a on SQLite" in report
    assert "The update path's case (--update-rows) runs on MySQL/MariaDB only" in report
    assert leftovers() == NOTHING_LEFT
