"""Row-error messages name the file's own header and the column (`DO Date (dotanggal): ...`), the name once
when they are the same; and the one neutralising rule shared by the data exports and the rejected-rows CSV."""

import numpy as np
import pandas as pd
import pytest

from imports.services.export import cell_neutralize
from imports.services.matching import headers_map, table_columns
from imports.services.validation import ColumnRule, chunk_validate


def _message(rule: ColumnRule, value: str) -> str:
    frame = pd.DataFrame({"source": [value]}, dtype="str")
    (error,) = chunk_validate(frame=frame, row_numbers=np.array([2]), rules=[rule]).errors
    return error.message


@pytest.mark.parametrize(
    ("rule", "value", "message"),
    [
        pytest.param(
            ColumnRule("dotanggal", "date", date_formats=("%d/%m/%Y",), source="source", header="DO Date"),
            "31/02/2026",
            "DO Date (dotanggal): '31/02/2026' is not a real date (February 2026 has 28 days)",
            id="header-and-column",
        ),
        pytest.param(
            ColumnRule("qty", "int", source="source", header="qty"),
            "ten",
            "qty: 'ten' is not a whole number",
            id="same-name-once",
        ),
        pytest.param(
            ColumnRule("qty", "int", source="source"),
            "ten",
            "qty: 'ten' is not a whole number",
            id="no-header-known",
        ),
        pytest.param(
            ColumnRule("sku", "str", max_length=3, source="source", header="Kode Barang"),
            "ABCDE",
            "Kode Barang (sku): 5 characters, more than the 3 allowed",
            id="too-long",
        ),
        pytest.param(
            ColumnRule("active", "bool", source="source", header="Aktif"),
            "\x00",
            "Aktif (active): the value contains a NUL byte (\\x00)",
            id="nul-byte",
        ),
    ],
)
def test_row_error_names_the_files_header_and_the_column(rule, value, message):
    assert _message(rule, value) == message


def test_missing_value_names_the_header_too():
    rule = ColumnRule("qty", "int", is_mandatory=True, source="source", header="Quantity")
    assert _message(rule, "") == "Quantity (qty): a value is required"


@pytest.mark.django_db(transaction=True)
def test_headers_map_gives_each_rule_the_header_as_the_file_spells_it(demo_tables):
    from tableconfig.models import ImportTable

    table = ImportTable.objects.get(table_name="sales")
    mapping = headers_map(
        columns=table_columns(table),
        headers=["distid", "do_date", "quantity"],
        table=table,
        file_headers=["DistID", "DO Date", "Quantity"],
    )
    labels = {rule.name: rule.label for rule in mapping.rules}
    assert labels["dotanggal"] == "DO Date (dotanggal)"
    assert labels["qty"] == "Quantity (qty)"
    assert labels["distid"] == "DistID (distid)"
    assert labels["sku"] == "sku"  # not in the file: the column's name


@pytest.mark.parametrize(
    ("value", "neutralised"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("+1", "'+1"),
        ("-2", "-2"),
        ("-1,234.50", "-1,234.50"),
        ("-x", "'-x"),
        ("-3 apples", "'-3 apples"),
        ("-", "'-"),
        ("\tTAB", "'\tTAB"),
        ("\rCR", "'\rCR"),
        ("\nLF", "\nLF"),
        ("plain", "plain"),
        ("", ""),
    ],
    ids=repr,
)
def test_cell_neutralize_is_one_rule(value, neutralised):
    assert cell_neutralize(value) == neutralised
