"""Unique tables: on_duplicate update (in place), skip and reject, for keys in the table and repeated in the file;
exact counts on every load path; previous values kept for revert; every server warning read."""

from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import pytest
from django.db import DataError, connection, transaction

from imports.models import RowVersion
from imports.services.loading import (
    ChunkWriteResult,
    ServerChangedValues,
    job_rows_undo,
    table_writer_open,
)
from tableconfig.schema import ColumnSpec, table_schema_sync

db_tx = pytest.mark.django_db(transaction=True)

JOB_AT = datetime(2026, 11, 1, 8, 30, 15, tzinfo=UTC)
PRODUCTS = [
    ColumnSpec("sku", "str", max_length=20, is_unique=True),
    ColumnSpec("name", "str", max_length=50),
    ColumnSpec("price", "decimal", decimal_digits=18, decimal_places=4),
]
COLUMNS = [s.name for s in PRODUCTS]


@pytest.fixture
def products():
    table_schema_sync(table_name="products", specs=PRODUCTS)
    return "products"


def _write(chunks, *, job_id, policy="update", columns=COLUMNS, update_columns=None, unique=("sku",)):
    results = []
    with transaction.atomic():
        with table_writer_open(
            table_name="products",
            columns=columns,
            unique_columns=list(unique),
            job_id=job_id,
            imported_at=JOB_AT,
            on_duplicate=policy,
            update_columns=update_columns,
        ) as writer:
            for rows in chunks:
                frame = pd.DataFrame(rows, columns=columns, dtype=object)
                results.append(writer.chunk_write(frame=frame))
    return results


def _rows() -> dict[str, tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, sku, name, price, import_job_id FROM products ORDER BY id")
        return {
            sku: (row_id, name, None if price is None else Decimal(str(price)), job)
            for row_id, sku, name, price, job in cursor.fetchall()
        }


@db_tx
def test_update_in_place_keeps_the_row_id_and_the_columns_the_file_did_not_carry(load_mode, products):
    _write([[("A-1", "Apple", "1.0000"), ("B-2", "Pear", "2.0000")]], job_id=1)
    before = _rows()

    # The second file carries sku and price only: name must stay as it was.
    results = _write(
        [[("A-1", None, "1.5000"), ("C-3", None, "3.0000")]], job_id=2, update_columns=["sku", "price"]
    )

    after = _rows()
    assert results == [ChunkWriteResult(inserted=1, updated=1)]
    assert after["A-1"] == (before["A-1"][0], "Apple", Decimal("1.5000"), 2)
    assert after["B-2"] == before["B-2"]
    assert after["C-3"][1:] == (None, Decimal("3.0000"), 2)


@db_tx
def test_update_saves_the_previous_values_once_per_row(load_mode, products):
    _write([[("A-1", "Apple", "12345678901234.5678")]], job_id=1)
    # The same key twice in the second file, in two chunks: one version, of the value before the job.
    _write([[("A-1", "Apple 2", "1.0000")], [("A-1", "Apple 3", "2.0000")]], job_id=2)

    versions = list(RowVersion.objects.filter(job_id=2).values_list("previous_job_id", "data"))
    assert len(versions) == 1
    assert versions[0][0] == 1
    assert '"12345678901234.5678' in versions[0][1] and "Apple" in versions[0][1]
    assert _rows()["A-1"][1:] == ("Apple 3", Decimal("2.0000"), 2)


@db_tx
def test_undo_restores_updated_rows_and_deletes_inserted_ones(load_mode, products):
    _write([[("A-1", "Apple", "12345678901234.5678"), ("B-2", "Pear", None)]], job_id=1)
    before = _rows()
    _write([[("A-1", "Changed", "-0.0001"), ("B-2", None, "9.9900"), ("C-3", "New", "1.0000")]], job_id=2)

    with transaction.atomic():
        restored, deleted = job_rows_undo(table_name="products", job_id=2)

    assert (restored, deleted) == (2, 1)
    assert _rows() == before
    assert not RowVersion.objects.filter(job_id=2).exists()


@db_tx
def test_skip_keeps_existing_rows_and_the_first_repeat(load_mode, products):
    _write([[("A-1", "Apple", "1.0000")]], job_id=1)
    before = _rows()

    results = _write(
        [[("A-1", "Other", "9.0000"), ("B-2", "First", "2.0000"), ("B-2", "Second", "3.0000")]],
        job_id=2,
        policy="skip",
    )

    assert results == [ChunkWriteResult(inserted=1, skipped=1, repeated=1)]
    after = _rows()
    assert after["A-1"] == before["A-1"]
    assert after["B-2"][1:] == ("First", Decimal("2.0000"), 2)
    assert not RowVersion.objects.exists()


@db_tx
def test_reject_refuses_existing_keys_and_repeats_with_their_reason(load_mode, products):
    _write([[("A-1", "Apple", "1.0000")]], job_id=1)
    before = _rows()

    results = _write(
        [
            [("A-1", "Other", "9.0000"), ("B-2", "First", "2.0000"), ("B-2", "Second", "3.0000")],
            [("B-2", "Third", "4.0000")],
        ],
        job_id=2,
        policy="reject",
    )

    first, second = results
    assert (first.inserted, first.updated, first.skipped, first.repeated) == (1, 0, 0, 0)
    assert [(r.position, r.code, r.message) for r in first.refused] == [
        (0, "duplicate_key", f"sku: 'A-1' is already in products (row id {before['A-1'][0]})"),
        (2, "duplicate_key", "sku: 'B-2' repeats row 3 of this file"),
    ]
    assert [(r.position, r.message) for r in second.refused] == [
        (0, "sku: 'B-2' repeats an earlier row of this file")
    ]
    assert _rows()["A-1"] == before["A-1"]
    assert _rows()["B-2"][1] == "First"


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        pytest.param(["abc", "ABC"], 2, id="case"),
        pytest.param(["straße", "strasse", "STRASSE"], 3, id="sharp-s"),
        pytest.param(["résumé", "resume"], 2, id="accents"),
        pytest.param(["\u00e9", "e\u0301"], 2, id="nfc-nfd"),
        pytest.param(["a", "a "], 2, id="trailing-space"),
    ],
)
@db_tx
def test_keys_differing_only_in_case_accents_or_normalisation_are_different_rows(
    load_mode, products, keys, expected
):
    results = _write([[(key, key, "1") for key in keys]], job_id=1)

    assert results == [ChunkWriteResult(inserted=expected)]
    assert sorted(_rows()) == sorted(keys)


@db_tx
def test_a_row_naming_two_existing_rows_is_refused(load_mode):
    specs = [
        ColumnSpec("sku", "str", max_length=20, is_unique=True),
        ColumnSpec("ean", "str", max_length=20, is_unique=True),
    ]
    table_schema_sync(table_name="products", specs=specs)
    _write([[("A-1", "111"), ("B-2", "222")]], job_id=1, columns=["sku", "ean"], unique=("sku", "ean"))

    (result,) = _write(
        [[("A-1", "222"), ("C-3", "333")]], job_id=2, columns=["sku", "ean"], unique=("sku", "ean")
    )

    assert result.inserted == 1 and result.updated == 0
    assert [(r.position, r.code) for r in result.refused] == [(0, "duplicate_key")]


@db_tx
def test_more_than_64_server_warnings_are_all_read(mysql_only, load_mode, products):
    # 70 values the server rounds (notes), then one it would cut. LOAD DATA LOCAL reports all 71 as warnings;
    # INSERT (strict mode) refuses the cut value outright.
    rows = [(f"K-{i}", "x", "1.00001") for i in range(70)] + [("K-70", "y" * 51, "1")]

    expected = ServerChangedValues if load_mode == "on" else DataError
    with pytest.raises(expected) as failure:
        _write([rows], job_id=1, unique=())

    if load_mode == "on":
        assert "row 2, column price" in failure.value.message
        assert "(and 61 more)" in failure.value.message
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM products")
        assert cursor.fetchone()[0] == 0


@db_tx
def test_a_rounding_note_fails_the_file_on_every_mysql_path(mysql_only, load_mode, products):
    with pytest.raises(ServerChangedValues, match=r"row 3, column price: .*Note 1265"):
        _write([[("A", "x", "1"), ("B", "x", "1.00001")]], job_id=1, unique=())
